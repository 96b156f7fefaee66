package web

import (
	"net/url"
	"strings"
	"testing"
)

func TestAllowedReturnURL(t *testing.T) {
	hosts := map[string]bool{"wiki.stadt.example": true, "stadt.example": true}
	tests := []struct {
		raw       string
		allowHTTP bool
		want      bool
	}{
		{"https://wiki.stadt.example/seite?x=1", false, true},
		{"https://stadt.example/", false, true},
		{"https://WIKI.stadt.example/", false, true},
		{"https://wiki.stadt.example:8443/a", false, true},
		{"http://wiki.stadt.example/", false, false},
		{"http://wiki.stadt.example/", true, true},
		{"//evil.example/", false, false},
		{"/\\evil.example", false, false},
		{"https://stadt.example.evil/", false, false},
		{"https://evil.example/stadt.example", false, false},
		{"https://stadt.example@evil.example/", false, false},
		{"https://user:pw@stadt.example/", false, false},
		{"javascript:alert(1)", false, false},
		{"data:text/html,hi", false, false},
		{"ftp://stadt.example/", false, false},
		{"https:stadt.example", false, false},
		{"https://stadt.example\\@evil.example/", false, false},
		{"https://stadt.example%2f@evil.example/", false, false},
		{"https://stadt.example//evil.example", false, false},
		{"https://stadt.example/\r\nLocation: x", false, false},
		{"https://other.stadt.example/", false, false},
		{"", false, false},
		{"/relative", false, false},
	}
	for _, tt := range tests {
		if got := allowedReturnURL(tt.raw, hosts, tt.allowHTTP); got != tt.want {
			t.Errorf("allowedReturnURL(%q, http=%v) = %v, want %v", tt.raw, tt.allowHTTP, got, tt.want)
		}
	}
}

func FuzzAllowedReturnURL(f *testing.F) {
	for _, s := range []string{"https://wiki.stadt.example/x", "//evil", "/\\evil", "https://stadt.example.evil"} {
		f.Add(s)
	}
	hosts := map[string]bool{"wiki.stadt.example": true}
	f.Fuzz(func(t *testing.T, raw string) {
		if !allowedReturnURL(raw, hosts, true) {
			return
		}
		// Whatever passes must be an absolute http(s) URL on an allowed host,
		// read the same way by a strict parser.
		u, err := url.Parse(raw)
		if err != nil || !hosts[strings.ToLower(u.Hostname())] || (u.Scheme != "https" && u.Scheme != "http") {
			t.Fatalf("allowed %q: host %q scheme %q err %v", raw, u.Hostname(), u.Scheme, err)
		}
		if strings.Contains(raw, "\\") || u.User != nil {
			t.Fatalf("allowed %q with a backslash or user info", raw)
		}
	})
}
