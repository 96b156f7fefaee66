package ldapsync_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/ldapsync"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

func TestMain(m *testing.M) {
	defer ldaptest.StopSamba()
	m.Run()
}

// quiet is the logger of the tests; KEYHALL_TEST_LOG=1 shows it.
func quiet() *slog.Logger {
	if os.Getenv("KEYHALL_TEST_LOG") != "" {
		return slog.Default()
	}
	return slog.New(slog.DiscardHandler)
}

// adConfig is the Config of the test domain s, with the Administrator as
// the service account.
func adConfig(s *ldaptest.Samba) ldapsync.Config {
	return ldapsync.Config{
		Name: "ad", URL: s.URL, CAFile: s.CAFile, BindDN: s.AdminDN, BindPassword: s.AdminPassword,
		BaseDNs: []string{s.BaseDN}, Preset: ldapsync.PresetActiveDirectory,
		UserFilter: "(&(objectClass=user)(objectCategory=person))", Timeout: 2 * time.Second,
	}
}

func newVerifier(tb testing.TB, cfgs ...ldapsync.Config) *ldapsync.Verifier {
	tb.Helper()
	v, err := ldapsync.NewVerifier(cfgs, quiet())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { v.Close() })
	return v
}

// dirUser is how Keyhall holds the directory person su of directory "ad".
func dirUser(su ldaptest.SambaUser) authn.User {
	now := time.Now()
	return authn.User{ID: authn.NewID(), ExternalID: su.GUID, Username: su.Name, DisplayName: su.Name,
		Status: authn.StatusActive, Source: authn.SourceDirectory, Directory: "ad", CreatedAt: now, UpdatedAt: now}
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
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

// flow is Keyhall's sign-in (authn) on a real SQLite store, with a
// directory behind it, and a software security key per person.
type flow struct {
	t     testing.TB
	store *sqlstore.Store
	si    *authn.SignIn
	rp    virtualwebauthn.RelyingParty
}

var client = authn.ClientInfo{Addr: "192.0.2.7", UserAgent: "test"}

func newFlow(tb testing.TB, cfg func(*authn.SignInConfig)) *flow {
	tb.Helper()
	st, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(tb.TempDir(), "keyhall.db"),
		sqlstore.Options{Logger: quiet()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	f := &flow{t: tb, store: st,
		rp: virtualwebauthn.RelyingParty{Name: "Keyhall", ID: "localhost", Origin: "http://localhost:8080"}}
	var key [32]byte
	rand.Read(key[:])
	c := authn.SignInConfig{
		Store: st, RPID: "localhost", RPOrigin: "http://localhost:8080", EncryptionKey: key,
		FakeIDKey: []byte("0123456789abcdef-fake-id-key"), Argon2: authn.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1},
		Logger: quiet(),
	}
	cfg(&c)
	if f.si, err = authn.NewSignIn(c); err != nil {
		tb.Fatal(err)
	}
	return f
}

// key is a software security key of one person.
type key struct {
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
	n    uint32
}

// addPerson stores u with a security key that verifies her (PIN) or not.
func (f *flow) addPerson(u authn.User, uv bool) *key {
	f.t.Helper()
	ctx := context.Background()
	ev := authn.AuditEvent{Time: time.Now(), Actor: "test", Action: "user.create", Subject: "user:" + u.ID}
	if err := f.store.CreateUser(ctx, u, ev); err != nil {
		f.t.Fatal(err)
	}
	k := &key{cred: newP256(f.t)}
	k.auth = virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{
		UserNotVerified: !uv, UserHandle: []byte(u.ID)})
	k.auth.AddCredential(k.cred)
	rec := authn.Credential{ID: authn.NewID(), UserID: u.ID, Kind: authn.KindWebAuthn, Nickname: "key",
		CreatedAt: time.Now(), WebAuthnID: k.cred.ID, PublicKey: k.cred.Key.AttestationData(),
		AAGUID: k.auth.Aaguid[:], AttestationFmt: "packed"}
	ev.Action = "credential.create"
	if err := f.store.CreateCredential(ctx, rec, ev); err != nil {
		f.t.Fatal(err)
	}
	return k
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

// signInWithKey signs username in with k up to what follows the key: the
// Progress and error of FinishKey.
func (f *flow) signInWithKey(username string, k *key) (authn.Progress, error) {
	f.t.Helper()
	ctx := context.Background()
	p, err := f.si.Start(ctx, username, "/account", client)
	if err != nil {
		f.t.Fatal(err)
	}
	opts, p, err := f.si.BeginKey(ctx, p.PendingID)
	if err != nil {
		f.t.Fatal(err)
	}
	ao, err := virtualwebauthn.ParseAssertionOptions(string(opts))
	if err != nil {
		f.t.Fatal(err)
	}
	k.n++
	c := k.cred
	c.Counter = k.n
	return f.si.FinishKey(ctx, p.PendingID, []byte(virtualwebauthn.CreateAssertionResponse(f.rp, k.auth, c, *ao)), client)
}

// reason is the Reason of a refusal, "" for none, or fails for another error.
func reason(tb testing.TB, err error) authn.Reason {
	tb.Helper()
	if err == nil {
		return ""
	}
	var se *authn.SignInError
	if !errors.As(err, &se) {
		tb.Fatalf("%v is not a refusal", err)
	}
	return se.Reason
}
