package citizens

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/authn/sqlstore/pgtest"
	"github.com/keyhall/keyhall/authn/sqlstore/scantest"
	"github.com/keyhall/keyhall/authn/storetest"
	"github.com/keyhall/keyhall/enroll"
)

// dataBackends are the two databases the data tests run on. PostgreSQL
// gets a cluster of its own per test (no TestMain in this file: the
// package's other tests may have theirs).
var dataBackends = []struct {
	name string
	url  func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "keyhall.db") }},
	{"postgres", func(t *testing.T) string { return pgtest.Start(t).NewDatabase(t) }},
}

// toolsHeard is a hand-written Tools for the unit tests (web's tests tell a
// real OIDC client): it records the grants it was told of.
type toolsHeard struct {
	mu     sync.Mutex // guards grants
	grants []authn.OIDCGrantRef
}

func (h *toolsHeard) OIDCUserSignedOut(context.Context, string) error { return nil }
func (h *toolsHeard) OIDCGrantsEnded(_ context.Context, g []authn.OIDCGrantRef) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.grants = append(h.grants, g...)
}
func (h *toolsHeard) ToolName(id string) string { return "Werkzeug " + id }

// mailbox is a hand-written Mailer that keeps what it was given.
type mailbox struct {
	mu   sync.Mutex // guards sent
	sent []enroll.Message
}

func (m *mailbox) Send(_ context.Context, msg enroll.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg)
	return nil
}

type dataEnv struct {
	store *sqlstore.Store
	svc   *Service
	tools *toolsHeard
	mail  *mailbox
	now   time.Time
}

// newDataEnv opens a store at url and a Service on it whose clock stands
// a minute after FullPerson's sessions began.
// citizen puts the people with ids in the citizens' group (made when
// missing): only citizens delete their own account.
func (e *dataEnv) citizen(t *testing.T, ids ...string) {
	t.Helper()
	ctx := t.Context()
	ev := authn.AuditEvent{Time: time.Now(), Actor: "system", Action: "group.add_member"}
	g, err := e.store.GetGroupByName(ctx, "buerger")
	if errors.Is(err, authn.ErrNotFound) {
		g = authn.Group{ID: authn.NewID(), Name: "buerger", Source: authn.SourceLocal, CreatedAt: time.Now()}
		err = e.store.CreateGroup(ctx, g, ev)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := e.store.AddMember(ctx, g.ID, id, ev); err != nil {
			t.Fatal(err)
		}
	}
}

func newDataEnv(t *testing.T, dsn string, adminGroups ...string) *dataEnv {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := sqlstore.Open(t.Context(), dsn, sqlstore.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pub, _ := url.Parse("https://id.stadt.example")
	en, err := enroll.New(enroll.Config{Store: st, PublicURL: pub, EncryptionKey: [32]byte{1}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	e := &dataEnv{store: st, tools: &toolsHeard{}, mail: &mailbox{}}
	e.svc, err = New(Config{Store: st, Enroll: en, PublicURL: pub, Tools: e.tools, Mailer: e.mail, AdminGroups: adminGroups,
		Notices: enroll.Notices{PublicURL: pub, Sender: enroll.Sender{Name: "Stadt Musterstadt", HelpPhone: "0251 492-0"}},
		Logger:  quiet, Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestExportHasEverything: the export holds every factor and every
// session of hers (the test), and the rest of what is stored
// about her, and nothing of anyone else's, and no secret.
func TestExportHasEverything(t *testing.T) {
	for _, b := range dataBackends {
		t.Run(b.name, func(t *testing.T) {
			e := newDataEnv(t, b.url(t))
			ctx := t.Context()
			anna := storetest.FullPerson(t, e.store, "anna")
			bert := storetest.FullPerson(t, e.store, "bert")
			e.now = anna.Session.CreatedAt.Add(time.Minute)
			second := authn.Session{Hash: authn.HashSessionID([]byte("annas tablet")), UserID: anna.ID, AMR: []string{"otp"},
				ACR: "mfa", AuthTime: e.now, CreatedAt: e.now, LastSeenAt: e.now, ExpiresAt: e.now.Add(time.Hour),
				ClientAddr: "203.0.113.7", UserAgent: "Mozilla/5.0 (iPad) Safari/605"}
			ended := second
			ended.Hash, ended.ClientAddr = authn.HashSessionID([]byte("annas old phone")), "203.0.113.99"
			for _, s := range []authn.Session{second, ended} {
				if err := e.store.CreateSession(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.store.RevokeSession(ctx, ended.Hash, e.now); err != nil {
				t.Fatal(err)
			}
			d, err := e.svc.Export(ctx, anna.ID)
			if err != nil {
				t.Fatal(err)
			}
			creds, _ := e.store.ListCredentials(ctx, anna.ID)
			if len(d.Factors) != len(creds) || len(creds) != 2 {
				t.Fatalf("export has %d factors, she has %d", len(d.Factors), len(creds))
			}
			for i, c := range creds {
				f := d.Factors[i]
				if f.ID != c.ID || (f.Kind == "key") != (c.Kind == authn.KindWebAuthn) || !f.CreatedAt.Equal(c.CreatedAt) {
					t.Errorf("factor %d: %+v, want %s of kind %s", i, f, c.ID, c.Kind)
				}
				if c.Kind == authn.KindWebAuthn && f.CredentialIDPrefix != hex.EncodeToString(c.WebAuthnID[:4]) {
					t.Errorf("key's credential id prefix %q, want the first 4 bytes of %x", f.CredentialIDPrefix, c.WebAuthnID)
				}
			}
			var handles []string
			for _, s := range d.Sessions {
				handles = append(handles, s.ID)
			}
			for _, s := range []authn.Session{anna.Session, second} {
				if !slices.Contains(handles, s.Hash.Handle()) {
					t.Errorf("export's sessions %v lack %s", handles, s.Hash.Handle())
				}
			}
			if len(d.Sessions) != 2 || d.Sessions[0].ClientAddr != "203.0.113.7" || d.Sessions[0].UserAgent == "" ||
				!slices.Equal(d.Sessions[0].Methods, []string{"otp"}) {
				t.Errorf("export's sessions: %+v, want her two, newest first, with address, browser and method", d.Sessions)
			}
			if len(d.EndedSessions) != 1 || d.EndedSessions[0].ID != ended.Hash.Handle() || d.EndedSessions[0].ClientAddr != "203.0.113.99" ||
				d.EndedSessions[0].EndedAt.IsZero() {
				t.Errorf("export's ended sessions: %+v, want her revoked one with its end", d.EndedSessions)
			}
			p := d.Profile
			if p.ID != anna.ID || p.Username != anna.Username || p.Email != anna.Email || p.DisplayName != anna.DisplayName ||
				!slices.Equal(p.PostalAddress, anna.PostalAddress) || p.Source != "local" || p.Status != "active" || p.CreatedAt.IsZero() {
				t.Errorf("profile %+v, want anna's %+v", p, anna.User)
			}
			if len(d.Groups) != 1 || !d.HasPassword || d.RecoveryCodesLeft != 2 || len(d.Invitations) != 1 {
				t.Errorf("groups %v, password %t, codes %d, invitations %d; want 1, true, 2, 1",
					d.Groups, d.HasPassword, d.RecoveryCodesLeft, len(d.Invitations))
			}
			if len(d.Tools) != 1 || d.Tools[0].ClientID != anna.Grant.ClientID || d.Tools[0].Name != "Werkzeug "+anna.Grant.ClientID ||
				d.Tools[0].ActiveTokens != 2 || len(d.Tools[0].Scopes) == 0 {
				t.Errorf("tools %+v, want her grant's client with two active tokens", d.Tools)
			}
			if len(d.SignIns) != 1 || d.SignIns[0].ClientAddr != "198.51.100.9" {
				t.Errorf("sign-ins %+v, want her one, from 198.51.100.9", d.SignIns)
			}
			var actions []string
			for _, a := range d.AuditEvents {
				actions = append(actions, a.Action)
			}
			for _, want := range []string{"user.create", "signin", "group.add_member", "letters.print", "password.set"} {
				if !slices.Contains(actions, want) {
					t.Errorf("audit events %v lack %s", actions, want)
				}
			}

			js, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			text := string(js)
			for _, field := range []string{`"format":"keyhall.personal-data.v1"`, `"factors":`, `"sessions":`, `"signins":`,
				`"ended_sessions":`, `"tools":`, `"invitations":`, `"audit_events":`, `"email_verified":false`, `"recovery_codes_left":2`, `"has_password":true`} {
				if !strings.Contains(text, field) {
					t.Errorf("JSON lacks %s", field)
				}
			}
			// No secret, no key material, nothing of bert's.
			forbidden := []string{bert.ID, bert.Email, hex.EncodeToString(anna.Session.Hash[:])}
			for _, c := range creds {
				for _, b := range [][]byte{c.PublicKey, c.SecretSealed} {
					if len(b) > 0 {
						forbidden = append(forbidden, hex.EncodeToString(b), base64.StdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b))
					}
				}
			}
			for _, f := range forbidden {
				if strings.Contains(text, f) {
					t.Errorf("the export holds %q", f)
				}
			}
			sum, err := e.svc.Summary(ctx, anna.ID)
			if err != nil || len(sum.Factors) != 2 || len(sum.Sessions) != 2 || len(sum.Tools) != 1 || len(sum.AuditEvents) != 0 {
				t.Errorf("Summary: %d factors, %d sessions, %d tools, %d audit events, %v; want Export's without the log",
					len(sum.Factors), len(sum.Sessions), len(sum.Tools), len(sum.AuditEvents), err)
			}
			if _, err := e.svc.Export(ctx, "nobody"); !errors.Is(err, authn.ErrNotFound) {
				t.Errorf("Export of nobody: %v, want ErrNotFound", err)
			}
		})
	}
}

// TestDeleteLeavesNothing: after she deletes her account, no column of
// any table holds anything of hers, the audit chain still verifies and
// ends with a pseudonymous "user.erase", the tools holding her tokens
// are told, and she gets a confirmation at the address she had.
func TestDeleteLeavesNothing(t *testing.T) {
	for _, b := range dataBackends {
		t.Run(b.name, func(t *testing.T) {
			e := newDataEnv(t, b.url(t))
			ctx := t.Context()
			anna := storetest.FullPerson(t, e.store, "anna")
			bert := storetest.FullPerson(t, e.store, "bert")
			e.citizen(t, anna.ID)
			e.now = anna.Session.CreatedAt.Add(time.Minute)
			for _, k := range enroll.ThrottleKeys(anna.ID, anna.Username) {
				if _, err := e.store.HitThrottle(ctx, k, e.now, time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.svc.Delete(ctx, anna.ID, "account", "203.0.113.5"); err != nil {
				t.Fatal(err)
			}
			hers := []string{anna.ID, anna.Username, anna.Email, anna.DisplayName, anna.PostalAddress[0],
				hex.EncodeToString(anna.Session.Hash[:])}
			for _, f := range scantest.Find(t, e.store.DB(), e.store.Dialect(), hers) {
				t.Errorf("after her deletion, %s", f)
			}
			if found := scantest.Find(t, e.store.DB(), e.store.Dialect(), []string{bert.ID, bert.Email}); len(found) < 2 {
				t.Errorf("bert is found only in %v; the deletion took more than hers, or the scan reads nothing", found)
			}
			if _, err := e.store.GetSession(ctx, bert.Session.Hash); err != nil {
				t.Errorf("bert's session after anna's deletion: %v", err)
			}

			events, err := e.store.ListAudit(ctx, authn.AuditFilter{Limit: 10000})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := authn.VerifyChain([32]byte{}, 0, events); err != nil {
				t.Fatalf("the audit chain after the deletion: %v", err)
			}
			last := events[len(events)-1]
			if last.Action != "user.erase" || last.Actor != authn.Pseudonym(anna.ID) || last.Subject != authn.Pseudonym(anna.ID) ||
				last.Details["via"] != "account" || last.Redacted {
				t.Errorf("last event %+v, want her pseudonymous erasure via account", last)
			}

			e.tools.mu.Lock()
			grants := e.tools.grants
			e.tools.mu.Unlock()
			if len(grants) != 1 || grants[0].ClientID != anna.Grant.ClientID || grants[0].UserID != anna.ID ||
				grants[0].Session != anna.Session.Hash {
				t.Errorf("tools told of %+v, want her one grant (client %s)", grants, anna.Grant.ClientID)
			}
			e.mail.mu.Lock()
			sent := e.mail.sent
			e.mail.mu.Unlock()
			if len(sent) != 1 || sent[0].To != anna.Email || !strings.Contains(sent[0].Subject, "Konto gelöscht") ||
				!strings.Contains(sent[0].Body, anna.Username) || !strings.Contains(sent[0].Body, "0251 492-0") {
				t.Errorf("mails %+v, want one confirmation to %s", sent, anna.Email)
			}
			if err := e.svc.Delete(ctx, anna.ID, "account", ""); !errors.Is(err, authn.ErrNotFound) {
				t.Errorf("deleting her again: %v, want ErrNotFound", err)
			}
		})
	}
}

// TestDeleteRefused: a directory person and the last administrator may
// not delete themselves, and nothing changes when they try; once there is
// another active administrator, she may.
func TestDeleteRefused(t *testing.T) {
	e := newDataEnv(t, dataBackends[0].url(t), "keyhall-admins")
	ctx := t.Context()
	ev := authn.AuditEvent{Time: time.Now(), Actor: "test", Action: "test"}
	mk := func(name string, src authn.Source, status authn.UserStatus) authn.User {
		u := authn.User{ID: authn.NewID(), Username: name, Email: name + "@stadt.example", Status: status, Source: src,
			CreatedAt: time.Now(), UpdatedAt: time.Now()}
		if src == authn.SourceDirectory {
			u.Directory, u.ExternalID = "stadt", authn.NewID()
		}
		if err := e.store.CreateUser(ctx, u, ev); err != nil {
			t.Fatal(err)
		}
		return u
	}
	admins := authn.Group{ID: authn.NewID(), Name: "keyhall-admins", Source: authn.SourceLocal, CreatedAt: time.Now()}
	if err := e.store.CreateGroup(ctx, admins, ev); err != nil {
		t.Fatal(err)
	}
	e.now = time.Now()
	rat := mk("rat.mitglied", authn.SourceDirectory, authn.StatusActive)
	admin := mk("admin", authn.SourceLocal, authn.StatusActive)
	gone := mk("ehemalig", authn.SourceLocal, authn.StatusDisabled)
	staff := mk("sachbearbeiterin", authn.SourceLocal, authn.StatusActive)
	for _, u := range []authn.User{admin, gone} {
		if err := e.store.AddMember(ctx, admins.ID, u.ID, ev); err != nil {
			t.Fatal(err)
		}
	}
	e.citizen(t, rat.ID, admin.ID, gone.ID)
	before, _ := e.store.ListAudit(ctx, authn.AuditFilter{Limit: 10000})
	for _, c := range []struct {
		u      authn.User
		reason string
		says   string
	}{
		{rat, RefusedDirectory, "Verzeichnis"},
		{admin, RefusedLastAdmin, "letzte Administratorin"},
		{gone, RefusedNotActive, "gesperrt"},
		{staff, RefusedNotCitizen, "IT-Service für Ihre Arbeit"},
	} {
		err := e.svc.Delete(ctx, c.u.ID, "account", "")
		refused, ok := errors.AsType[*DeleteRefused](err)
		if !ok || refused.Reason != c.reason || !strings.Contains(refused.De, c.says) || refused.En == "" {
			t.Errorf("Delete(%s): %v, want refused for %s", c.u.Username, err, c.reason)
		}
		if _, err := e.store.GetUser(ctx, c.u.ID); err != nil {
			t.Errorf("%s after the refusal: %v", c.u.Username, err)
		}
	}
	if refused, _ := errors.AsType[*DeleteRefused](e.svc.MayDelete(ctx, rat)); refused == nil || !strings.Contains(refused.De, "0251 492-0") {
		t.Errorf("the directory person is not told whom to ask: %+v", refused)
	}
	after, _ := e.store.ListAudit(ctx, authn.AuditFilter{Limit: 10000})
	if len(after) != len(before) {
		t.Errorf("refused deletions appended %d events", len(after)-len(before))
	}
	if len(e.mail.sent) != 0 {
		t.Errorf("refused deletions sent %d mails", len(e.mail.sent))
	}

	second := mk("zweite.admin", authn.SourceLocal, authn.StatusActive)
	if err := e.store.AddMember(ctx, admins.ID, second.ID, ev); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Delete(ctx, admin.ID, "account", ""); err != nil {
		t.Errorf("with a second administrator, the first may delete herself: %v", err)
	}
	if err := e.svc.MayDelete(ctx, second); err == nil {
		t.Errorf("the second administrator, now the last, may delete herself")
	}
}

// TestConfirmsDeletion: only a recent sign-in with a key or an app code
// confirms a deletion.
func TestConfirmsDeletion(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		sess authn.Session
		want bool
	}{
		{"key now", authn.Session{AMR: []string{"hwk", "user"}, AuthTime: now}, true},
		{"passkey 4 min ago", authn.Session{AMR: []string{"swk"}, AuthTime: now.Add(-4 * time.Minute)}, true},
		{"app code 5 min ago", authn.Session{AMR: []string{"otp"}, AuthTime: now.Add(-ConfirmWithin)}, true},
		{"key 6 min ago", authn.Session{AMR: []string{"hwk"}, AuthTime: now.Add(-6 * time.Minute)}, false},
		{"recovery code now", authn.Session{AMR: []string{"otp"}, AuthTime: now, RecoveryOnly: true}, false},
		{"password only", authn.Session{AMR: []string{"pwd"}, AuthTime: now}, false},
		{"no method", authn.Session{AuthTime: now}, false},
	} {
		if got := ConfirmsDeletion(c.sess, now); got != c.want {
			t.Errorf("%s: %t, want %t", c.name, got, c.want)
		}
	}
}

// TestDeleteTwoAdminsAtOnce: two administrators who each see the other
// and delete themselves at the same moment do not leave Keyhall without
// one: the erasure checks again in its transaction.
func TestDeleteTwoAdminsAtOnce(t *testing.T) {
	for _, b := range dataBackends {
		t.Run(b.name, func(t *testing.T) {
			e := newDataEnv(t, b.url(t), "keyhall-admins")
			ctx := t.Context()
			e.now = time.Now()
			ev := authn.AuditEvent{Time: e.now, Actor: "test", Action: "test"}
			g := authn.Group{ID: authn.NewID(), Name: "keyhall-admins", Source: authn.SourceLocal, CreatedAt: e.now}
			if err := e.store.CreateGroup(ctx, g, ev); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, name := range []string{"anna", "bert"} {
				u := authn.User{ID: authn.NewID(), Username: name, Status: authn.StatusActive, Source: authn.SourceLocal,
					CreatedAt: e.now, UpdatedAt: e.now}
				if err := e.store.CreateUser(ctx, u, ev); err != nil {
					t.Fatal(err)
				}
				if err := e.store.AddMember(ctx, g.ID, u.ID, ev); err != nil {
					t.Fatal(err)
				}
				e.citizen(t, u.ID)
				ids = append(ids, u.ID)
			}
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i, id := range ids {
				wg.Go(func() { errs[i] = e.svc.Delete(ctx, id, "account", "") })
			}
			wg.Wait()
			refused := 0
			for _, err := range errs {
				if r, ok := errors.AsType[*DeleteRefused](err); ok && r.Reason == RefusedLastAdmin {
					refused++
				} else if err != nil {
					t.Fatalf("Delete: %v", err)
				}
			}
			if refused != 1 {
				t.Errorf("two admins deleting themselves at once: %d refused, want 1", refused)
			}
		})
	}
}
