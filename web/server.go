package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/prometheus/client_golang/prometheus"
)

// Config is what the HTTP side needs. PublicURL must already be validated.
type Config struct {
	PublicURL      *url.URL
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger
	// Registry receives Keyhall's metrics; nil makes a new one with the Go
	// and process collectors.
	Registry *prometheus.Registry
	// SessionIdle and SessionMax are the idle and absolute session
	// timeouts; zero means 30 minutes and 12 hours.
	SessionIdle time.Duration
	SessionMax  time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Server holds the HTTP handlers and their dependencies.
type Server struct {
	publicURL *url.URL
	secure    bool // public URL is https: HSTS
	proxies   []netip.Prefix
	logger    *slog.Logger
	registry  *prometheus.Registry
	metrics   *metrics
	idle, max time.Duration
	now       func() time.Time

	store    atomic.Pointer[storeRef] // nil until SetStore
	lastSeen atomic.Pointer[authn.LastSeen]

	handler http.Handler
}

// storeRef wraps the interface so it fits an atomic.Pointer.
type storeRef struct{ authn.Store }

// New builds the server's handlers. It does not listen.
func New(cfg Config) (*Server, error) {
	if cfg.PublicURL == nil || cfg.PublicURL.Host == "" {
		return nil, errors.New("web: public URL is missing")
	}
	s := &Server{
		publicURL: cfg.PublicURL,
		secure:    cfg.PublicURL.Scheme == "https",
		proxies:   cfg.TrustedProxies,
		logger:    cfg.Logger,
		registry:  cfg.Registry,
		idle:      cfg.SessionIdle,
		max:       cfg.SessionMax,
		now:       cfg.Now,
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
		s.registry.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	}
	if s.idle == 0 {
		s.idle = 30 * time.Minute
	}
	if s.max == 0 {
		s.max = 12 * time.Hour
	}
	if s.now == nil {
		s.now = time.Now
	}
	m, err := newMetrics(s.registry, s.storeUp)
	if err != nil {
		return nil, fmt.Errorf("web: register metrics: %w", err)
	}
	s.metrics = m
	mux := http.NewServeMux()
	s.routes(mux)
	s.handler = s.recoverPanics(s.securityHeaders(s.clientAddress(s.crossOrigin(mux))))
	return s, nil
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// SetStore makes the database available to requests; lastSeen (may be nil)
// records session use.
func (s *Server) SetStore(st authn.Store, lastSeen *authn.LastSeen) {
	s.lastSeen.Store(lastSeen)
	s.store.Store(&storeRef{st})
}

// storeFor returns the store, or writes 503 and returns nil when there is none yet.
func (s *Server) storeFor(w http.ResponseWriter, r *http.Request) authn.Store {
	ref := s.store.Load()
	if ref == nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, errors.New("database not open yet"))
		return nil
	}
	return ref.Store
}

// storeUp reports 1 when the database answered a ping within a second.
func (s *Server) storeUp() float64 {
	ref := s.store.Load()
	if ref == nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if ref.Ping(ctx) != nil {
		return 0
	}
	return 1
}
