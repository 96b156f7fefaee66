package web

import (
	"cmp"
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/citizens"
	"github.com/keyhall/keyhall/enroll/desk"
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
	// SignIn configures the sign-in service built in SetStore, everything
	// but its Store. RPID, RPOrigin, RPName, Logger, Now and SessionMax
	// default to the public URL, "Keyhall" and this Config's values.
	SignIn authn.SignInConfig
	// OIDC configures the OpenID Connect provider (oidc.go); without clients it is off.
	OIDC OIDCConfig
	// ForwardAuth configures /auth/verify for reverse proxies.
	ForwardAuth ForwardAuthConfig
	// Enroll configures the enrollment service built in SetStore, everything
	// but its Store (enroll.go: newEnroll fills in the rest).
	Enroll enroll.Config
	// Desk configures the IT desk behind the console at /admin
	// (admin.go), everything but its Store, Enroll, Tools, Logger and Now,
	// which SetStore fills in.
	Desk desk.Config
	// Citizens configures the citizens' service (enroll/citizens),
	// everything but its Store and Enroll, which SetStore fills in; its
	// PublicURL, Tools, Mailer, Notices, AdminGroups, Logger and Now
	// default to this server's (account_data.go: newCitizens).
	Citizens citizens.Config
	// RecoverByEmail serves /recover: citizens.enabled, or a group allows
	// recovery by e-mail; otherwise it is 404.
	RecoverByEmail bool
	// Register (citizens.enabled) opens /register (register.go) with
	// the same service.
	Register bool
	// Legal links the city's imprint and privacy notice from every page
	// (legal.*); a link that is "" is not shown.
	Legal LegalLinks
	// Site is the city's name, logo and primary colour in every page's
	// header (site.go); the zero Site is Keyhall's own.
	Site Site
}

// LegalLinks are the city's imprint (Impressum) and privacy notice
// (Datenschutzerklärung), required by German law once citizens register.
type LegalLinks struct {
	ImprintURL string
	PrivacyURL string
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

	store     atomic.Pointer[storeRef] // nil until SetStore
	lastSeen  atomic.Pointer[authn.LastSeen]
	signIn    authn.SignInConfig // without Store: completed in SetStore
	enrollCfg enroll.Config      // without Store: completed in SetStore
	deskCfg   desk.Config        // without Store: completed in SetStore
	sessions  *sessionStore
	pages     *pages
	oidc      *oidcProvider // nil: OIDC off
	legal     LegalLinks
	site      siteView // every page's header (site.go)
	register  bool     // /register is open (Config.Register)

	citizensCfg citizens.Config // without Store: completed in SetStore
	// citizensGroup is the citizens' group (Config.Citizens.Group), whether
	// or not registration is open: its members use only the tools that name
	// it (admission.go).
	citizensGroup string
	recoverOn     bool // /recover is served (Config.RecoverByEmail)

	fwd     *forwardAuth
	fwdAEAD cipher.AEAD // seals the forward-auth cookie (fwdcookie.go); nil without an encryption key
	// fwdAEADPrev opens forward-auth cookies sealed under the previous
	// encryption key, during a rotation; nil when there is none.
	fwdAEADPrev cipher.AEAD
	// deviceAEAD and deviceAEADPrev seal and open device cookies
	// (devicecookie.go), as fwdAEAD and fwdAEADPrev the forward-auth one.
	deviceAEAD, deviceAEADPrev cipher.AEAD
	people                     identities // short-lived cache of people and their groups
	handler                    http.Handler
	// verifyRoute is /auth/verify with its metrics (see ServeHTTP).
	verifyRoute http.Handler
}

// storeRef wraps the interface so it fits an atomic.Pointer, together with
// the sign-in service built on it (nil when it could not be built).
type storeRef struct {
	authn.Store
	signIn *authn.SignIn
	enroll *enroll.Service // nil when it could not be built
	desk   *desk.Service   // nil when it could not be built: /admin is 404

	citizens *citizens.Service // nil when it could not be built: no data section, /register and /recover 503
}

// HTTPServer is the HTTP server Keyhall serves h with: timeouts that keep
// a slow or stalled client from holding a connection, and a cap on request
// headers.
func HTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

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
		signIn:    cfg.SignIn,
		enrollCfg: cfg.Enroll,
		deskCfg:   cfg.Desk,
		legal:     cfg.Legal,
		register:  cfg.Register,
	}
	s.citizensCfg, s.recoverOn = cfg.Citizens, cfg.RecoverByEmail
	// Who is a citizen does not hang on registration being open: closing it
	// (citizens.enabled: false) leaves the citizens who registered, and they
	// must not pass the staff's tools.
	s.citizensGroup = cmp.Or(cfg.Citizens.Group, citizens.DefaultGroup)
	s.sessions = &sessionStore{srv: s}
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
	if s.pages, err = loadPages(); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	if err := s.pages.addSiteFiles(cfg.Site); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	s.site = newSiteView(cfg.Site, s.pages)
	s.completeSignInConfig()
	if s.oidc, err = newOIDCProvider(s, cfg.OIDC); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	mux := http.NewServeMux()
	s.fwd = newForwardAuth(cfg.ForwardAuth)
	if s.fwdAEAD, err = newCookieAEAD(cfg.SignIn.EncryptionKey, fwdCookiePurpose); err != nil {
		return nil, fmt.Errorf("web: forward-auth cookie: %w", err)
	}
	if s.fwdAEADPrev, err = newCookieAEAD(cfg.SignIn.PreviousEncryptionKey, fwdCookiePurpose); err != nil {
		return nil, fmt.Errorf("web: forward-auth cookie: %w", err)
	}
	if s.deviceAEAD, err = newCookieAEAD(cfg.SignIn.EncryptionKey, deviceCookiePurpose); err != nil {
		return nil, fmt.Errorf("web: device cookie: %w", err)
	}
	if s.deviceAEADPrev, err = newCookieAEAD(cfg.SignIn.PreviousEncryptionKey, deviceCookiePurpose); err != nil {
		return nil, fmt.Errorf("web: device cookie: %w", err)
	}
	if s.fwd.cfg.CookieDomain != "" && s.fwdAEAD == nil {
		s.logger.Warn("forward_auth.cookie_domain is set but there is no encryption key: no forward-auth cookie is set")
	}
	s.routes(mux)
	s.handler = s.recoverPanics(s.securityHeaders(s.crossOrigin(mux)))
	return s, nil
}

// ServeHTTP serves a request.
//
// A reverse proxy asks /auth/verify about every request it guards, so that
// path goes straight to its route: the routing table would choose the same
// one, and the middleware between them does nothing for it (verify sets
// the security headers on its refusals itself, is exempt from the
// cross-origin check, and its route recovers from panics). Only the exact
// unescaped path takes the shortcut; any other spelling goes through the
// table.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == verifyPath && r.URL.RawPath == "" && r.Method != http.MethodConnect {
		r.Pattern = verifyPath // as the table sets it, for the log lines
		s.verifyRoute.ServeHTTP(w, r)
		return
	}
	s.handler.ServeHTTP(w, r)
}

// SetFakeIDKey replaces the key of the made-up key IDs answered for names
// that do not exist (authn.SignInConfig.FakeIDKey); call it before SetStore.
func (s *Server) SetFakeIDKey(k []byte) { s.signIn.FakeIDKey = k }

// SetStore makes the database available to requests and builds the
// sign-in service on it; lastSeen (may be nil) records session use. When
// the sign-in service cannot be built, the error is logged and returned,
// and every sign-in request gets 503 (fail closed); the rest still works.
func (s *Server) SetStore(st authn.Store, lastSeen *authn.LastSeen) error {
	cfg := s.signIn
	cfg.Store = st
	si, err := authn.NewSignIn(cfg)
	if err != nil {
		err = fmt.Errorf("web: set up sign-in: %w", err)
		s.logger.Error("sign-in is unavailable", "err", err)
		si = nil
	}
	s.lastSeen.Store(lastSeen)
	ref := &storeRef{Store: st, signIn: si, enroll: s.newEnroll(st)}
	ref.desk = s.newDesk(st, ref.enroll)
	ref.citizens = s.newCitizens(st, ref.enroll)
	s.store.Store(ref)
	return err
}

// completeSignInConfig fills in what the sign-in service takes from the
// public URL and this server's settings, where the caller left it empty.
func (s *Server) completeSignInConfig() {
	c := &s.signIn
	if c.RPID == "" {
		c.RPID = s.publicURL.Hostname()
	}
	if c.RPOrigin == "" {
		c.RPOrigin = s.publicURL.Scheme + "://" + s.publicURL.Host
	}
	if c.RPName == "" {
		c.RPName = "Keyhall"
	}
	if c.Logger == nil {
		c.Logger = s.logger
	}
	if c.Now == nil {
		c.Now = s.now
	}
	if c.SessionMax == 0 {
		c.SessionMax = s.max
	}
	if c.ToolOf == nil {
		c.ToolOf = s.toolOf
	}
}

// signInFor returns the sign-in service, or writes 503 and returns nil when
// the database is not open yet or the service could not be built.
func (s *Server) signInFor(w http.ResponseWriter, r *http.Request) *authn.SignIn {
	ref := s.store.Load()
	switch {
	case ref == nil:
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, errors.New("sign-in not available: database not open yet"))
		return nil
	case ref.signIn == nil:
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, errors.New("sign-in not available: it could not be set up (see the log of SetStore)"))
		return nil
	}
	return ref.signIn
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
