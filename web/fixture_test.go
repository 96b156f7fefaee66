package web

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
)

// fixture is a real Keyhall web server on 127.0.0.1 with a real SQLite
// store in a temp dir, reachable as http://localhost:PORT.
type fixture struct {
	t      testing.TB
	srv    *Server
	store  *sqlstore.Store
	base   string // public URL, http://localhost:PORT
	sealer [32]byte
	logs   *lockedBuffer
}

// lockedBuffer collects the server's log, shown when a test fails.
type lockedBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testArgon2 keeps password hashing fast in tests.
var testArgon2 = authn.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}

// newFixture starts the server; opts may change its Config first.
func newFixture(t testing.TB, opts ...func(*Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	// Not t.TempDir: a fuzz seed's name ("seed#0") is no valid SQLite path.
	dir, err := os.MkdirTemp("", "keyhall-web-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	st, err := sqlstore.Open(ctx, "sqlite://"+filepath.Join(dir, "keyhall.db"), sqlstore.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, store: st, logs: &lockedBuffer{}}
	f.base = "http://localhost:" + strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")
	pub, _ := url.Parse(f.base)
	rand.Read(f.sealer[:])
	fake := make([]byte, 32)
	rand.Read(fake)
	logger := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := Config{PublicURL: pub, Logger: logger, SignIn: authn.SignInConfig{
		EncryptionKey: f.sealer, FakeIDKey: fake, Argon2: testArgon2,
	}}
	for _, o := range opts {
		o(&cfg)
	}
	f.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.srv.SetStore(st, nil); err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: f.srv, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
		st.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", f.logs.String())
		}
	})
	return f
}

func (f *fixture) audit(action string) authn.AuditEvent {
	return authn.AuditEvent{Time: time.Now(), Actor: "test", Action: action}
}

// addUser creates an active local person.
func (f *fixture) addUser(name string) authn.User {
	f.t.Helper()
	u := authn.User{
		ID: authn.NewID(), Username: name, DisplayName: "Test " + name, Status: authn.StatusActive,
		Source: authn.SourceLocal, CreatedAt: time.Now(), UpdatedAt: time.Now(),
	}
	if err := f.store.CreateUser(context.Background(), u, f.audit("user.create")); err != nil {
		f.t.Fatal(err)
	}
	return u
}

// setPassword gives the person a local password.
func (f *fixture) setPassword(u authn.User, pw string) {
	f.t.Helper()
	phc, err := authn.HashPassword(pw, testArgon2)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.store.SetPasswordHash(context.Background(), u.ID, phc, f.audit("password.set")); err != nil {
		f.t.Fatal(err)
	}
}

// addTOTP gives the person an authenticator app and returns its secret.
func (f *fixture) addTOTP(u authn.User) []byte {
	f.t.Helper()
	secret := make([]byte, 20)
	rand.Read(secret)
	c := authn.Credential{ID: authn.NewID(), UserID: u.ID, Kind: authn.KindTOTP, Nickname: "App", CreatedAt: time.Now()}
	var err error
	if c.SecretSealed, err = authn.Seal(f.sealer, secret, []byte(c.ID)); err != nil {
		f.t.Fatal(err)
	}
	if err := f.store.CreateCredential(context.Background(), c, f.audit("credential.create")); err != nil {
		f.t.Fatal(err)
	}
	return secret
}

// totpCode is the app's code now.
func totpCode(t testing.TB, secret []byte) string {
	t.Helper()
	code, err := authn.TOTPCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// addRecoveryCodes replaces the person's recovery codes with codes.
func (f *fixture) addRecoveryCodes(u authn.User, codes ...string) {
	f.t.Helper()
	var hs []authn.TokenHash
	for _, c := range codes {
		hs = append(hs, authn.HashRecoveryCode(c))
	}
	if err := f.store.ReplaceRecoveryCodes(context.Background(), u.ID, hs, f.audit("recovery_codes.replace")); err != nil {
		f.t.Fatal(err)
	}
}

// testKey is a security key's credential: its id, its EC P-256 key pair
// (PKCS#8 for Chromium's virtual authenticator, COSE for the store).
type testKey struct {
	id     []byte
	pkcs8  []byte
	cose   []byte
	credID string // the store's Credential.ID
}

func newTestKey(t testing.TB) testKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	point, err := priv.PublicKey.Bytes() // 0x04 ‖ X ‖ Y
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	rand.Read(id)
	return testKey{id: id, pkcs8: pkcs8, cose: coseEC2(point[1:33], point[33:65])}
}

// coseEC2 encodes an ES256 public key as a COSE_Key (RFC 9053 §7.1.1):
// the CBOR map {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}.
func coseEC2(x, y []byte) []byte {
	b := []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20}
	b = append(b, x...)
	b = append(b, 0x22, 0x58, 0x20)
	return append(b, y...)
}

// addKey registers k for the person with the given stored sign count.
func (f *fixture) addKey(u authn.User, k *testKey, signCount uint32) {
	f.t.Helper()
	k.credID = authn.NewID()
	c := authn.Credential{
		ID: k.credID, UserID: u.ID, Kind: authn.KindWebAuthn, Nickname: "YubiKey", CreatedAt: time.Now(),
		WebAuthnID: k.id, PublicKey: k.cose, SignCount: signCount, AAGUID: make([]byte, 16),
		Transports: []string{"usb"}, AttestationFmt: "none",
	}
	if err := f.store.CreateCredential(context.Background(), c, f.audit("credential.create")); err != nil {
		f.t.Fatal(err)
	}
}

// client is a plain HTTP client that keeps cookies by hand (Go's cookie
// jar will not send Secure cookies over http://localhost) and never
// follows redirects.
type client struct {
	t       testing.TB
	base    string
	cookies map[string]string
}

func (f *fixture) client() *client {
	return &client{t: f.t, base: f.base, cookies: make(map[string]string)}
}

// do sends a request and records the cookies it sets.
func (c *client) do(method, path, contentType string, body io.Reader) *http.Response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept-Language", "de-DE")
	for k, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	res, err := (&http.Transport{}).RoundTrip(req)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck.Value
		}
	}
	return res
}

// form posts a form and returns the response with its body read.
func (c *client) form(path string, v url.Values) (*http.Response, string) {
	c.t.Helper()
	res := c.do("POST", path, "application/x-www-form-urlencoded", strings.NewReader(v.Encode()))
	return res, readBody(c.t, res)
}

func (c *client) get(path string) (*http.Response, string) {
	c.t.Helper()
	res := c.do("GET", path, "", nil)
	return res, readBody(c.t, res)
}

func readBody(t testing.TB, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return string(b)
}
