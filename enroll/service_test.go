package enroll_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/enroll"
)

// clock is a settable time for the service under test.
type clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

type fixture struct {
	svc    *enroll.Service
	store  *sqlstore.Store
	clock  *clock
	root   testCA
	leaf   testCA
	policy enroll.Policy
	cfg    enroll.Config
}

const origin = "http://localhost:8080"

// newFixture opens a real SQLite store in a temp file and a Service whose
// group "rat" must use a key attested by a test root.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "keyhall.db"),
		sqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{store: st, clock: &clock{t: time.Now().UTC()}, root: newRootCA(t, "Test Root")}
	f.leaf = f.root.leaf(t, testAAGUID, time.Now().AddDate(0, -1, 0), time.Now().AddDate(5, 0, 0))
	pub, _ := url.Parse(origin)
	f.policy = enroll.Policy{Default: enroll.DefaultKeyPolicy(), Groups: map[string]enroll.KeyPolicy{
		"rat": {NeedDE: "einen Testschlüssel", NeedEN: "a test key", TrustedRoots: []*x509.Certificate{f.root.cert},
			AAGUIDs: []uuid.UUID{testAAGUID}, RefuseSynced: true, RequireUV: true},
	}}
	f.cfg = enroll.Config{
		Store: st, PublicURL: pub, EncryptionKey: [32]byte{1, 2, 3}, Now: f.clock.now,
		Logger: slog.New(slog.DiscardHandler), Policy: f.policy, RPName: "Stadt Münster", Argon2: cheapArgon2,
	}
	f.svc = f.serviceOn(t, st)
	return f
}

// serviceOn is another Service like f.svc, on st: another process on the
// same database, or st wrapping f.store to inject a fault.
func (f *fixture) serviceOn(t *testing.T, st enroll.Store) *enroll.Service {
	t.Helper()
	cfg := f.cfg
	cfg.Store = st
	svc, err := enroll.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func (f *fixture) user(t *testing.T, name string, groups ...string) authn.User {
	t.Helper()
	ctx := t.Context()
	now := f.clock.now()
	u := authn.User{ID: authn.NewID(), Username: name, DisplayName: name, Status: authn.StatusActive,
		Source: authn.SourceLocal, CreatedAt: now, UpdatedAt: now}
	ev := authn.AuditEvent{Time: now, Actor: "test", Action: "user.create"}
	must(t, f.store.CreateUser(ctx, u, ev))
	for _, g := range groups {
		grp, err := f.store.GetGroupByName(ctx, g)
		if errors.Is(err, authn.ErrNotFound) {
			grp = authn.Group{ID: authn.NewID(), Name: g, Source: authn.SourceLocal, CreatedAt: now}
			must(t, f.store.CreateGroup(ctx, grp, ev))
		}
		must(t, f.store.AddMember(ctx, grp.ID, u.ID, ev))
	}
	return u
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantReason(t *testing.T, what string, err error, r enroll.Reason) {
	t.Helper()
	if !enroll.IsReason(err, r) {
		t.Fatalf("%s: got %v, want reason %q", what, err, r)
	}
}

func token(link string) string { return link[strings.LastIndex(link, "/")+1:] }

// register runs BeginKey and answers with reg, built for its challenge.
func (f *fixture) register(t *testing.T, id []byte, reg keyReg) (enroll.NewKey, enroll.Progress, error) {
	t.Helper()
	return f.registerOn(t, f.svc, id, reg, "")
}

// redeemOn issues an invitation for u and redeems it with svc (another
// Service on the same database, or one on a store wrapped to inject a
// fault): the enrollment as it stands before the first factor.
func (f *fixture) redeemOn(t *testing.T, svc *enroll.Service, u authn.User) enroll.Progress {
	t.Helper()
	inv, err := f.svc.Issue(t.Context(), u.ID, 0, "cli:root", "")
	must(t, err)
	pr, err := svc.Redeem(t.Context(), enroll.Redemption{Token: token(inv.Link)})
	must(t, err)
	return pr
}

// registerNamed is register with the nickname typed for the key.
func (f *fixture) registerNamed(t *testing.T, id []byte, reg keyReg, nickname string) (enroll.NewKey, enroll.Progress, error) {
	t.Helper()
	return f.registerOn(t, f.svc, id, reg, nickname)
}

// registerOn is registerNamed with the Service svc.
func (f *fixture) registerOn(t *testing.T, svc *enroll.Service, id []byte, reg keyReg, nickname string) (enroll.NewKey, enroll.Progress, error) {
	t.Helper()
	opts, pr, err := svc.BeginKey(t.Context(), id)
	if err != nil {
		t.Fatalf("BeginKey: %v", err)
	}
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			RP        struct{ ID string }
		} `json:"publicKey"`
	}
	must(t, json.Unmarshal(opts, &o))
	reg.challenge, reg.rpID, reg.origin = o.PublicKey.Challenge, o.PublicKey.RP.ID, origin
	return svc.FinishKey(t.Context(), pr.ID, reg.build(t), nickname)
}

func (f *fixture) attested() keyReg { return keyReg{aaguid: testAAGUID, attest: &f.leaf} }

var (
	codeFormat  = regexp.MustCompile(`^[2-9A-HJKMNP-Z]{4}(-[2-9A-HJKMNP-Z]{4}){3}$`)
	tokenFormat = regexp.MustCompile(`^[2-9A-HJKMNP-Z]{4}(-[2-9A-HJKMNP-Z]{4}){12}$`)
)

func TestIssueAndRedeem(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	anna, bernd := f.user(t, "anna"), f.user(t, "bernd")
	inv, err := f.svc.Issue(ctx, anna.ID, 0, "cli:root", "neue Ratsfrau")
	must(t, err)
	if !strings.HasPrefix(inv.Link, origin+"/enroll/") || !tokenFormat.MatchString(token(inv.Link)) || !codeFormat.MatchString(inv.Code) {
		t.Fatalf("invitation %+v", inv)
	}
	typed := strings.ToLower(strings.ReplaceAll(inv.Code, "-", " "))
	for _, r := range []enroll.Redemption{{Token: token(inv.Link)}, {Username: "Anna", Code: typed}} {
		pr, err := f.svc.Redeem(ctx, r)
		must(t, err)
		if pr.User.ID != anna.ID || pr.Consumed || len(pr.ID) != 32 {
			t.Errorf("Redeem(%+v) = %+v", r, pr)
		}
	}
	_, err = f.svc.Redeem(ctx, enroll.Redemption{Username: "bernd", Code: inv.Code})
	wantReason(t, "anna's code for bernd", err, enroll.ReasonWrongCode)
	_, err = f.svc.Redeem(ctx, enroll.Redemption{Username: "anna", Code: "O0O0-1111-IIII-LLLL"})
	wantReason(t, "malformed code", err, enroll.ReasonWrongCode)
	_, err = f.svc.Redeem(ctx, enroll.Redemption{Token: otherToken(token(inv.Link))})
	wantReason(t, "wrong token", err, enroll.ReasonWrongCode)

	newer, err := f.svc.Issue(ctx, anna.ID, 0, "cli:root", "Brief verloren")
	must(t, err)
	_, err = f.svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link)})
	wantReason(t, "voided invitation", err, enroll.ReasonUsed)
	_, err = f.svc.Redeem(ctx, enroll.Redemption{Username: "anna", Code: inv.Code})
	wantReason(t, "voided code", err, enroll.ReasonWrongCode)

	short, err := f.svc.Issue(ctx, bernd.ID, time.Hour, "cli:root", "")
	must(t, err)
	f.clock.add(2 * time.Hour)
	_, err = f.svc.Redeem(ctx, enroll.Redemption{Token: token(short.Link)})
	wantReason(t, "expired invitation", err, enroll.ReasonExpired)
	_, err = f.svc.Redeem(ctx, enroll.Redemption{Token: token(newer.Link)})
	must(t, err)
}

func TestRedeemThrottled(t *testing.T) {
	f := newFixture(t)
	anna := f.user(t, "anna")
	inv, err := f.svc.Issue(t.Context(), anna.ID, 0, "cli:root", "")
	must(t, err)
	for i := range 10 {
		_, err := f.svc.Redeem(t.Context(), enroll.Redemption{Username: "anna", Code: "2222-2222-2222-2222", Client: authn.ClientInfo{Addr: "198.51.100.7"}})
		wantReason(t, "wrong code "+string(rune('0'+i)), err, enroll.ReasonWrongCode)
	}
	_, err = f.svc.Redeem(t.Context(), enroll.Redemption{Username: "anna", Code: inv.Code, Client: authn.ClientInfo{Addr: "203.0.113.9"}})
	wantReason(t, "right code after 10 wrong ones", err, enroll.ReasonThrottled)
}

func TestRegisterKey(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	rita := f.user(t, "rita", "rat")
	inv, err := f.svc.Issue(ctx, rita.ID, 0, "cli:root", "")
	must(t, err)
	pr, err := f.svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link)})
	must(t, err)

	none := keyReg{aaguid: uuid.MustParse("01020304-0506-0708-0102-030405060708"), fmt: "none"}
	_, pr, err = f.register(t, pr.ID, none)
	wantReason(t, "none attestation for rat", err, enroll.ReasonUntrusted)
	if pr.ID == nil || pr.Consumed {
		t.Fatalf("a refused key must leave the enrollment open: %+v", pr)
	}
	key, pr, err := f.register(t, pr.ID, f.attested())
	must(t, err)
	if !pr.Consumed || pr.Factors != 1 || key.Credential.UserID != rita.ID || string(key.Credential.AAGUID) != string(testAAGUID[:]) {
		t.Fatalf("after the first key: %+v, %+v", pr, key)
	}
	_, err = f.svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link)})
	wantReason(t, "replayed link", err, enroll.ReasonUsed)

	spare := f.attested()
	spare.credID = []byte("spare-key-in-the-drawer-0123456789")
	_, pr, err = f.register(t, pr.ID, spare)
	must(t, err)
	_, pr, err = f.register(t, pr.ID, spare)
	wantReason(t, "same key again", err, enroll.ReasonDuplicate)
	synced := f.attested()
	synced.flags = flagUP | flagUV | flagAT | flagBE
	_, _, err = f.register(t, pr.ID, synced)
	wantReason(t, "synced passkey for rat", err, enroll.ReasonSynced)

	creds, err := f.store.ListCredentials(ctx, rita.ID)
	must(t, err)
	if len(creds) != 2 {
		t.Errorf("%d credentials stored, want 2", len(creds))
	}
}

// TestConcurrentRedemption: two browsers redeem one link and register a key
// at the same moment; exactly one key is stored.
func TestConcurrentRedemption(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	anna := f.user(t, "anna")
	inv, err := f.svc.Issue(ctx, anna.ID, 0, "cli:root", "")
	must(t, err)
	const n = 2
	ids := make([][]byte, n)
	regs := make([][]byte, n)
	for i := range n {
		pr, err := f.svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link)})
		must(t, err)
		opts, pr, err := f.svc.BeginKey(ctx, pr.ID)
		must(t, err)
		var o struct{ PublicKey struct{ Challenge string } }
		must(t, json.Unmarshal(opts, &o))
		ids[i] = pr.ID
		regs[i] = keyReg{rpID: "localhost", origin: origin, challenge: o.PublicKey.Challenge, fmt: "none"}.build(t)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, _, errs[i] = f.svc.FinishKey(context.Background(), ids[i], regs[i], "") })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !enroll.IsReason(err, enroll.ReasonUsed):
			t.Errorf("FinishKey: %v, want nil or ReasonUsed", err)
		}
	}
	creds, _ := f.store.ListCredentials(ctx, anna.ID)
	if ok != 1 || len(creds) != 1 {
		t.Errorf("%d of %d registrations succeeded, %d keys stored; want exactly 1", ok, n, len(creds))
	}
}

func TestBootstrapLeadsThroughRedemption(t *testing.T) {
	f := newFixture(t)
	pub, _ := url.Parse(origin)
	link, _, err := enroll.Bootstrap(t.Context(), f.store, enroll.BootstrapParams{PublicURL: pub, Username: "admin", Group: "admins", Now: f.clock.now()})
	must(t, err)
	pr, err := f.svc.Redeem(t.Context(), enroll.Redemption{Token: token(link)})
	must(t, err)
	_, pr, err = f.register(t, pr.ID, keyReg{fmt: "none"})
	must(t, err)
	if pr.User.Username != "admin" || !pr.Consumed {
		t.Errorf("bootstrap enrollment: %+v", pr)
	}
}

// TestKeyWithoutPasswordMustVerify: a person Keyhall holds no password for
// could never complete a sign-in with a key that does not verify her, so
// such a key is refused for her; with a password it is accepted.
func TestKeyWithoutPasswordMustVerify(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	paul := f.user(t, "paul")
	inv, err := f.svc.Issue(ctx, paul.ID, 0, "cli:root", "")
	must(t, err)
	pr, err := f.svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link)})
	must(t, err)
	opts, pr, err := f.svc.BeginKey(ctx, pr.ID)
	must(t, err)
	if !strings.Contains(string(opts), `"userVerification":"required"`) {
		t.Errorf("options for a person without a password do not require user verification:\n%s", opts)
	}
	noPIN := keyReg{fmt: "none", flags: flagUP | flagAT}
	_, pr, err = f.register(t, pr.ID, noPIN)
	wantReason(t, "key without PIN, person without password", err, enroll.ReasonUV)

	phc, err := authn.HashPassword("ein langes Passwort", authn.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1})
	must(t, err)
	must(t, f.store.SetPasswordHash(ctx, paul.ID, phc, authn.AuditEvent{Time: f.clock.now(), Actor: "test", Action: "password.set"}))
	_, _, err = f.register(t, pr.ID, noPIN)
	must(t, err)
}

// cheapArgon2 keeps the tests' password hashing fast.
var cheapArgon2 = authn.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}

// withPassword gives u a local password, as her enrollment or /account
// would, and returns u.
func (f *fixture) withPassword(t *testing.T, u authn.User) authn.User {
	t.Helper()
	phc, err := authn.HashPassword("ein langes Passwort", cheapArgon2)
	must(t, err)
	must(t, f.store.SetPasswordHash(t.Context(), u.ID, phc, authn.AuditEvent{Time: f.clock.now(), Actor: "test", Action: "password.set"}))
	return u
}
