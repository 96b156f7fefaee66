package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/citizens"
	"github.com/keyhall/keyhall/web"
)

// webConfig turns the validated configuration and the shared keys into
// what the HTTP side needs.
func webConfig(cfg Config, keys Keys, publicURL *url.URL, proxies []netip.Prefix, logger *slog.Logger) (web.Config, error) {
	idle, maxAge := time.Duration(cfg.Session.IdleTimeout), time.Duration(cfg.Session.MaxAge)
	oidc, err := oidcConfig(cfg, keys)
	if err != nil {
		return web.Config{}, err
	}
	enrollCfg, err := serveEnrollConfig(cfg, keys, publicURL, logger)
	if err != nil {
		return web.Config{}, err
	}
	// The console's desk: the store, the enrollment service and the tools
	// (the server itself) are added when the store is open (SetStore).
	deskCfg, err := deskConfig(cfg, nil, nil, enrollCfg.Mailer, nil, logger)
	if err != nil {
		return web.Config{}, err
	}
	site, err := cfg.site()
	if err != nil {
		return web.Config{}, err
	}
	return web.Config{
		PublicURL:      publicURL,
		TrustedProxies: proxies,
		Logger:         logger,
		SessionIdle:    idle,
		SessionMax:     maxAge,
		SignIn: authn.SignInConfig{
			RPName: cfg.WebAuthn.RPName,
			Argon2: authn.Argon2Params{
				MemoryKiB: uint32(cfg.Passwords.Argon2MemoryKiB),
				Time:      uint32(cfg.Passwords.Argon2Iterations),
				Threads:   uint8(cfg.Passwords.Argon2Parallelism),
			},
			MaxHashing:    cfg.Passwords.MaxConcurrent,
			EncryptionKey: keys.Encryption,
			FakeIDKey:     deriveKey(keys.Cookie, fakeIDPurpose), // serve replaces it with the stored one (fakeIDKey)
			// During a rotation: TOTP secrets and forward-auth cookies sealed under the old key.
			PreviousEncryptionKey: keys.PreviousEncryption,
			Policy:                signInPolicy(cfg),
			SessionMax:            maxAge,
			Logger:                logger,
			KeyPolicy:             enrollPolicy(cfg), // a group's key policy holds at sign-in too
		},
		ForwardAuth:    forwardAuthConfig(cfg),
		OIDC:           oidc,
		Enroll:         enrollCfg,
		Desk:           deskCfg,
		Legal:          web.LegalLinks{ImprintURL: cfg.Legal.ImprintURL, PrivacyURL: cfg.Legal.PrivacyURL},
		Site:           site,
		Citizens:       citizensConfig(cfg, keys, publicURL, enrollCfg, logger),
		Register:       cfg.Citizens.Enabled,
		RecoverByEmail: recoverByEmail(cfg), // wire_recover.go
	}, nil
}

// deriveKey derives a key for one purpose from a shared key, so that no key
// serves two purposes.
func deriveKey(key []byte, purpose string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

func signInPolicy(cfg Config) authn.Policy {
	p := authn.Policy{Groups: make(map[string]authn.GroupPolicy, len(cfg.Policy.Groups))}
	for name, g := range cfg.Policy.Groups {
		p.Groups[name] = authn.GroupPolicy{
			Level:            authn.Level(g.Level),
			UserVerification: g.UserVerification,
			AllowTOTP:        g.AllowTOTP,
		}
	}
	if cfg.Citizens.Enabled { // citizens sign in without a password (wire_citizens.go)
		gp, ok := p.Groups[cfg.Citizens.Group]
		p.Groups[cfg.Citizens.Group] = citizens.SignInPolicy(gp, ok)
	}
	return p
}

func forwardAuthConfig(cfg Config) web.ForwardAuthConfig {
	fa := web.ForwardAuthConfig{CookieDomain: cfg.ForwardAuth.CookieDomain}
	for _, r := range cfg.ForwardAuth.Rules {
		fa.Rules = append(fa.Rules, web.ForwardAuthRule{
			Host: r.Host, PathPrefix: r.PathPrefix, Groups: r.Groups, Level: authn.Level(r.Level),
		})
	}
	return fa
}

// oidcConfig turns oidc.* into the provider's configuration: the clients,
// with each secret's SHA-256 decoded, and the keys that seal the signing
// key (keys.encryption_key) and encrypt tokens (keys.oidc_key).
func oidcConfig(cfg Config, keys Keys) (web.OIDCConfig, error) {
	oc := web.OIDCConfig{
		CryptoKey:             keys.OIDC,
		EncryptionKey:         keys.Encryption,
		PreviousEncryptionKey: keys.PreviousEncryption,
		PreviousCryptoKey:     keys.PreviousOIDC,
		CodeLifetime:          time.Duration(cfg.OIDC.CodeLifetime),
	}
	for i, c := range cfg.OIDC.Clients {
		var sum []byte
		if c.SecretSHA256 != "" {
			var err error
			if sum, err = hex.DecodeString(c.SecretSHA256); err != nil {
				return web.OIDCConfig{}, fmt.Errorf("oidc.clients[%d].secret_sha256: is not hex", i)
			}
		}
		oc.Clients = append(oc.Clients, web.OIDCClient{
			ID:                     c.ID,
			Name:                   c.Name,
			SecretSHA256:           sum,
			Native:                 c.Native,
			RedirectURIs:           slices.Clone(c.RedirectURIs),
			PostLogoutRedirectURIs: slices.Clone(c.PostLogoutRedirectURIs),
			Groups:                 slices.Clone(c.Groups),
			Level:                  authn.Level(c.Level),
			AccessTokenLifetime:    time.Duration(c.AccessTokenLifetime),
			IDTokenLifetime:        time.Duration(c.IDTokenLifetime),
			RefreshTokenLifetime:   time.Duration(c.RefreshTokenLifetime),
			BackchannelLogoutURI:   c.BackchannelLogoutURI,
			CORSOrigins:            slices.Clone(c.CORSOrigins),
		})
	}
	return oc, nil
}
