package web

import "net/http"

// routes registers every route; it reads as the server's table of contents.
func (s *Server) routes(mux *http.ServeMux) {
	// Operations.
	s.handle(mux, "GET /healthz", s.healthz)
	s.handle(mux, "GET /readyz", s.readyz)
	s.handle(mux, "GET /metrics", s.metricsHandler().ServeHTTP)

	// The signed-in person, for the pages' script and for tools.
	s.handle(mux, "GET /api/session", s.sessionInfo)

	// Everything else.
	s.handle(mux, "/", s.notFound)
}

// handle registers h under pattern with its metrics and log line.
func (s *Server) handle(mux *http.ServeMux, pattern string, h http.HandlerFunc) {
	mux.Handle(pattern, s.instrument(pattern, h))
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, http.StatusNotFound, msgNotFound, nil)
}
