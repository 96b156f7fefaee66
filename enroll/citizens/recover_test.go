package citizens_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/citizens"
)

// sentMail keeps the messages sent (a unit test's fake; the web tests
// use a real SMTP server).
type sentMail struct {
	mu   sync.Mutex // guards msgs
	msgs []enroll.Message
}

func (m *sentMail) Send(_ context.Context, msg enroll.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	return nil
}

func (m *sentMail) take() []enroll.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.msgs
	m.msgs = nil
	return out
}

// toldTools records whose sessions the tools were told ended.
type toldTools struct {
	mu    sync.Mutex // guards users
	users []string
}

func (t *toldTools) OIDCUserSignedOut(_ context.Context, userID string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.users = append(t.users, userID)
	return nil
}

func (t *toldTools) OIDCGrantsEnded(context.Context, []authn.OIDCGrantRef) {}

var tokenRE = regexp.MustCompile(`/recover/(?:cancel/)?([A-Za-z0-9_-]{43})`)

// TestRecoveryTellsTools: starting a recovery and cancelling it end her
// OIDC tokens through Config.Tools (which tells the tools), and each ends
// her sessions in the store.
func TestRecoveryTellsTools(t *testing.T) {
	ctx := t.Context()
	e := newRecoverEnv(t, "anna@example.org", "anna@example.org", time.Now)
	st, svc, mail, tools, anna := e.st, e.svc, e.mail, e.tools, e.anna
	sess := authn.Session{Hash: authn.HashSessionID([]byte("s1")), UserID: anna.ID, CreatedAt: time.Now(), LastSeenAt: time.Now(),
		AuthTime: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	if err := st.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}

	binding := authn.HashToken(citizens.NewRecoveryToken())
	client := authn.ClientInfo{Addr: "192.0.2.7"}
	req, err := svc.AskRecovery(ctx, " Anna@Example.org ", binding, client)
	if err != nil {
		t.Fatal(err)
	}
	svc.QueueRecovery(req)()
	svc.WaitRecoveries()
	msgs := mail.take()
	if len(msgs) != 1 || msgs[0].To != "anna@example.org" {
		t.Fatalf("mails after the request: %+v", msgs)
	}
	p, err := svc.StartRecovery(ctx, tokenRE.FindStringSubmatch(msgs[0].Body)[1], binding, client)
	if err != nil || len(p.ID) == 0 {
		t.Fatalf("StartRecovery: %+v, %v", p, err)
	}
	if got, _ := st.GetSession(ctx, sess.Hash); got.RevokedAt.IsZero() {
		t.Error("the start did not end her session")
	}
	if !slices.Equal(tools.users, []string{anna.ID}) {
		t.Errorf("tools told of %v at the start, want anna", tools.users)
	}
	msgs = mail.take()
	if len(msgs) != 1 || !tokenRE.MatchString(msgs[0].Body) {
		t.Fatalf("the notice: %+v", msgs)
	}
	// While the recovery is pending, whoever holds her mailbox cannot end
	// the account before she can cancel (review of #15).
	if err := svc.Delete(ctx, anna.ID, "account", ""); !isRefused(err, citizens.RefusedRecovery) {
		t.Errorf("Delete during a pending recovery: %v, want refused", err)
	}
	cancel := tokenRE.FindAllStringSubmatch(msgs[0].Body, -1)
	rep, err := svc.CancelRecovery(ctx, cancel[0][1], client)
	if err != nil || rep.Recovery.UserID != anna.ID {
		t.Fatalf("CancelRecovery: %+v, %v", rep, err)
	}
	if !slices.Equal(tools.users, []string{anna.ID, anna.ID}) {
		t.Errorf("tools told of %v after the cancel, want anna twice", tools.users)
	}
	if _, err := svc.CancelRecovery(ctx, cancel[0][1], client); !citizens.IsRecoveryReason(err, citizens.RecoverCancelled) {
		t.Errorf("the cancel link twice: %v", err)
	}
}

// recoverEnv is a citizens' service on a new SQLite store whose group
// "buerger" may recover by e-mail, and anna, a member of it since an hour
// before now, with the username and address given.
type recoverEnv struct {
	st    *sqlstore.Store
	svc   *citizens.Service
	mail  *sentMail
	tools *toldTools
	anna  authn.User
	ev    authn.AuditEvent // a test event at now
}

func newRecoverEnv(t *testing.T, username, email string, now func() time.Time) *recoverEnv {
	t.Helper()
	ctx := t.Context()
	st, err := sqlstore.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "keyhall.db"), sqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pub, _ := url.Parse("https://id.stadt.example")
	en, err := enroll.New(enroll.Config{Store: st, PublicURL: pub, EncryptionKey: [32]byte{1}, Now: now,
		Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	if err != nil {
		t.Fatal(err)
	}
	e := &recoverEnv{st: st, mail: &sentMail{}, tools: &toldTools{}}
	e.svc, err = citizens.New(citizens.Config{Store: st, Enroll: en, PublicURL: pub, Mailer: e.mail, Tools: e.tools, Now: now,
		Logger: slog.New(slog.DiscardHandler), EmailRecovery: func(groups []string) bool { return slices.Contains(groups, "buerger") }})
	if err != nil {
		t.Fatal(err)
	}
	at := now()
	e.ev = authn.AuditEvent{Time: at, Actor: "test", Action: "test"}
	e.anna = authn.User{ID: authn.NewID(), Username: username, Email: email, VerifiedEmail: email,
		Status: authn.StatusActive, Source: authn.SourceLocal, CreatedAt: at.Add(-time.Hour), UpdatedAt: at}
	g := authn.Group{ID: authn.NewID(), Name: "buerger", Source: authn.SourceLocal, CreatedAt: at}
	for _, err := range []error{st.CreateUser(ctx, e.anna, e.ev), st.CreateGroup(ctx, g, e.ev), st.AddMember(ctx, g.ID, e.anna.ID, e.ev)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// isRefused reports whether err is a refusal to delete for reason.
func isRefused(err error, reason string) bool {
	r, ok := errors.AsType[*citizens.DeleteRefused](err)
	return ok && r.Reason == reason
}
