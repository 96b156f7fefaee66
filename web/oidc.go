package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/keyhall/keyhall/authn"
)

// OIDC endpoint paths, all under the issuer (public_url).
const (
	oidcAuthorizePath  = "/oidc/authorize"
	oidcContinuePath   = "/oidc/continue"
	oidcTokenPath      = "/oidc/token"
	oidcUserinfoPath   = "/oidc/userinfo"
	oidcRevokePath     = "/oidc/revoke"
	oidcEndSessionPath = "/oidc/end_session"
	oidcKeysPath       = "/oidc/keys"
	oidcDiscoveryPath  = "/.well-known/openid-configuration"
)

// oidcBypassPatterns are the OIDC routes that tools call from other
// origins: client-authenticated or bearer-authenticated, or (end_session)
// a logout a tool sends the browser to. Cross-origin protection must let
// them through (http.CrossOriginProtection.AddInsecureBypassPattern).
var oidcBypassPatterns = []string{
	"POST " + oidcTokenPath, "POST " + oidcUserinfoPath, "POST " + oidcRevokePath, "POST " + oidcEndSessionPath,
}

// OIDCConfig configures the OpenID Connect provider. The zero value (no
// clients) turns it off: no OIDC route is served.
type OIDCConfig struct {
	Clients []OIDCClient
	// CryptoKey encrypts access tokens (zitadel/oidc's CryptoKey): Keys.OIDC.
	CryptoKey [32]byte
	// PreviousCryptoKey is the key CryptoKey replaced, during a rotation
	// (zero: none): access tokens encrypted under it are still read.
	PreviousCryptoKey [32]byte
	// EncryptionKey seals the signing key in the store: Keys.Encryption.
	EncryptionKey [32]byte
	// PreviousEncryptionKey is the key EncryptionKey replaced, during a
	// rotation (zero: none): signing keys sealed under it still open.
	PreviousEncryptionKey [32]byte
	// CodeLifetime is how long an authorization code may be redeemed;
	// 0 means one minute, and more than ten minutes is refused.
	CodeLifetime time.Duration
	// RequestLifetime is how long a person has to sign in; 0 means 30 minutes.
	RequestLifetime time.Duration
	// BackchannelAttempts and BackchannelBackoff: how often, and how far
	// apart at first (doubling), a logout token is POSTed; 0 means 3 and 2s.
	BackchannelAttempts int
	BackchannelBackoff  time.Duration
	// HTTPClient posts logout tokens; nil means one with a 5-second timeout.
	HTTPClient *http.Client
}

// OIDCClient is a tool registered with Keyhall.
type OIDCClient struct {
	ID string
	// Name is how people know the tool ("Ratsinformationssystem"), shown
	// on /account beside their sign-ins; "" shows ID.
	Name string
	// SecretSHA256 is the SHA-256 of the client's secret (NewOIDCClientSecret);
	// nil for a public client (a native app or a browser app), which must
	// use PKCE alone.
	SecretSHA256 []byte
	// Native marks an app on a device (RFC 8252): its redirect URI is a
	// claimed https URL, a private-use scheme, or a loopback address
	// (http://127.0.0.1/… or http://[::1]/…, any port).
	Native bool
	// RedirectURIs are compared as strings, exactly.
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// Groups may use the client (canonical names); empty: everyone but
	// citizens, registration open or not (Server.admits).
	Groups []string
	// Level is the sign-in level the client needs; a weaker session is
	// stepped up.
	Level authn.Level
	// Token lifetimes; 0 means 10 minutes (access, ID) and 8 hours (refresh).
	AccessTokenLifetime  time.Duration
	IDTokenLifetime      time.Duration
	RefreshTokenLifetime time.Duration
	// BackchannelLogoutURI receives logout tokens (OpenID Back-Channel
	// Logout 1.0); "" for none.
	BackchannelLogoutURI string
	// CORSOrigins may call the token, userinfo and revocation endpoints
	// from a browser (scheme://host[:port]); empty: no CORS.
	CORSOrigins []string
}

// NewOIDCClientSecret returns a new client secret (256 random bits,
// base64url) and the SHA-256 to configure as OIDCClient.SecretSHA256.
func NewOIDCClientSecret() (secret string, sum [32]byte) {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go ≥ 1.24)
	secret = base64.RawURLEncoding.EncodeToString(b[:])
	return secret, sha256.Sum256([]byte(secret))
}

// Validate reports every problem of c, joined.
func (c OIDCConfig) Validate() error {
	var errs []error
	if c.CodeLifetime > 10*time.Minute {
		errs = append(errs, errors.New("oidc: code lifetime must be at most 10 minutes (RFC 6749 §4.1.2)"))
	}
	seen := map[string]bool{}
	for i, cl := range c.Clients {
		where := fmt.Sprintf("oidc client %d (%q)", i+1, cl.ID)
		switch {
		case cl.ID == "" || strings.ContainsAny(cl.ID, ": \t\r\n"):
			errs = append(errs, fmt.Errorf("%s: id must be non-empty, without spaces or colons", where))
		case seen[cl.ID]:
			errs = append(errs, fmt.Errorf("%s: id is used twice", where))
		}
		seen[cl.ID] = true
		if cl.SecretSHA256 != nil && len(cl.SecretSHA256) != sha256.Size {
			errs = append(errs, fmt.Errorf("%s: secret hash must be 32 bytes (SHA-256)", where))
		}
		if len(cl.RedirectURIs) == 0 {
			errs = append(errs, fmt.Errorf("%s: at least one redirect URI is needed", where))
		}
		for _, u := range append(append([]string{}, cl.RedirectURIs...), cl.PostLogoutRedirectURIs...) {
			if p, err := url.Parse(u); err != nil || p.Scheme == "" || p.Fragment != "" || p.User != nil {
				errs = append(errs, fmt.Errorf("%s: redirect URI %q must be absolute, without fragment or user info", where, u))
			}
		}
		switch cl.Level {
		case authn.LevelNone, authn.LevelMFA, authn.LevelPhr, authn.LevelPhrh:
		default:
			errs = append(errs, fmt.Errorf("%s: level %q is not one of mfa, phr, phrh", where, cl.Level))
		}
		if u := cl.BackchannelLogoutURI; u != "" {
			if p, err := url.Parse(u); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
				errs = append(errs, fmt.Errorf("%s: backchannel logout URI %q must be an http(s) URL", where, u))
			}
		}
	}
	return errors.Join(errs...)
}

// oidcProvider is the OpenID Connect provider: zitadel/oidc's op.Provider
// over Keyhall's store, with Keyhall's own checks around it.
type oidcProvider struct {
	srv      *Server
	cfg      OIDCConfig
	issuer   string
	clients  map[string]*oidcClient
	op       *op.Provider
	storage  *oidcStorage
	cors     *cors.Cors // nil when no client has CORS origins
	insecure bool       // public URL is http (development and tests): zitadel/oidc must allow it

	keyMu      sync.Mutex             // guards key and keyChecked
	storedMu   sync.Mutex             // guards stored and storedRead; never held over a query
	key        *signingKey            // loaded or created on first use, replaced after a rotation
	keyChecked time.Time              // when the store last said key is the active one
	stored     []authn.OIDCSigningKey // every stored key, public parts, for the JWKS
	storedRead time.Time              // when stored was read
	reads      keyReads               // the reads of the stored keys, coalesced

	logouts sync.WaitGroup // back-channel deliveries in flight
}

// newOIDCProvider builds the provider; it returns nil, nil when no client
// is configured.
func newOIDCProvider(s *Server, cfg OIDCConfig) (*oidcProvider, error) {
	if len(cfg.Clients) == 0 {
		return nil, nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	setOIDCDefaults(&cfg)
	p := &oidcProvider{srv: s, cfg: cfg, clients: map[string]*oidcClient{}}
	p.issuer = s.publicURL.Scheme + "://" + s.publicURL.Host + strings.TrimSuffix(s.publicURL.Path, "/")
	p.insecure = s.publicURL.Scheme == "http"
	var origins []string
	for i := range cfg.Clients {
		p.clients[cfg.Clients[i].ID] = &oidcClient{c: cfg.Clients[i], loginURL: oidcContinuePath + "?id="}
		origins = append(origins, cfg.Clients[i].CORSOrigins...)
	}
	p.storage = &oidcStorage{p: p}
	corsOpts := &cors.Options{AllowedOrigins: origins, AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Authorization", "Content-Type"}, AllowCredentials: false}
	if len(origins) > 0 {
		p.cors = cors.New(*corsOpts)
	}
	opts := []op.Option{op.WithCORSOptions(corsOpts), op.WithCustomEndpoints(
		op.NewEndpoint(oidcAuthorizePath), op.NewEndpoint(oidcTokenPath), op.NewEndpoint(oidcUserinfoPath),
		op.NewEndpoint(oidcRevokePath), op.NewEndpoint(oidcEndSessionPath), op.NewEndpoint(oidcKeysPath))}
	if p.insecure {
		opts = append(opts, op.WithAllowInsecure())
	}
	crypto, err := newAccessTokenCrypto(cfg.CryptoKey, cfg.PreviousCryptoKey)
	if err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	opts = append(opts, op.WithCrypto(crypto), op.WithIDTokenHintKeySet(hintKeySet{p}))
	p.op, err = op.NewProvider(&op.Config{
		CryptoKey:                  cfg.CryptoKey,
		DefaultLogoutRedirectURI:   p.issuer + "/login",
		CodeMethodS256:             true,
		AuthMethodPost:             true,
		GrantTypeRefreshToken:      true,
		SupportedScopes:            []string{"openid", "profile", "email", "groups", "offline_access"},
		SupportedClaims:            oidcClaims,
		BackChannelLogoutSupported: true, BackChannelLogoutSessionSupported: true,
	}, p.storage, op.StaticIssuer(p.issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	return p, nil
}

var oidcClaims = []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid",
	"name", "preferred_username", "email", "email_verified", "groups"}

func setOIDCDefaults(c *OIDCConfig) {
	if c.CodeLifetime == 0 {
		c.CodeLifetime = time.Minute
	}
	if c.RequestLifetime == 0 {
		c.RequestLifetime = 30 * time.Minute
	}
	if c.BackchannelAttempts == 0 {
		c.BackchannelAttempts = 3
	}
	if c.BackchannelBackoff == 0 {
		c.BackchannelBackoff = 2 * time.Second
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
}

// mountOIDC registers the OpenID Connect routes (none without clients).
func (s *Server) mountOIDC(mux *http.ServeMux) {
	p := s.oidc
	if p == nil {
		return
	}
	s.handle(mux, "GET "+oidcDiscoveryPath, p.wrap(p.discovery))
	s.handle(mux, "GET "+oidcKeysPath, p.wrap(p.keys))
	s.handle(mux, "GET "+oidcAuthorizePath, p.wrap(p.authorize))
	s.handle(mux, "POST "+oidcAuthorizePath, p.wrap(p.authorize))
	s.handle(mux, "GET "+oidcContinuePath, p.wrap(p.continueAuth))
	s.handle(mux, "POST "+oidcTokenPath, p.wrap(p.token))
	s.handle(mux, "GET "+oidcUserinfoPath, p.wrap(p.userinfo))
	s.handle(mux, "POST "+oidcUserinfoPath, p.wrap(p.userinfo))
	s.handle(mux, "POST "+oidcRevokePath, p.wrap(p.revoke))
	s.handle(mux, "GET "+oidcEndSessionPath, p.wrap(p.endSession))
	s.handle(mux, "POST "+oidcEndSessionPath, p.wrap(p.endSession))
	if p.cors != nil {
		for _, path := range []string{oidcDiscoveryPath, oidcKeysPath, oidcTokenPath, oidcUserinfoPath, oidcRevokePath} {
			s.handle(mux, "OPTIONS "+path, p.wrap(func(http.ResponseWriter, *http.Request) {}))
		}
	}
}

// wrap puts the issuer into the request's context, as zitadel/oidc
// expects, and answers CORS for the configured origins only.
func (p *oidcProvider) wrap(h http.HandlerFunc) http.HandlerFunc {
	var next http.Handler = h
	if p.cors != nil {
		next = p.cors.Handler(h)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r.WithContext(op.ContextWithIssuer(r.Context(), p.issuer)))
	}
}

// store returns the database, or nil when it is not open yet.
func (p *oidcProvider) store() (authn.Store, authn.OIDCStore) {
	ref := p.srv.store.Load()
	if ref == nil {
		return nil, nil
	}
	return ref.Store, ref.Store
}

// errNoStore: the database is not open yet (or keeps no OIDC state).
var errNoStore = errors.New("database not open yet")

// WaitOIDCLogouts waits until the back-channel logout deliveries started so
// far are done (delivered or given up), or ctx ends: for shutdown and tests.
func (s *Server) WaitOIDCLogouts(ctx context.Context) error {
	if s.oidc == nil {
		return nil
	}
	done := make(chan struct{})
	go func() { s.oidc.logouts.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
