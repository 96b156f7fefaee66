package web

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore/pgtest"
)

// BenchmarkVerify is the CPU cost of one /auth/verify with a valid session
// of a group member, through the server's whole middleware chain but
// without the network and net/http's own work (the load run with both is
// TestLoadVerify). It runs on SQLite and on PostgreSQL (skipped without
// it, failing under CI=true), one request at a time ("serial": the cost of
// a request) and from every core at once ("parallel": with contention):
//
//	go test ./web -run '^$' -bench BenchmarkVerify -benchmem
func BenchmarkVerify(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchVerify(b, newFwdFixture(b)) })
	b.Run("postgres", func(b *testing.B) {
		pg := pgtest.Start(b)
		benchVerify(b, newFwdFixtureAt(b, pg.NewDatabase(b)))
	})
}

func benchVerify(b *testing.B, f *fwdFixture) {
	cookie, _ := f.session(b, f.anna, authn.LevelPhrh)
	newRequest := func() *http.Request {
		req := httptest.NewRequest("GET", "http://localhost:8080/auth/verify", nil)
		req.Header.Set("X-Original-URL", "https://rat.stadt.example/")
		req.Header.Set("Cookie", ForwardAuthCookie+"="+f.fwdCookie(cookie))
		return req
	}
	b.Run("serial", func(b *testing.B) {
		req, w := newRequest(), newBenchWriter()
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			serveBench(b, f.srv, w, req)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		b.RunParallel(func(pb *testing.PB) {
			req, w := newRequest(), newBenchWriter()
			for pb.Next() {
				serveBench(b, f.srv, w, req)
			}
		})
	})
}

// reportCPU starts counting the process's CPU time (user and system, GC
// included); the function it returns reports it per operation as
// cpu-ns/op. On a shared machine this is steadier than ns/op, which also
// counts the time other programs had the cores.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// serveBench serves req into w, reset first, and insists on a 200.
func serveBench(b *testing.B, h http.Handler, w *benchWriter, req *http.Request) {
	clear(w.header)
	w.code = 0
	h.ServeHTTP(w, req)
	if w.code != http.StatusOK {
		b.Fatalf("status %d", w.code)
	}
}

// benchWriter is a ResponseWriter that keeps only the status and is reused
// between requests, so that a benchmark measures the handler, not the
// recorder (the request is reused too: the handlers do not change it).
type benchWriter struct {
	header http.Header
	code   int
}

func newBenchWriter() *benchWriter { return &benchWriter{header: make(http.Header)} }

func (w *benchWriter) Header() http.Header { return w.header }

func (w *benchWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(p), nil
}

func (w *benchWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
