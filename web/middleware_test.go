package web

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

func newTestServer(t *testing.T, publicURL string, proxies ...string) *Server {
	t.Helper()
	u, err := url.Parse(publicURL)
	if err != nil {
		t.Fatal(err)
	}
	var prefixes []netip.Prefix
	for _, p := range proxies {
		prefixes = append(prefixes, netip.MustParsePrefix(p))
	}
	s, err := New(Config{PublicURL: u, TrustedProxies: prefixes})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct, no header", "203.0.113.7:5000", nil, "203.0.113.7"},
		{"untrusted peer's header is ignored", "203.0.113.7:5000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"trusted proxy, one hop", "10.1.2.3:80", []string{"198.51.100.1"}, "198.51.100.1"},
		{"client cannot forge the left part", "10.1.2.3:80", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted proxies", "10.1.2.3:80", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"several header lines", "10.1.2.3:80", []string{"1.2.3.4", "198.51.100.1"}, "198.51.100.1"},
		{"garbage stops the walk at the proxy", "10.1.2.3:80", []string{"198.51.100.1, nonsense"}, "10.1.2.3"},
		{"only proxies", "10.1.2.3:80", []string{"10.4.4.4"}, "10.4.4.4"},
		{"ipv6 loopback proxy", "[::1]:80", []string{"2001:db8::1"}, "2001:db8::1"},
		{"mapped ipv4 peer", "[::ffff:203.0.113.7]:1", nil, "203.0.113.7"},
		{"unparsable remote", "pipe", nil, "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClientAddr(tt.remote, tt.xff, trusted).String(); got != tt.want {
				t.Errorf("ClientAddr = %s, want %s", got, tt.want)
			}
		})
	}
}

func FuzzClientAddr(f *testing.F) {
	f.Add("10.1.2.3:80", "198.51.100.1, 10.9.9.9")
	f.Add("[::1]:1", ",,,")
	f.Add("x", "::ffff:1.2.3.4")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		got := ClientAddr(remote, []string{xff}, trusted)
		ap, err := netip.ParseAddrPort(remote)
		if err != nil {
			if got.IsValid() {
				t.Fatalf("ClientAddr(%q, …) = %s for an unparsable peer", remote, got)
			}
			return
		}
		peer := ap.Addr().Unmap()
		if got == peer {
			return
		}
		// Anything else must be one of the header's hops, parsed, and only
		// when the peer is a trusted proxy.
		if !isTrusted(peer, trusted) {
			t.Fatalf("ClientAddr(%q, %q) = %s: believed an untrusted peer's header", remote, xff, got)
		}
		for _, hop := range strings.Split(xff, ",") {
			if a, err := netip.ParseAddr(strings.TrimSpace(hop)); err == nil && a.Unmap() == got {
				return
			}
		}
		t.Fatalf("ClientAddr(%q, %q) = %s: neither the peer nor a hop", remote, xff, got)
	})
}

func TestSecurityHeaders(t *testing.T) {
	for _, tt := range []struct {
		publicURL string
		hsts      bool
	}{{"http://localhost:8080", false}, {"https://login.stadt.example", true}} {
		t.Run(tt.publicURL, func(t *testing.T) {
			s := newTestServer(t, tt.publicURL)
			for _, path := range []string{"/healthz", "/no-such-page", "/readyz", "/auth%2Fverify"} {
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
				h := rec.Header()
				csp := h.Get("Content-Security-Policy")
				for _, want := range []string{"frame-ancestors 'none'", "default-src 'none'", "script-src 'self'"} {
					if !strings.Contains(csp, want) {
						t.Errorf("%s: CSP %q lacks %q", path, csp, want)
					}
				}
				if strings.Contains(csp, "unsafe-inline") {
					t.Errorf("%s: CSP allows inline code: %q", path, csp)
				}
				for k, v := range map[string]string{
					"X-Content-Type-Options":     "nosniff",
					"Cross-Origin-Opener-Policy": "same-origin",
					"Referrer-Policy":            "no-referrer",
				} {
					if got := h.Get(k); got != v {
						t.Errorf("%s: %s = %q, want %q", path, k, got, v)
					}
				}
				if got := h.Get("Strict-Transport-Security") != ""; got != tt.hsts {
					t.Errorf("%s: HSTS present = %v, want %v", path, got, tt.hsts)
				}
			}
		})
	}
}

func TestCrossOriginRefused(t *testing.T) {
	s := newTestServer(t, "http://localhost:8080")
	req := httptest.NewRequest("POST", "/api/session", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("cross-site POST: status %d, want 403", rec.Code)
	}
	if !strings.Contains(rec.Body.String(), "anderen Website") {
		t.Errorf("cross-site POST: body %q does not explain the refusal", rec.Body.String())
	}
}

func TestWithoutStore(t *testing.T) {
	s := newTestServer(t, "http://localhost:8080")
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 503, "/api/session": 503} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", path, nil)
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: strings.Repeat("A", 43)})
		s.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("GET %s without a database: %d, want %d", path, rec.Code, want)
		}
		if want == 503 && rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: a 503 must not be cached", path)
		}
	}
}

func TestMetrics(t *testing.T) {
	s := newTestServer(t, "http://localhost:8080")
	s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/healthz", nil))
	// Not on the public listener.
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), "keyhall_") {
		t.Errorf("GET /metrics on the public handler: %d %q, want 404", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	s.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`keyhall_http_requests_total{code="2xx",route="GET /healthz"} 1`,
		"keyhall_database_up 0",
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("/metrics Content-Type %q, want Prometheus text format", ct)
	}
}

func TestLanguage(t *testing.T) {
	for header, want := range map[string]string{
		"":                     "de",
		"de-DE,de;q=0.9":       "de",
		"en-US,en;q=0.9":       "en",
		"fr-FR, en;q=0.5":      "en",
		"fr-FR":                "de",
		"en;q=0.2, de;q=0.8":   "de",
		";;;garbage=,q=nonsen": "de",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", header)
		if got := lang(r); got != want {
			t.Errorf("lang(%q) = %s, want %s", header, got, want)
		}
	}
}

func FuzzParseSessionCookie(f *testing.F) {
	f.Add(strings.Repeat("A", 43))
	f.Add("")
	f.Add(strings.Repeat("_", 43))
	f.Add(strings.Repeat("A", 42) + "\n")
	f.Add(strings.Repeat("A", 42) + "B") // non-zero trailing bits
	f.Fuzz(func(t *testing.T, v string) {
		id, err := parseSessionCookie(v)
		if err == nil && len(id) != sessionIDLen {
			t.Fatalf("parseSessionCookie(%q) gave %d bytes", v, len(id))
		}
		// forward-auth's allocation-free reading agrees.
		h, ok := sessionCookieHash(v)
		if ok != (err == nil) || (ok && h != authn.HashSessionID(id)) {
			t.Fatalf("sessionCookieHash(%q) = %x, %v; parseSessionCookie: %x, %v", v, h, ok, id, err)
		}
	})
}
