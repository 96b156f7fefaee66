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

// readyz answers 200 when the database answers within two seconds, and 503
// otherwise, so a load balancer sends people elsewhere.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	st := s.storeFor(w, r)
	if st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := st.Ping(ctx); err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ready\n"))
}
