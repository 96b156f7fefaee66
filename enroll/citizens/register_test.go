package citizens

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/authn/sqlstore/pgtest"
	"github.com/keyhall/keyhall/enroll"
)

func TestMain(m *testing.M) {
	defer pgtest.StopShared()
	m.Run()
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// regMailbox is the Mailer of the tests: it keeps what was sent.
type regMailbox struct {
	ch chan enroll.Message
}

func (m *regMailbox) Send(_ context.Context, msg enroll.Message) error {
	m.ch <- msg
	return nil
}

// next waits for the next mail.
func (m *regMailbox) next(t *testing.T) enroll.Message {
	t.Helper()
	select {
	case msg := <-m.ch:
		return msg
	case <-time.After(10 * time.Second):
		t.Fatal("no mail within 10 s")
	}
	return enroll.Message{}
}

type fixture struct {
	svc   *Service
	store *sqlstore.Store
	clock *clock
	mail  *regMailbox
}

var dialects = []struct {
	name string
	url  func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "keyhall.db") }},
	{"postgres", func(t *testing.T) string { return pgtest.Shared(t).NewDatabase(t) }},
}

// eachDialect runs f against a real SQLite and a real PostgreSQL store.
func eachDialect(t *testing.T, f func(t *testing.T, fx *fixture)) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) { f(t, newFixture(t, d.url(t))) })
	}
}

func newFixture(t *testing.T, storeURL string) *fixture {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), storeURL, sqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fx := &fixture{store: st, clock: &clock{t: time.Now().UTC()}, mail: &regMailbox{ch: make(chan enroll.Message, 100)}}
	pub, _ := url.Parse("http://localhost:8080")
	en, err := enroll.New(enroll.Config{Store: st, PublicURL: pub, EncryptionKey: [32]byte{1, 2, 3}, Now: fx.clock.now,
		Logger: slog.New(slog.DiscardHandler), Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy(),
			Groups: map[string]enroll.KeyPolicy{"buerger": KeyPolicy(enroll.KeyPolicy{}, false)}},
		Argon2: authn.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	fx.svc, err = New(Config{Store: st, Enroll: en, PublicURL: pub, Group: "buerger", Mailer: fx.mail,
		Logger: slog.New(slog.DiscardHandler), Now: fx.clock.now, EncryptionKey: [32]byte{4, 5, 6}})
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

var linkRE = regexp.MustCompile(`http://localhost:8080/register/confirm/([A-Za-z0-9_-]+)`)

// register starts a registration for email from browser and returns the
// link's token from the mail.
func (fx *fixture) register(t *testing.T, email string, browser []byte) string {
	t.Helper()
	err := fx.svc.Start(t.Context(), Request{Email: email, DisplayName: "Anna Müller", Binding: browser,
		Client: authn.ClientInfo{Addr: "203.0.113.7"}})
	if err != nil {
		t.Fatal(err)
	}
	m := fx.mail.next(t)
	got := linkRE.FindStringSubmatch(m.Body)
	if got == nil {
		t.Fatalf("mail to %s (%q) has no registration link:\n%s", m.To, m.Subject, m.Body)
	}
	return got[1]
}

var (
	browserA = []byte("browser A's random binding value")
	browserB = []byte("browser B's random binding value")
	client   = authn.ClientInfo{Addr: "203.0.113.7"}
)

func TestRegisterCreatesCitizen(t *testing.T) {
	eachDialect(t, func(t *testing.T, fx *fixture) {
		ctx := t.Context()
		token := fx.register(t, " Anna.Mueller@Example.ORG ", browserA)
		p, err := fx.svc.Confirm(ctx, token, browserA, client)
		if err != nil {
			t.Fatal(err)
		}
		u, err := fx.store.GetUserByUsername(ctx, "anna.mueller@example.org")
		if err != nil {
			t.Fatal(err)
		}
		if u.Source != authn.SourceLocal || u.DisplayName != "Anna Müller" || !u.EmailVerified() ||
			u.Email != "anna.mueller@example.org" || p.User.ID != u.ID || len(p.ID) == 0 {
			t.Errorf("citizen %+v, progress %+v", u, p)
		}
		groups, err := fx.store.UserGroups(ctx, u.ID)
		if err != nil || len(groups) != 1 || groups[0].Name != "buerger" || groups[0].Source != authn.SourceLocal {
			t.Errorf("groups %+v, %v; want the local group buerger", groups, err)
		}
		// The ordinary enrollment under the citizens' policy: a key that
		// verifies her (synced passkeys too), an app also alone, recovery
		// codes, and never a password.
		if !p.Offer.App || !p.Offer.RecoveryCodes || p.Offer.SetPassword || !p.Offer.NoPassword ||
			!p.Rules.RequireUV() || !p.Rules.TOTPAlone() || p.Consumed {
			t.Errorf("offer %+v, rules %+v", p.Offer, p.Rules)
		}
		for _, g := range p.Rules.Groups {
			if g.RefuseSynced {
				t.Errorf("the citizens' policy refuses synced passkeys: %+v", g)
			}
		}
		reg, err := fx.store.GetRegistration(ctx, u.ID)
		if err != nil || !reg.FinishedAt.IsZero() {
			t.Errorf("registration %+v, %v; want unfinished", reg, err)
		}
	})
}

func TestRegisterKnownAddressGetsSignInMail(t *testing.T) {
	eachDialect(t, func(t *testing.T, fx *fixture) {
		ctx := t.Context()
		now := fx.clock.now()
		err := fx.store.CreateUser(ctx, authn.User{ID: authn.NewID(), Username: "bert@example.org", Email: "bert@example.org",
			Status: authn.StatusActive, Source: authn.SourceLocal, CreatedAt: now, UpdatedAt: now},
			authn.AuditEvent{Time: now, Actor: "test", Action: "user.create"})
		if err != nil {
			t.Fatal(err)
		}
		if err := fx.svc.Start(ctx, Request{Email: "Bert@example.org", DisplayName: "Bert", Binding: browserA, Client: client}); err != nil {
			t.Fatalf("Start for a known address: %v (must answer as for a new one)", err)
		}
		m := fx.mail.next(t)
		if m.To != "bert@example.org" || linkRE.MatchString(m.Body) || !strings.Contains(m.Body, "http://localhost:8080/login") ||
			!strings.Contains(m.Subject, "bereits") {
			t.Errorf("mail to a known address: %+v", m)
		}
	})
}

// nothingCreated fails unless the store holds users people.
func (fx *fixture) people(t *testing.T) int {
	t.Helper()
	n, err := fx.store.CountUsers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestConfirmRefusals(t *testing.T) {
	eachDialect(t, func(t *testing.T, fx *fixture) {
		ctx := t.Context()
		token := fx.register(t, "carla@example.org", browserA)
		tampered := []byte(token)
		tampered[len(tampered)/2] ^= 1
		for _, tc := range []struct {
			name    string
			token   string
			browser []byte
			want    RegisterReason
		}{
			{"other browser", token, browserB, RegisterOtherBrowser},
			{"no cookie", token, nil, RegisterOtherBrowser},
			{"malformed", "not-a-token!", browserA, RegisterLinkWrong},
			{"tampered", string(tampered), browserA, RegisterLinkWrong},
			{"empty", "", browserA, RegisterLinkWrong},
		} {
			if _, err := fx.svc.Confirm(ctx, tc.token, tc.browser, client); !IsRegisterReason(err, tc.want) {
				t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
			}
		}
		if n := fx.people(t); n != 0 {
			t.Fatalf("%d people after refused links", n)
		}
		// The right browser still can, once.
		if _, err := fx.svc.Confirm(ctx, token, browserA, client); err != nil {
			t.Fatal(err)
		}
		if _, err := fx.svc.Confirm(ctx, token, browserA, client); !IsRegisterReason(err, RegisterLinkUsed) {
			t.Errorf("link used twice: %v", err)
		}
		if n := fx.people(t); n != 1 {
			t.Errorf("%d people, want 1", n)
		}
		// Expired.
		late := fx.register(t, "dora@example.org", browserA)
		fx.clock.add(LinkValidity)
		if _, err := fx.svc.Confirm(ctx, late, browserA, client); !IsRegisterReason(err, RegisterLinkExpired) {
			t.Errorf("expired link: %v", err)
		}
		if n := fx.people(t); n != 1 {
			t.Errorf("%d people after an expired link, want 1", n)
		}
	})
}

func TestConfirmAddressRegisteredMeanwhile(t *testing.T) {
	eachDialect(t, func(t *testing.T, fx *fixture) {
		ctx := t.Context()
		first := fx.register(t, "emil@example.org", browserA)
		second := fx.register(t, "emil@example.org", browserB)
		p, err := fx.svc.Confirm(ctx, first, browserA, client)
		if err != nil {
			t.Fatal(err)
		}
		fx.finish(t, p.User.ID)
		if _, err := fx.svc.Confirm(ctx, second, browserB, client); !IsRegisterReason(err, RegisterTaken) {
			t.Fatalf("second link after the first finished: %v", err)
		}
		if n := fx.people(t); n != 1 {
			t.Errorf("%d people, want 1", n)
		}
		if _, err := fx.store.GetUser(ctx, p.User.ID); err != nil {
			t.Errorf("the finished registration is gone: %v", err)
		}
	})
}

func TestConfirmNewerReplacesUnfinished(t *testing.T) {
	eachDialect(t, func(t *testing.T, fx *fixture) {
		ctx := t.Context()
		first := fx.register(t, "frida@example.org", browserA)
		second := fx.register(t, "frida@example.org", browserB)
		p1, err := fx.svc.Confirm(ctx, first, browserA, client)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := fx.svc.Confirm(ctx, second, browserB, client)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fx.store.GetUser(ctx, p1.User.ID); !errors.Is(err, authn.ErrNotFound) {
			t.Errorf("the older unfinished registration is still there: %v", err)
		}
		if u, err := fx.store.GetUserByUsername(ctx, "frida@example.org"); err != nil || u.ID != p2.User.ID {
			t.Errorf("frida is %+v, %v; want the newer registration %s", u, err, p2.User.ID)
		}
		if n := fx.people(t); n != 1 {
			t.Errorf("%d people, want 1", n)
		}
	})
}

// finish stores an app for the person and marks her registration done,
// as her enrollment's end does.
func (fx *fixture) finish(t *testing.T, userID string) {
	t.Helper()
	now := fx.clock.now()
	err := fx.store.CreateCredential(t.Context(), authn.Credential{ID: authn.NewID(), UserID: userID, Kind: authn.KindTOTP,
		Nickname: "App", CreatedAt: now, SecretSealed: []byte("sealed")}, authn.AuditEvent{Time: now, Actor: "user:" + userID, Action: "credential.add", Subject: "user:" + userID})
	if err != nil {
		t.Fatal(err)
	}
	if err := fx.svc.RegistrationDone(t.Context(), userID); err != nil {
		t.Fatal(err)
	}
}

func TestRemoveUnfinished(t *testing.T) {
	eachDialect(t, func(t *testing.T, fx *fixture) {
		ctx := t.Context()
		left, err := fx.svc.Confirm(ctx, fx.register(t, "gina@example.org", browserA), browserA, client)
		if err != nil {
			t.Fatal(err)
		}
		done, err := fx.svc.Confirm(ctx, fx.register(t, "hans@example.org", browserA), browserA, client)
		if err != nil {
			t.Fatal(err)
		}
		fx.finish(t, done.User.ID)
		// Ida stored an app and closed the tab before the last page: her
		// registration counts as finished (review of #15).
		ida, err := fx.svc.Confirm(ctx, fx.register(t, "ida@example.org", browserA), browserA, client)
		if err != nil {
			t.Fatal(err)
		}
		app := authn.Credential{ID: authn.NewID(), UserID: ida.User.ID, Kind: authn.KindTOTP, Nickname: "App",
			CreatedAt: fx.clock.now(), SecretSealed: []byte("sealed")}
		if err := fx.store.CreateCredential(ctx, app, authn.AuditEvent{Time: fx.clock.now(), Actor: "test", Action: "credential.create"}); err != nil {
			t.Fatal(err)
		}
		// Not yet: a day has not passed.
		fx.clock.add(UnfinishedAfter - time.Minute)
		if n, err := fx.svc.RemoveUnfinished(ctx); err != nil || n != 0 {
			t.Fatalf("RemoveUnfinished before 24 h: %d, %v", n, err)
		}
		fx.clock.add(2 * time.Minute)
		if n, err := fx.svc.RemoveUnfinished(ctx); err != nil || n != 1 {
			t.Fatalf("RemoveUnfinished after 24 h: %d, %v; want 1", n, err)
		}
		if _, err := fx.store.GetUser(ctx, left.User.ID); !errors.Is(err, authn.ErrNotFound) {
			t.Errorf("the unfinished registration's person is still there: %v", err)
		}
		if _, err := fx.store.GetRegistration(ctx, left.User.ID); !errors.Is(err, authn.ErrNotFound) {
			t.Errorf("the unfinished registration is still there: %v", err)
		}
		if _, _, err := fx.store.OpenInvitation(ctx, left.User.ID); !errors.Is(err, authn.ErrNotFound) {
			t.Errorf("her invitation is still there: %v", err)
		}
		if _, err := fx.store.GetUser(ctx, done.User.ID); err != nil {
			t.Errorf("the finished registration was removed: %v", err)
		}
		if _, err := fx.store.GetUser(ctx, ida.User.ID); err != nil {
			t.Errorf("a registration with an app stored was removed: %v", err)
		}
		// The audit log names her only by her pseudonym, and its chain holds.
		events, err := fx.store.ListAudit(ctx, authn.AuditFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := authn.VerifyChain([32]byte{}, 0, events); err != nil {
			t.Errorf("audit chain: %v", err)
		}
		for _, e := range events {
			all := e.Actor + e.Subject + e.Reason + e.ClientAddr
			for k, v := range e.Details {
				all += k + v
			}
			if strings.Contains(all, left.User.ID) || strings.Contains(all, "gina") {
				t.Errorf("audit event %d still names her: %+v", e.Seq, e)
			}
		}
		if _, err := fx.store.GetUserByUsername(ctx, "gina@example.org"); !errors.Is(err, authn.ErrNotFound) {
			t.Errorf("gina: %v", err)
		}
		// She may register again.
		if _, err := fx.svc.Confirm(ctx, fx.register(t, "gina@example.org", browserA), browserA, client); err != nil {
			t.Errorf("registering again after removal: %v", err)
		}
	})
}

func TestStartRefusals(t *testing.T) {
	fx := newFixture(t, dialects[0].url(t))
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		r    Request
	}{
		{"no address", Request{DisplayName: "A", Binding: browserA}},
		{"not an address", Request{Email: "anna", DisplayName: "A", Binding: browserA}},
		{"with a name", Request{Email: "Anna <anna@example.org>", DisplayName: "A", Binding: browserA}},
		{"too long", Request{Email: strings.Repeat("a", 60) + "@example.org", DisplayName: "A", Binding: browserA}},
		{"no name", Request{Email: "anna@example.org", DisplayName: "  ", Binding: browserA}},
		{"name too long", Request{Email: "anna@example.org", DisplayName: strings.Repeat("x", 65), Binding: browserA}},
		{"control character", Request{Email: "anna@example.org", DisplayName: "A\u202eB", Binding: browserA}},
		{"no cookie", Request{Email: "anna@example.org", DisplayName: "A"}},
	} {
		tc.r.Client = client
		if err := fx.svc.Start(ctx, tc.r); !IsRegisterReason(err, RegisterInvalid) {
			t.Errorf("%s: %v, want %s", tc.name, err, RegisterInvalid)
		}
	}
	// Per address and network: registerAddrLimit an hour from one /24.
	for i := range registerAddrLimit + 1 {
		err := fx.svc.Start(ctx, Request{Email: "ida@example.org", DisplayName: "Ida", Binding: browserA,
			Client: authn.ClientInfo{Addr: "198.51.100." + string(rune('1'+i))}})
		if i < registerAddrLimit && err != nil {
			t.Fatalf("try %d: %v", i+1, err)
		}
		if i == registerAddrLimit && !IsRegisterReason(err, RegisterThrottled) {
			t.Errorf("try %d for one address: %v, want %s", i+1, err, RegisterThrottled)
		}
	}
	// Per network: registerNetLimit an hour from one /24 or /56.
	for _, net := range []struct{ same, other func(i int) string }{
		{func(i int) string { return fmt.Sprintf("192.0.2.%d", i) }, func(int) string { return "192.0.3.1" }},
		{func(i int) string { return fmt.Sprintf("[2001:db8:1:ff%02x::%d]:443", i, i) }, func(int) string { return "2001:db8:1:100::1" }},
	} {
		start := func(addr string, i int) error {
			return fx.svc.Start(ctx, Request{Email: fmt.Sprintf("p%d@example.org", i), DisplayName: "P",
				Binding: browserA, Client: authn.ClientInfo{Addr: addr}})
		}
		for i := range registerNetLimit {
			if err := start(net.same(i), i); err != nil {
				t.Fatalf("try %d from %s: %v", i+1, net.same(i), err)
			}
		}
		if err := start(net.same(99), 99); !IsRegisterReason(err, RegisterThrottled) {
			t.Errorf("try %d from %s: %v, want %s", registerNetLimit+1, net.same(99), err, RegisterThrottled)
		}
		if err := start(net.other(0), 98); err != nil {
			t.Errorf("from another network %s: %v", net.other(0), err)
		}
	}
}

func TestClientNetwork(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":            "203.0.113.0/24",
		"::ffff:203.0.113.7":     "203.0.113.0/24",
		"2001:db8:1:ff22::7":     "2001:db8:1:ff00::/56",
		"[2001:db8:1:ffff::1]:9": "2001:db8:1:ff00::/56",
		"fe80::1%eth0":           "fe80::/56",
		"unix":                   "unix",
	} {
		if got := clientNetwork(in); got != want {
			t.Errorf("clientNetwork(%q) = %q, want %q", in, got, want)
		}
	}
}

// blockingMailer holds every mail until released.
type blockingMailer struct{ release chan struct{} }

func (b blockingMailer) Send(ctx context.Context, _ enroll.Message) error {
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return nil
}

func TestStartQueueFull(t *testing.T) {
	fx := newFixture(t, dialects[0].url(t))
	m := blockingMailer{release: make(chan struct{})}
	defer close(m.release)
	fx.svc.cfg.Mailer = m
	fx.svc.reg = newRegistrar(fx.svc, 2, 1)
	var errs []error
	for i := range 6 {
		errs = append(errs, fx.svc.Start(t.Context(), Request{Email: "r" + string(rune('a'+i)) + "@example.org",
			DisplayName: "R", Binding: browserA, Client: authn.ClientInfo{Addr: "10.0." + string(rune('0'+i)) + ".1"}}))
		time.Sleep(50 * time.Millisecond) // the worker takes the first
	}
	// One mail in the worker's hand, two waiting: the rest are refused.
	busy := 0
	for _, err := range errs {
		switch {
		case IsRegisterReason(err, RegisterBusy):
			busy++
			if e, _ := errors.AsType[*RegisterError](err); e.RetryAfter != time.Minute || !strings.Contains(e.DE, "Minute") {
				t.Errorf("busy refusal %+v", e)
			}
		case err != nil:
			t.Errorf("Start: %v", err)
		}
	}
	if busy != 3 {
		t.Errorf("%d refused as busy (%v), want 3", busy, errs)
	}
}

// TestRegisterAddressOfSomeoneElse (review of #15): an address that is a
// staff member's or councillor's under another username is taken: the
// mail says so, and a link made before her address was stored creates
// nothing.
func TestRegisterAddressOfSomeoneElse(t *testing.T) {
	eachDialect(t, func(t *testing.T, fx *fixture) {
		ctx := t.Context()
		link := fx.register(t, "anna.mueller@example.org", browserA)
		now := fx.clock.now()
		err := fx.store.CreateUser(ctx, authn.User{ID: authn.NewID(), Username: "amueller", Email: "Anna.Mueller@example.org",
			Status: authn.StatusActive, Source: authn.SourceLocal, CreatedAt: now, UpdatedAt: now},
			authn.AuditEvent{Time: now, Actor: "test", Action: "user.create"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fx.svc.Confirm(ctx, link, browserA, client); !IsRegisterReason(err, RegisterTaken) {
			t.Fatalf("Confirm of an address a councillor has: %v, want taken", err)
		}
		if n := fx.people(t); n != 1 {
			t.Errorf("%d people, want the councillor alone", n)
		}
		if err := fx.svc.Start(ctx, Request{Email: "anna.mueller@example.org", DisplayName: "Anna", Binding: browserA, Client: client}); err != nil {
			t.Fatal(err)
		}
		m := fx.mail.next(t)
		if linkRE.MatchString(m.Body) || !strings.Contains(m.Subject, "bereits") {
			t.Errorf("mail for the councillor's address: %+v, want the already-have-an-account mail", m)
		}
		// Her username is not her address (review of #15): the mail
		// tells her to sign in as she usually does, with her username.
		if strings.Contains(m.Body, "mit dieser E-Mail-Adresse und dem Code") || !strings.Contains(m.Body, "Benutzernamen") ||
			!strings.Contains(m.Body, "your username") {
			t.Errorf("the mail to the councillor tells her to sign in with her address:\n%s", m.Body)
		}
	})
}

// slowMailer takes a while for each mail, as a slow mail server does.
type slowMailer struct {
	mu   sync.Mutex // guards sent
	sent []string
}

func (m *slowMailer) Send(ctx context.Context, msg enroll.Message) error {
	time.Sleep(100 * time.Millisecond)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg.To)
	return nil
}

// TestDrainSendsQueuedMails: at a graceful shutdown, Drain waits for the
// registration mails still queued, takes no new registration, and says
// how many it could not send by its deadline.
func TestDrainSendsQueuedMails(t *testing.T) {
	fx := newFixture(t, dialects[0].url(t))
	m := &slowMailer{}
	fx.svc.cfg.Mailer = m
	fx.svc.reg = newRegistrar(fx.svc, 20, 2)
	start := func(i int) error {
		return fx.svc.Start(t.Context(), Request{Email: fmt.Sprintf("r%d@example.org", i), DisplayName: "R", Binding: browserA,
			Client: authn.ClientInfo{Addr: fmt.Sprintf("10.0.%d.1", i)}})
	}
	for i := range 10 {
		if err := start(i); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if n := fx.svc.Drain(ctx); n != 0 {
		t.Errorf("Drain: %d mails not sent, want 0", n)
	}
	m.mu.Lock()
	sent := len(m.sent)
	m.mu.Unlock()
	if sent != 10 {
		t.Errorf("%d mails sent when Drain returned, want all 10", sent)
	}
	if err := start(10); !IsRegisterReason(err, RegisterBusy) {
		t.Errorf("Start after Drain: %v, want busy", err)
	}

	// A mail server that does not answer: Drain gives up at its deadline
	// and counts what was not sent.
	b := blockingMailer{release: make(chan struct{})}
	defer close(b.release)
	fx.svc.cfg.Mailer = b
	fx.svc.reg = newRegistrar(fx.svc, 20, 2)
	for i := range 5 {
		if err := start(20 + i); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel2 := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel2()
	if n := fx.svc.Drain(short); n != 5 {
		t.Errorf("Drain with the mail server stuck: %d not sent, want 5", n)
	}
}
