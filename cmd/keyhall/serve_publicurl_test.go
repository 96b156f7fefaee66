package main

import (
	"net/url"
	"strings"
	"testing"
)

func TestPublicURLWarning(t *testing.T) {
	tests := []struct {
		public, listen, want string // want: "" for no warning, else the public_url it suggests
	}{
		{"http://localhost:8080", "127.0.0.1:8080", ""},
		{"http://localhost:8080", "127.0.0.1:9000", "http://localhost:9000"},
		{"http://localhost:8080", ":8080", ""},
		{"http://localhost:8080", "0.0.0.0:8080", ""},
		{"http://localhost:8080", "[::1]:8080", ""},
		{"http://localhost:8080", "192.0.2.5:8080", "http://192.0.2.5:8080"},
		{"http://localhost", "127.0.0.1:80", ""},
		{"https://keyhall.localhost:8443", "127.0.0.1:9443", "https://keyhall.localhost:9443"},
		{"https://login.stadt.example", "127.0.0.1:8080", ""}, // a reverse proxy in front
		{"http://localhost:8080", "127.0.0.1:0", ""},          // the port is chosen at start
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.public)
		if err != nil {
			t.Fatal(err)
		}
		got := publicURLWarning(u, tt.listen)
		switch {
		case tt.want == "" && got != "":
			t.Errorf("%s with listen %s: warns %q", tt.public, tt.listen, got)
		case tt.want != "" && (!strings.Contains(got, tt.public) || !strings.Contains(got, tt.listen) || !strings.Contains(got, "to "+tt.want+",")):
			t.Errorf("%s with listen %s: %q; want a warning naming both and suggesting %s", tt.public, tt.listen, got, tt.want)
		}
	}
}
