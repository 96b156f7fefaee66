package web

import (
	"net/http/httptest"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// BenchmarkVerifyHandler is the CPU cost of one /auth/verify with a valid
// session, without the network (the load run is TestLoadVerify).
func BenchmarkVerifyHandler(b *testing.B) {
	f := newFwdFixture(b)
	cookie, _ := f.session(b, f.anna, authn.LevelPhrh)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "http://localhost:8080/auth/verify", nil)
			req.Header.Set("X-Original-URL", "https://rat.stadt.example/")
			req.Header.Set("Cookie", ForwardAuthCookie+"="+cookie)
			rec := httptest.NewRecorder()
			f.srv.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("status %d", rec.Code)
			}
		}
	})
}
