package web

import (
	"context"
	"net/http"
	"time"
)

// healthz answers 200 while the process serves requests at all.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// readier is a store that can tell whether it can serve: that a read and a
// small write succeed (sqlstore.Store.Ready, which caches its answer).
type readier interface {
	Ready(ctx context.Context) error
}

// readyz answers 200 when the store can serve (a read and a small write
// succeed within two seconds; a store that cannot tell: it answers a ping),
// and 503 otherwise, so a load balancer sends people elsewhere.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	st := s.storeFor(w, r)
	if st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	check := st.Ping
	if rd, ok := st.(readier); ok {
		check = rd.Ready
	}
	if err := check(ctx); err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ready\n"))
}
