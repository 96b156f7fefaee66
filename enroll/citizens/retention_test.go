package citizens

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/authn/sqlstore/pgtest"
	"github.com/keyhall/keyhall/enroll"
)

// The retention tests' own names (ret…): the other parts of #15 have
// their fixtures in this package too.

// retClock is a settable time.
type retClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *retClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *retClock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// retMailServer is a real SMTP server (emersion/go-smtp) on 127.0.0.1, as
// in enroll/mail_test.go and web/account_mail_test.go (whose helpers are
// their packages' own), keeping what it receives.
type retMailServer struct {
	port  int
	mu    sync.Mutex // guards mails
	mails []retMail
}

type retMail struct {
	to   string
	data []byte
}

type retSession struct {
	ms  *retMailServer
	cur retMail
}

func (s *retSession) Mail(string, *smtp.MailOptions) error      { return nil }
func (s *retSession) Rcpt(to string, _ *smtp.RcptOptions) error { s.cur.to = to; return nil }
func (s *retSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.ms.mu.Lock()
	s.ms.mails = append(s.ms.mails, retMail{to: s.cur.to, data: b})
	s.ms.mu.Unlock()
	return nil
}
func (s *retSession) Reset()        {}
func (s *retSession) Logout() error { return nil }

func startRetMailServer(t *testing.T) *retMailServer {
	t.Helper()
	ms := &retMailServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &retSession{ms: ms}, nil }))
	srv.Domain = "mail.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ms.port = ln.Addr().(*net.TCPAddr).Port
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ms
}

// received returns the mails so far: recipient, subject and body, decoded.
func (ms *retMailServer) received(t *testing.T) []enroll.Message {
	t.Helper()
	ms.mu.Lock()
	defer ms.mu.Unlock()
	var out []enroll.Message
	for _, m := range ms.mails {
		msg, err := mail.ReadMessage(bytes.NewReader(m.data))
		if err != nil {
			t.Fatal(err)
		}
		subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, enroll.Message{To: m.to, Subject: subject, Body: string(body)})
	}
	return out
}

type retFixture struct {
	svc   *Service
	store *sqlstore.Store
	clock *retClock
	group authn.Group
	tools *retTools
}

// retTools stands in for web.Server: it keeps the grants it was told of.
type retTools struct {
	mu    sync.Mutex // guards ended
	ended []authn.OIDCGrantRef
}

func (r *retTools) OIDCUserSignedOut(context.Context, string) error { return nil }
func (r *retTools) OIDCGrantsEnded(_ context.Context, refs []authn.OIDCGrantRef) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = append(r.ended, refs...)
}

var retDialects = []struct {
	name string
	url  func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "keyhall.db") }},
	{"postgres", func(t *testing.T) string { return pgtest.Start(t).NewDatabase(t) }},
}

// retStart is when the tests' citizens registered.
var retStart = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

// newRetFixture opens a real store, makes the citizens' group and a
// Service whose mail goes to mailPort on 127.0.0.1 over SMTP.
func newRetFixture(t *testing.T, storeURL string, mailPort int) *retFixture {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), storeURL, sqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fx := &retFixture{store: st, clock: &retClock{t: retStart}, tools: &retTools{}}
	pub, _ := url.Parse("https://login.stadt.example")
	en, err := enroll.New(enroll.Config{Store: st, PublicURL: pub, EncryptionKey: [32]byte{1, 2, 3}, Now: fx.clock.now,
		Logger: slog.New(slog.DiscardHandler), Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	if err != nil {
		t.Fatal(err)
	}
	mailer, err := enroll.NewSMTPMailer(enroll.SMTPConfig{Host: "127.0.0.1", Port: mailPort,
		From: "Stadt Musterstadt <keyhall@stadt.example>", StartTLS: enroll.StartTLSOff, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	fx.svc, err = New(Config{Store: st, Enroll: en, PublicURL: pub, Group: "buerger", Mailer: mailer,
		Notices:       enroll.Notices{PublicURL: pub, Sender: enroll.Sender{Name: "Stadt Musterstadt"}, Location: time.UTC},
		InactiveAfter: 2 * 365 * 24 * time.Hour, SigninRetention: 90 * 24 * time.Hour,
		Tools: fx.tools, Logger: slog.New(slog.DiscardHandler), Now: fx.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	fx.group = authn.Group{ID: authn.NewID(), Name: "buerger", Source: authn.SourceLocal, CreatedAt: retStart}
	if err := st.CreateGroup(t.Context(), fx.group, retEvent("group.create", "group:"+fx.group.ID)); err != nil {
		t.Fatal(err)
	}
	return fx
}

func retEvent(action, subject string) authn.AuditEvent {
	return authn.AuditEvent{Time: retStart, Actor: "system", Action: action, Subject: subject}
}

// citizen registers a citizen called name at retStart with a passkey;
// email "" leaves her without an address.
func (fx *retFixture) citizen(t *testing.T, name, email string, citizen bool) (authn.User, authn.Credential) {
	t.Helper()
	ctx := t.Context()
	u := authn.User{ID: authn.NewID(), Username: name, DisplayName: strings.ToUpper(name[:1]) + name[1:], Email: email,
		Status: authn.StatusActive, Source: authn.SourceLocal, CreatedAt: retStart, UpdatedAt: retStart}
	if err := fx.store.CreateUser(ctx, u, retEvent("user.create", "user:"+u.ID)); err != nil {
		t.Fatal(err)
	}
	if citizen {
		if err := fx.store.AddMember(ctx, fx.group.ID, u.ID, retEvent("group.add_member", "group:"+fx.group.ID)); err != nil {
			t.Fatal(err)
		}
	}
	c := authn.Credential{ID: authn.NewID(), UserID: u.ID, Kind: authn.KindWebAuthn, Nickname: "Handy", CreatedAt: retStart,
		WebAuthnID: []byte("key of " + u.ID), PublicKey: []byte{0xa5, 1, 2, 3}}
	if err := fx.store.CreateCredential(ctx, c, retEvent("credential.create", "user:"+u.ID)); err != nil {
		t.Fatal(err)
	}
	return u, c
}

// signIn is what a sign-in with her passkey leaves in the store at now.
func (fx *retFixture) signIn(t *testing.T, u authn.User, c authn.Credential, count uint32) {
	t.Helper()
	now := fx.clock.now()
	if err := fx.store.RecordKeyUse(t.Context(), c.ID, count, now); err != nil {
		t.Fatal(err)
	}
	s := authn.Session{Hash: authn.HashSessionID([]byte(authn.NewID())), UserID: u.ID, AMR: []string{"hwk"}, ACR: "phr",
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(8 * time.Hour), ClientAddr: "203.0.113.9"}
	if err := fx.store.CreateSession(t.Context(), s); err != nil {
		t.Fatal(err)
	}
}

func (fx *retFixture) retain(t *testing.T) Report {
	t.Helper()
	rep, err := fx.svc.Retain(t.Context())
	if err != nil {
		t.Fatalf("Retain: %v", err)
	}
	return rep
}

func (fx *retFixture) exists(t *testing.T, u authn.User) bool {
	t.Helper()
	_, err := fx.store.GetUser(t.Context(), u.ID)
	if err != nil && !errors.Is(err, authn.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// TestRetainInactiveCitizens: a citizen unused for two years is mailed a
// notice naming the date of deletion; one who signs in before it keeps
// her account; one who does not, or has no address, is deleted 30 days
// after the notice, with a pseudonymous audit record, and the chain
// verifies. Council members (not citizens) are never touched.
func TestRetainInactiveCitizens(t *testing.T) {
	for _, d := range retDialects {
		t.Run(d.name, func(t *testing.T) {
			ms := startRetMailServer(t)
			fx := newRetFixture(t, d.url(t), ms.port)
			ctx := t.Context()
			anna, annaKey := fx.citizen(t, "anna", "anna@example.org", true)
			bert, _ := fx.citizen(t, "bert", "bert@example.org", true)
			carla, _ := fx.citizen(t, "carla", "", true) // no address
			dora, doraKey := fx.citizen(t, "dora", "dora@example.org", true)
			rat, _ := fx.citizen(t, "ratsherr", "rat@stadt.example", false) // not a citizen
			// Dora signed in a year later: not yet unused for two years.
			fx.clock.add(365 * 24 * time.Hour)
			fx.signIn(t, dora, doraKey, 1)
			fx.clock.t = retStart.Add(2*365*24*time.Hour + time.Hour)

			rep := fx.retain(t)
			if rep.Noticed != 3 || rep.NoticesUnsent != 1 || rep.Deleted != 0 {
				t.Fatalf("first Retain = %+v, want anna, bert and carla noticed (carla without mail), nobody deleted", rep)
			}
			mails := ms.received(t)
			if len(mails) != 2 {
				t.Fatalf("%d mails, want 2 (anna, bert): %+v", len(mails), mails)
			}
			deleteOn := fx.clock.now().Add(DeletionNotice)
			for _, m := range mails {
				if m.To != "anna@example.org" && m.To != "bert@example.org" {
					t.Errorf("notice to %s", m.To)
				}
				if !strings.Contains(m.Subject, "gelöscht") || !strings.Contains(m.Body, enroll.GermanDate(deleteOn)) ||
					!strings.Contains(m.Body, deleteOn.Format("2 January 2006")) ||
					!strings.Contains(m.Body, "https://login.stadt.example/login") {
					t.Errorf("notice %q does not name the date %s and the sign-in page:\n%s", m.Subject, enroll.GermanDate(deleteOn), m.Body)
				}
			}
			// A second run the same day mails nobody again.
			if rep := fx.retain(t); rep.Noticed != 0 || len(ms.received(t)) != 2 {
				t.Errorf("second Retain = %+v, %d mails; want no new notice", rep, len(ms.received(t)))
			}

			// Anna signs in ten days later: her deletion is off.
			fx.clock.add(10 * 24 * time.Hour)
			fx.signIn(t, anna, annaKey, 5)
			if rep := fx.retain(t); rep.Withdrawn != 1 || rep.Deleted != 0 {
				t.Errorf("Retain after anna's sign-in = %+v, want her notice withdrawn", rep)
			}
			// A day before the date, nobody is deleted.
			fx.clock.t = deleteOn.Add(-24 * time.Hour)
			if rep := fx.retain(t); rep.Deleted != 0 {
				t.Errorf("Retain before the date = %+v, want nobody deleted", rep)
			}
			// The city portal holds a refresh token of carla's: it is told.
			grant := authn.OIDCToken{ID: authn.NewID(), Kind: authn.OIDCRefreshToken, Hash: [32]byte{7}, GrantID: authn.NewID(),
				ClientID: "portal", UserID: carla.ID, Session: authn.SessionHash{9}, Scopes: []string{"openid"},
				AuthTime: retStart, CreatedAt: retStart, ExpiresAt: deleteOn.Add(8 * time.Hour)}
			if err := fx.store.CreateOIDCTokens(ctx, grant); err != nil {
				t.Fatal(err)
			}
			fx.clock.t = deleteOn
			rep = fx.retain(t)
			if len(fx.tools.ended) != 1 || fx.tools.ended[0].ClientID != "portal" || fx.tools.ended[0].UserID != carla.ID {
				t.Errorf("the tools were told of %+v, want carla's grant at the portal", fx.tools.ended)
			}
			if rep.Deleted != 2 {
				t.Errorf("Retain on the date = %+v, want bert and carla deleted", rep)
			}
			for _, c := range []struct {
				u    authn.User
				want bool
			}{{anna, true}, {bert, false}, {carla, false}, {dora, true}, {rat, true}} {
				if got := fx.exists(t, c.u); got != c.want {
					t.Errorf("%s exists: %v, want %v", c.u.Username, got, c.want)
				}
			}
			events, err := fx.store.ListAudit(ctx, authn.AuditFilter{Limit: 10000})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := authn.VerifyChain([32]byte{}, 0, events); err != nil {
				t.Fatalf("the audit chain after the deletions: %v", err)
			}
			erased := map[string]bool{}
			for _, e := range events {
				if e.Action == "user.erase" {
					if e.Reason != "inactive" || e.Actor != "system" {
						t.Errorf("user.erase event %+v, want reason inactive", e)
					}
					erased[e.Subject] = true
				}
				for _, u := range []authn.User{bert, carla} {
					if strings.Contains(e.Actor+e.Subject+e.Reason+e.ClientAddr, u.ID) || e.Details["user_id"] == u.ID {
						t.Errorf("event %d still names %s: %+v", e.Seq, u.Username, e)
					}
				}
			}
			if len(erased) != 2 || !erased[authn.Pseudonym(bert.ID)] || !erased[authn.Pseudonym(carla.ID)] {
				t.Errorf("user.erase events name %v, want bert's and carla's pseudonyms", erased)
			}
		})
	}
}

// TestRetainNoticeMailFails: when the mail server cannot be reached, the
// notice is recorded all the same and the account is deleted 30 days
// later.
func TestRetainNoticeMailFails(t *testing.T) {
	d := retDialects[0]
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there
	fx := newRetFixture(t, d.url(t), port)
	anna, _ := fx.citizen(t, "anna", "anna@example.org", true)
	fx.clock.t = retStart.Add(2*365*24*time.Hour + time.Hour)
	if rep := fx.retain(t); rep.Noticed != 1 || rep.NoticesUnsent != 1 {
		t.Fatalf("Retain = %+v, want anna noticed and the mail unsent", rep)
	}
	fx.clock.add(DeletionNotice)
	if rep := fx.retain(t); rep.Deleted != 1 || fx.exists(t, anna) {
		t.Errorf("Retain 30 days later = %+v, want anna deleted", rep)
	}
}

// TestRetainSignins: Retain redacts sign-in records older than
// retention.signins, up to the noted checkpoint.
func TestRetainSignins(t *testing.T) {
	for _, d := range retDialects {
		t.Run(d.name, func(t *testing.T) {
			fx := newRetFixture(t, d.url(t), 1)
			ctx := t.Context()
			anna, _ := fx.citizen(t, "anna", "anna@example.org", true)
			signin := func(at time.Time) authn.AuditEvent {
				return authn.AuditEvent{Time: at, Actor: "user:" + anna.ID, Action: "signin", Subject: "user:" + anna.ID,
					ClientAddr: "203.0.113.9", Details: map[string]string{"amr": "hwk"}}
			}
			if err := fx.store.AppendAudit(ctx, signin(retStart), signin(retStart.Add(100*24*time.Hour))); err != nil {
				t.Fatal(err)
			}
			fx.clock.t = retStart.Add(120 * 24 * time.Hour)
			if rep := fx.retain(t); rep.SigninsRedacted != 0 || rep.Checkpoint != 0 {
				t.Errorf("Retain without a checkpoint = %+v, want nothing redacted", rep)
			}
			head, _, err := fx.store.AuditHead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := fx.store.NoteCheckpoint(ctx, head); err != nil {
				t.Fatal(err)
			}
			if rep := fx.retain(t); rep.SigninsRedacted != 1 || rep.Checkpoint != head {
				t.Errorf("Retain = %+v, want the one old sign-in redacted at %d", rep, head)
			}
			events, err := fx.store.ListAudit(ctx, authn.AuditFilter{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := authn.VerifyChain([32]byte{}, 0, events); err != nil {
				t.Fatal(err)
			}
			var redacted, kept int
			for _, e := range events {
				if e.Action != "signin" {
					continue
				}
				if e.Redacted && e.Actor == authn.Pseudonym(anna.ID) && e.ClientAddr == "" && e.Time.Equal(retStart) {
					redacted++
				} else if !e.Redacted && e.ClientAddr == "203.0.113.9" {
					kept++
				}
			}
			if redacted != 1 || kept != 1 {
				t.Errorf("%d redacted, %d kept sign-ins; want 1 and 1", redacted, kept)
			}
		})
	}
}

// retSignInBetween is the real store, with a sign-in of hers landing
// right after InactiveMembers read that she was unused: between
// retention's read and its erasure.
type retSignInBetween struct {
	authn.Store
	signIn func()
}

func (s *retSignInBetween) InactiveMembers(ctx context.Context, groupID string, before time.Time, limit int) ([]authn.InactiveUser, error) {
	list, err := s.Store.InactiveMembers(ctx, groupID, before, limit)
	if err == nil && s.signIn != nil {
		s.signIn()
		s.signIn = nil
	}
	return list, err
}

// TestRetainSignInDuringErase: a citizen who signs in after retention
// read her as unused, before it erases her, keeps her account (the
// erasure reads her last use again in its transaction), and her notice is
// withdrawn.
func TestRetainSignInDuringErase(t *testing.T) {
	for _, d := range retDialects {
		t.Run(d.name, func(t *testing.T) {
			fx := newRetFixture(t, d.url(t), startRetMailServer(t).port)
			anna, annaKey := fx.citizen(t, "anna", "anna@example.org", true)
			bert, _ := fx.citizen(t, "bert", "bert@example.org", true)
			fx.clock.t = retStart.Add(2*365*24*time.Hour + time.Hour)
			if rep := fx.retain(t); rep.Noticed != 2 {
				t.Fatalf("Retain = %+v, want anna and bert noticed", rep)
			}
			fx.clock.add(DeletionNotice)
			fx.svc.cfg.Store = &retSignInBetween{Store: fx.store, signIn: func() { fx.signIn(t, anna, annaKey, 7) }}
			rep := fx.retain(t)
			if !fx.exists(t, anna) {
				t.Fatal("anna was deleted although she signed in before her erasure")
			}
			if fx.exists(t, bert) || rep.Deleted != 1 || rep.Withdrawn != 1 {
				t.Errorf("Retain = %+v (bert exists: %v), want bert deleted and anna's notice withdrawn", rep, fx.exists(t, bert))
			}
			fx.svc.cfg.Store = fx.store
			fx.clock.add(time.Hour)
			if rep := fx.retain(t); rep.Deleted != 0 || !fx.exists(t, anna) {
				t.Errorf("next Retain = %+v, want anna kept", rep)
			}
		})
	}
}
