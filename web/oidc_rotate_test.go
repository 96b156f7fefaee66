package web

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/authn/sqlstore/pgtest"
)

// rotateKey does what "keyhall admin keys rotate" does: a new key, active
// from now, the old one retired. It returns the new key's ID.
func rotateKey(t testing.TB, o authn.OIDCKeyStore, encKey [32]byte, now time.Time) string {
	t.Helper()
	k, err := NewSigningKey(encKey, now)
	if err != nil {
		t.Fatal(err)
	}
	ev := authn.AuditEvent{Time: now, Actor: "test", Action: "keys.rotate", Subject: "key:" + k.ID}
	if _, err := o.RotateOIDCSigningKey(t.Context(), k, ev); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	return k.ID
}

// kidOf returns the key ID in a JWT's header.
func kidOf(t testing.TB, raw string) string {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		t.Fatalf("parse JWT: %v", err)
	}
	return jws.Signatures[0].Header.KeyID
}

// jwksKids fetches the JWKS as a tool does and returns its key IDs.
func jwksKids(t testing.TB, issuer string) []string {
	t.Helper()
	resp, err := http.Get(issuer + oidcKeysPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("JWKS: %d, %v", resp.StatusCode, err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	slices.Sort(kids)
	return kids
}

// TestOIDCKeyRotationGoOIDC: a tool (go-oidc) that fetched the JWKS before
// a rotation verifies an ID token signed after it (its key set fetches
// again on the unknown kid); a token signed before the rotation verifies,
// with a key set fetched after it, until it expires; once every token the
// old key signed has expired, the old key is gone from the JWKS.
func TestOIDCKeyRotationGoOIDC(t *testing.T) {
	e := newOIDCEnv(t, nil)
	b := newBrowser(t)
	e.signIn(b, e.anna, "phrh", "hwk", "user", "pwd", "mfa")
	r := e.rp("wiki", e.secret, wikiRedirect)
	cfg := &oidc.Config{ClientID: "wiki", Now: e.clock.Now, SupportedSigningAlgs: []string{oidc.ES256}}
	cached := r.provider.Verifier(cfg) // the tool's verifier, with its key set, kept across the rotation
	idToken := func() string {
		t.Helper()
		tok, err := r.conf.Exchange(t.Context(), e.code(b, r), oauth2.VerifierOption(r.verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		raw, _ := tok.Extra("id_token").(string)
		return raw
	}

	before := idToken()
	if _, err := cached.Verify(t.Context(), before); err != nil {
		t.Fatalf("verify before the rotation: %v", err)
	}
	oldKid := kidOf(t, before)

	rotatedAt := e.clock.Now()
	newKid := rotateKey(t, e.st, e.srv.oidc.cfg.EncryptionKey, rotatedAt)
	var after string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if after = idToken(); kidOf(t, after) == newKid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still signing with %s five seconds after the rotation to %s", kidOf(t, after), newKid)
		}
	}
	if got, want := jwksKids(t, e.issuer), sorted(oldKid, newKid); !slices.Equal(got, want) {
		t.Fatalf("JWKS after the rotation: %v, want the old and the new key %v", got, want)
	}
	if _, err := cached.Verify(t.Context(), after); err != nil {
		t.Errorf("a tool that cached the JWKS before the rotation refuses a token signed after it: %v", err)
	}

	e.clock.Add(5 * time.Minute) // the old token has five minutes left
	fresh := oidc.NewVerifier(e.issuer, oidc.NewRemoteKeySet(t.Context(), e.issuer+oidcKeysPath), cfg)
	if _, err := fresh.Verify(t.Context(), before); err != nil {
		t.Errorf("a token signed before the rotation, still valid, fails with the JWKS of after it: %v", err)
	}
	if _, err := cached.Verify(t.Context(), before); err != nil {
		t.Errorf("a token signed before the rotation fails with the cached key set: %v", err)
	}

	// Every token the old key signed has expired: it leaves the JWKS.
	e.clock.Add(rotatedAt.Add(RetiredKeyGrace(e.srv.oidc.cfg) - time.Second).Sub(e.clock.Now()))
	if got := jwksKids(t, e.issuer); !slices.Equal(got, sorted(oldKid, newKid)) {
		t.Fatalf("JWKS just before the old key's tokens all expired: %v, want both keys", got)
	}
	e.clock.Add(2 * time.Second)
	if got := jwksKids(t, e.issuer); !slices.Equal(got, []string{newKid}) {
		t.Fatalf("JWKS after the old key's tokens all expired: %v, want only %s", got, newKid)
	}
	late := oidc.NewVerifier(e.issuer, oidc.NewRemoteKeySet(t.Context(), e.issuer+oidcKeysPath),
		&oidc.Config{ClientID: "wiki", Now: e.clock.Now, SkipExpiryCheck: true, SupportedSigningAlgs: []string{oidc.ES256}})
	if _, err := late.Verify(t.Context(), before); err == nil {
		t.Error("a token of the retired key verifies against the JWKS after its retirement")
	}
	if _, err := late.Verify(t.Context(), idToken()); err != nil {
		t.Errorf("a token of the new key: %v", err)
	}
}

func sorted(s ...string) []string { slices.Sort(s); return s }

// TestOIDCKeyRotationProcesses: two providers (as two serve processes) on
// one PostgreSQL database both sign with the new key within a second of a
// rotation.
func TestOIDCKeyRotationProcesses(t *testing.T) {
	storage := pgtest.Shared(t).NewDatabase(t)
	e := newOIDCEnvOn(t, storage, nil)
	other := secondProvider(t, e, storage)
	ctx := t.Context()
	procs := []*oidcProvider{e.srv.oidc, other.oidc}
	first := make([]string, len(procs))
	for i, p := range procs {
		k, err := p.signingKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		first[i] = k.id
	}
	if first[0] != first[1] {
		t.Fatalf("two processes sign with different keys: %v", first)
	}

	newKid := rotateKey(t, e.st, e.srv.oidc.cfg.EncryptionKey, e.clock.Now())
	rotated := time.Now()
	switched := make([]time.Duration, len(procs))
	for deadline := rotated.Add(5 * time.Second); slices.Contains(switched, 0) && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for i, p := range procs {
			k, err := p.signingKey(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if switched[i] == 0 && k.id == newKid {
				switched[i] = time.Since(rotated)
			}
		}
	}
	t.Logf("switched to the new key after %v", switched)
	for i, d := range switched {
		if d == 0 || d > time.Second {
			t.Errorf("process %d switched to the new key after %v (0: not in 5 s), want within 1 s", i+1, d)
		}
	}
}

// secondProvider is a second Keyhall server (a second serve process) on
// the database at storage, with e's configuration and keys; wrap, if
// given, wraps its store (to count what it asks).
func secondProvider(t testing.TB, e *oidcEnv, storage string, wrap ...func(*sqlstore.Store) authn.Store) *Server {
	t.Helper()
	return secondProviderConfigured(t, e, storage, nil, wrap...)
}

// secondProviderConfigured is secondProvider with e's configuration
// changed by mutate (if not nil).
func secondProviderConfigured(t testing.TB, e *oidcEnv, storage string, mutate func(*OIDCConfig), wrap ...func(*sqlstore.Store) authn.Store) *Server {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	fake := make([]byte, 32)
	rand.Read(fake)
	pub, _ := url.Parse(e.issuer)
	cfg := e.srv.oidc.cfg
	cfg.Clients = slices.Clone(cfg.Clients)
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(Config{PublicURL: pub, Logger: quiet, Now: e.clock.Now, OIDC: cfg,
		SignIn: authn.SignInConfig{EncryptionKey: cfg.EncryptionKey, FakeIDKey: fake, Argon2: testArgon2}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.Open(t.Context(), storage, sqlstore.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.WaitOIDCLogouts(context.Background()); st.Close() })
	var as authn.Store = st
	for _, w := range wrap {
		as = w(st)
	}
	if err := srv.SetStore(as, nil); err != nil {
		t.Fatal(err)
	}
	return srv
}
