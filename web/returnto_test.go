package web

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
)

func TestSafeReturnTo(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"/account", "/account"},
		{"/oidc/authorize?client_id=ris&state=x%2Fy", "/oidc/authorize?client_id=ris&state=x%2Fy"},
		{"/", "/"},
		{"/a/b#frag", "/a/b#frag"},
		{"", defaultReturnTo},
		{"account", defaultReturnTo},
		{"//evil.example/", defaultReturnTo},
		{"/\\evil.example/", defaultReturnTo},
		{"\\\\evil.example", defaultReturnTo},
		{"https://evil.example/", defaultReturnTo},
		{"javascript:alert(1)", defaultReturnTo},
		{"/%2fevil.example", defaultReturnTo},
		{"/%5Cevil.example", defaultReturnTo},
		{"/a\\b", defaultReturnTo},
		{"/a\nLocation: x", defaultReturnTo},
		{"/a\tb", defaultReturnTo},
		{"/a b", defaultReturnTo},
		{"/\u202egnp.exe", defaultReturnTo},
		{"/\xff", defaultReturnTo},
		{"/" + strings.Repeat("a", maxReturnTo), defaultReturnTo},
	}
	for _, tt := range tests {
		if got := safeReturnTo(tt.in); got != tt.want {
			t.Errorf("safeReturnTo(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzSafeReturnTo checks that whatever comes in, what goes out resolves,
// against the public URL, to the public URL's own host: no open redirect.
func FuzzSafeReturnTo(f *testing.F) {
	for _, s := range []string{"/account", "//x", "/\\x", "/%2F%2Fx", "http://x", "/a?b=c#d", "/\t/x", " /x", "/ /x", "/..//x"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://login.stadt.example/")
	f.Fuzz(func(t *testing.T, s string) {
		got := safeReturnTo(s)
		if got != s && got != defaultReturnTo {
			t.Fatalf("safeReturnTo(%q) = %q: neither the input nor the default", s, got)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, "/\\") {
			t.Fatalf("safeReturnTo(%q) = %q: not a path on this server", s, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) || r == '\\' {
				t.Fatalf("safeReturnTo(%q) = %q: holds %U", s, got, r)
			}
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("safeReturnTo(%q) = %q: does not parse: %v", s, got, err)
		}
		if r := base.ResolveReference(u); r.Host != base.Host || r.Scheme != base.Scheme {
			t.Fatalf("safeReturnTo(%q) = %q leads to %s", s, got, r)
		}
		// What a browser makes of it after one more decoding must stay here too.
		if dec, err := url.PathUnescape(u.Path); err == nil && (strings.HasPrefix(dec, "//") || strings.HasPrefix(dec, "/\\")) {
			t.Fatalf("safeReturnTo(%q) = %q decodes to %q", s, got, dec)
		}
	})
}
