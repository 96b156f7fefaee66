package authn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
)

// t0 is the tests' fixed time.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// clock is a settable time for SignIn.
type clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a SignIn on a real SQLite store in a temp dir.
type env struct {
	t     testing.TB
	store *sqlstore.Store
	si    *authn.SignIn
	clock *clock
	rp    virtualwebauthn.RelyingParty
	key   [32]byte
	cfg   authn.SignInConfig
}

// cheapArgon2 keeps the tests fast; the defaults are tested on their own.
var cheapArgon2 = authn.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}

var client = authn.ClientInfo{Addr: "192.0.2.7", UserAgent: "Mozilla/5.0 (iPad)"}

func newEnv(tb testing.TB, opts ...func(*authn.SignInConfig)) *env {
	tb.Helper()
	st, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(tb.TempDir(), "keyhall.db"),
		sqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	e := &env{t: tb, store: st, clock: &clock{t: t0},
		rp: virtualwebauthn.RelyingParty{Name: "Keyhall", ID: "localhost", Origin: "http://localhost:8080"}}
	rand.Read(e.key[:])
	e.cfg = authn.SignInConfig{
		Store: st, RPID: "localhost", RPOrigin: "http://localhost:8080", RPName: "Keyhall",
		Argon2: cheapArgon2, EncryptionKey: e.key, FakeIDKey: []byte("0123456789abcdef-fake-id-key"),
		Logger: slog.New(slog.DiscardHandler), Now: e.clock.Now,
	}
	for _, o := range opts {
		o(&e.cfg)
	}
	if e.si, err = authn.NewSignIn(e.cfg); err != nil {
		tb.Fatal(err)
	}
	return e
}

func (e *env) ctx() context.Context { return context.Background() }

// restart makes a new SignIn on the same store and configuration, as a
// process that starts now.
func (e *env) restart() {
	e.t.Helper()
	si, err := authn.NewSignIn(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.si = si
}

func (e *env) user(name string, src authn.Source) authn.User {
	e.t.Helper()
	u := authn.User{ID: authn.NewID(), Username: name, DisplayName: name, Email: name + "@example.org",
		Status: authn.StatusActive, Source: src, CreatedAt: t0, UpdatedAt: t0}
	if err := e.store.CreateUser(e.ctx(), u, audit("user.create", u.ID)); err != nil {
		e.t.Fatal(err)
	}
	return u
}

func audit(action, userID string) authn.AuditEvent {
	return authn.AuditEvent{Time: t0, Actor: "system", Action: action, Subject: "user:" + userID}
}

// device is a software security key with one credential.
type device struct {
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
	rec  authn.Credential
}

// newP256 returns a credential whose public key coordinates are 32 bytes
// each (virtualwebauthn drops leading zero bytes).
func newP256(tb testing.TB) virtualwebauthn.Credential {
	for {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		if len(k.X.Bytes()) != 32 || len(k.Y.Bytes()) != 32 {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			tb.Fatal(err)
		}
		return virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
	}
}

// addKey registers a security key for u: backup-eligible (a synced passkey)
// or not, with a starting sign count; uv tells whether it verifies the
// person.
func (e *env) addKey(u authn.User, be, uv bool, count uint32) *device {
	e.t.Helper()
	return e.addKeyAs(u, be, uv, count, nil)
}

// addAttestedKey registers a key for u as registration stores one whose
// attestation chain (DER, leaf first) ended in a trusted root.
func (e *env) addAttestedKey(u authn.User, uv bool, chain []byte) *device {
	e.t.Helper()
	return e.addKeyAs(u, false, uv, 0, func(c *authn.Credential) { c.Attested, c.AttestationChain = true, chain })
}

// addKeyAs is addKey with the stored record changed by rec (nil: none).
func (e *env) addKeyAs(u authn.User, be, uv bool, count uint32, rec func(*authn.Credential)) *device {
	e.t.Helper()
	d := &device{cred: newP256(e.t)}
	d.auth = virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{
		UserNotVerified: !uv, BackupEligible: be, BackupState: be, UserHandle: []byte(u.ID),
	})
	d.cred.Counter = count
	d.auth.AddCredential(d.cred)
	d.rec = authn.Credential{
		ID: authn.NewID(), UserID: u.ID, Kind: authn.KindWebAuthn, Nickname: "key", CreatedAt: t0,
		WebAuthnID: d.cred.ID, PublicKey: d.cred.Key.AttestationData(), SignCount: count,
		AAGUID: d.auth.Aaguid[:], Transports: []string{"usb"}, BackupEligible: be, AttestationFmt: "packed",
	}
	if rec != nil {
		rec(&d.rec)
	}
	if err := e.store.CreateCredential(e.ctx(), d.rec, audit("credential.create", u.ID)); err != nil {
		e.t.Fatal(err)
	}
	return d
}

// sign answers options (from BeginKey/BeginPasskey) with the device's
// credential and the next sign count (count, when count ≥ 0).
func (e *env) sign(d *device, options []byte, count int64) []byte {
	e.t.Helper()
	opts, err := virtualwebauthn.ParseAssertionOptions(string(options))
	if err != nil {
		e.t.Fatalf("parse options %s: %v", options, err)
	}
	c := d.cred
	if count >= 0 {
		c.Counter = uint32(count)
	}
	return []byte(virtualwebauthn.CreateAssertionResponse(e.rp, d.auth, c, *opts))
}

// keyOptions is what the tests read of a key ceremony's options.
type keyOptions struct {
	Challenge        string       `json:"challenge"`
	UserVerification string       `json:"userVerification"`
	Allow            []allowedKey `json:"allowCredentials"`
}

// allowedKey is one entry of allowCredentials.
type allowedKey struct {
	ID         string   `json:"id"`
	Transports []string `json:"transports"`
}

// readOptions decodes options (from BeginKey or BeginPasskey), or fails.
func readOptions(tb testing.TB, options []byte) keyOptions {
	tb.Helper()
	var o struct {
		PublicKey keyOptions `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		tb.Fatalf("options %s: %v", options, err)
	}
	return o.PublicKey
}

// addApp gives u an authenticator app and returns its raw secret.
func (e *env) addApp(u authn.User) ([]byte, authn.Credential) {
	e.t.Helper()
	secret := make([]byte, 20)
	rand.Read(secret)
	c := authn.Credential{ID: authn.NewID(), UserID: u.ID, Kind: authn.KindTOTP, Nickname: "app", CreatedAt: t0}
	var err error
	if c.SecretSealed, err = authn.Seal(e.key, secret, []byte(c.ID)); err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.CreateCredential(e.ctx(), c, audit("credential.create", u.ID)); err != nil {
		e.t.Fatal(err)
	}
	return secret, c
}

func (e *env) code(secret []byte, at time.Time) string {
	e.t.Helper()
	c, err := authn.TOTPCode(secret, at)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) setPassword(u authn.User, pw string, p authn.Argon2Params) {
	e.t.Helper()
	phc, err := authn.HashPassword(pw, p)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.SetPasswordHash(e.ctx(), u.ID, phc, audit("password.set", u.ID)); err != nil {
		e.t.Fatal(err)
	}
}

// start begins a sign-in for username and wants Next == want.
func (e *env) start(username string, want authn.Step) authn.Progress {
	e.t.Helper()
	p, err := e.si.Start(e.ctx(), username, "/account", client)
	if err != nil {
		e.t.Fatalf("Start(%s): %v", username, err)
	}
	if p.Next != want || len(p.PendingID) == 0 {
		e.t.Fatalf("Start(%s) = %+v, want Next %s and a pending id", username, p, want)
	}
	return p
}

// beginKey opens a key ceremony on p.
func (e *env) beginKey(p authn.Progress) ([]byte, authn.Progress) {
	e.t.Helper()
	opts, p, err := e.si.BeginKey(e.ctx(), p.PendingID)
	if err != nil {
		e.t.Fatalf("BeginKey: %v", err)
	}
	return opts, p
}

// reason returns the Reason of a *SignInError, or fails.
func reason(tb testing.TB, err error) authn.Reason {
	tb.Helper()
	var se *authn.SignInError
	if !errors.As(err, &se) {
		tb.Fatalf("error %v is not a *SignInError", err)
	}
	return se.Reason
}

// wantRefused wants err to be a refusal for r, and a new pending id for a
// retry (none for ReasonExpired).
func wantRefused(tb testing.TB, what string, p authn.Progress, err error, r authn.Reason) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("%s succeeded (%+v), want %s", what, p, r)
	}
	if got := reason(tb, err); got != r {
		tb.Fatalf("%s: reason %s (%v), want %s", what, got, err, r)
	}
	if r != authn.ReasonExpired && len(p.PendingID) == 0 {
		tb.Fatalf("%s: refused without a new pending id to try again", what)
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// wantCause wants the logged cause of err to mention part.
func wantCause(tb testing.TB, err error, part string) {
	tb.Helper()
	if err == nil || !strings.Contains(err.Error(), part) {
		tb.Errorf("error %v, want a cause mentioning %q", err, part)
	}
}

// replaceAllow sets the options' allowCredentials to the one id.
func replaceAllow(tb testing.TB, opts []byte, id []byte) []byte {
	tb.Helper()
	var o map[string]any
	if err := json.Unmarshal(opts, &o); err != nil {
		tb.Fatal(err)
	}
	o["publicKey"].(map[string]any)["allowCredentials"] = []map[string]string{{"type": "public-key", "id": b64(id)}}
	out, err := json.Marshal(o)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
