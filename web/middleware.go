package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// contentSecurityPolicy allows only the server's own scripts, styles and
// images (no inline code), and no framing. form-action is left out on
// purpose: browsers apply it to the redirect after a form, and sign-in ends
// with a redirect to a tool's registered address.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; frame-ancestors 'none'"

// securityHeaders sets, on every response a browser may see, the headers a
// city's auditor checks. /auth/verify sets them itself on its refusals
// only: its 200 answers a reverse proxy's subrequest, and the proxy passes
// on nothing of it but the Remote-* headers it is told to.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The escaped path, as ServeMux routes by it: /auth%2Fverify is
		// not verify (but a 404 page that needs the headers).
		if r.URL.EscapedPath() != verifyPath {
			s.setSecurityHeaders(w.Header())
		}
		next.ServeHTTP(w, r)
	})
}

// setSecurityHeaders sets the security headers in h. The value slices are
// shared and never modified, in canonical form: no allocation per request.
func (s *Server) setSecurityHeaders(h http.Header) {
	for _, kv := range securityHeaderValues {
		h[kv.key] = kv.value
	}
	if s.secure {
		h["Strict-Transport-Security"] = hstsValue
	}
}

var (
	securityHeaderValues = []struct {
		key   string
		value []string
	}{
		{"Content-Security-Policy", []string{contentSecurityPolicy}},
		{"X-Content-Type-Options", []string{"nosniff"}},
		{"X-Frame-Options", []string{"DENY"}},
		{"Cross-Origin-Opener-Policy", []string{"same-origin"}},
		{"Referrer-Policy", []string{"no-referrer"}},
		{"Permissions-Policy", []string{"camera=(), microphone=(), geolocation=(), interest-cohort=()"}},
	}
	hstsValue = []string{"max-age=63072000; includeSubDomains"}
)

// crossOrigin refuses state-changing requests that a browser marks as coming
// from another site (Sec-Fetch-Site, or Origin against Host).
func (s *Server) crossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	// Browsers without Sec-Fetch-Site are judged by Origin against Host; a
	// proxy may rewrite Host, so the public URL's origin is trusted by name.
	origin := s.publicURL.Scheme + "://" + s.publicURL.Host
	if err := cop.AddTrustedOrigin(origin); err != nil {
		s.logger.Warn("cross-origin protection: public URL is not an origin", "origin", origin, "err", err)
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.adminRefusedCrossOrigin(r)
		s.fail(w, r, http.StatusForbidden, msgCrossOrigin, errors.New("cross-origin request refused"))
	}))
	// Forward-auth only reads; a proxy asks it about any request, whatever
	// the method and origin of the request it guards.
	cop.AddInsecureBypassPattern(verifyPath)
	for _, p := range oidcBypassPatterns {
		cop.AddInsecureBypassPattern(p)
	}
	return cop.Handler(next)
}

// recoverPanics turns a panic in a handler into a logged 500, so one bad
// request cannot take the process down with it.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.fail(w, r, http.StatusInternalServerError, msgInternal, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// clientAddr returns who is asking, as text: the peer's address, or, when
// the peer is a trusted proxy, the nearest address in X-Forwarded-For that
// is not one (see ClientAddr); "" when the peer's address does not parse.
// It is worked out when a log line, an audit event or the throttle asks
// for it, not for every request.
func (s *Server) clientAddr(r *http.Request) string {
	if a := ClientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), s.proxies); a.IsValid() {
		return a.String()
	}
	return ""
}

// ClientAddr returns the client's address for a request from remoteAddr
// ("host:port") carrying the X-Forwarded-For values xff. The header is read
// right to left, skipping trusted proxies; a malformed entry stops the walk
// at the last address known to be good.
func ClientAddr(remoteAddr string, xff []string, trusted []netip.Prefix) netip.Addr {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := ap.Addr().Unmap()
	if !isTrusted(addr, trusted) {
		return addr
	}
	hops := strings.Split(strings.Join(xff, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if hop == "" {
			continue
		}
		a, err := netip.ParseAddr(hop)
		if err != nil {
			return addr
		}
		addr = a.Unmap()
		if !isTrusted(addr, trusted) {
			return addr
		}
	}
	return addr
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument wraps the handler of one route with its metrics and one log
// line per request. The line names the route pattern, never the path, so
// secrets in paths (invitation tokens) stay out of the log.
func (s *Server) instrument(pattern string, h http.HandlerFunc) http.Handler {
	var byClass [5]prometheus.Counter // the route's counter per status class, looked up once
	for i := range byClass {
		byClass[i] = s.metrics.requests.WithLabelValues(pattern, statusClass((i+1)*100))
	}
	duration := s.metrics.duration.WithLabelValues(pattern)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			// A panic in the handler becomes a 500 that is counted and
			// logged with its route.
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.fail(sw, r, http.StatusInternalServerError, msgInternal, fmt.Errorf("panic: %v", v))
			}
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			elapsed := time.Since(start)
			duration.Observe(elapsed.Seconds())
			byClass[statusIndex(sw.status)].Inc()
			// Enabled first: the attributes cost allocations even when the
			// line is not written.
			if pattern != "GET /healthz" && s.logger.Enabled(r.Context(), slog.LevelDebug) {
				s.logger.LogAttrs(r.Context(), slog.LevelDebug, "request", slog.String("route", pattern),
					slog.Int("status", sw.status), slog.Duration("took", elapsed), slog.String("client", s.clientAddr(r)))
			}
		}()
		h(sw, r)
	})
}

func statusClass(code int) string {
	return [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}[statusIndex(code)]
}

// statusIndex is 0 for 1xx … 4 for 5xx (and anything out of range clamped).
func statusIndex(code int) int { return min(max(code/100, 1), 5) - 1 }
