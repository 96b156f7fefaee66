package desk_test

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"errors"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/desk"
)

// recorder is a Mailer that keeps what it is given (the SMTP side is
// enroll's tests').
type recorder struct {
	mu   sync.Mutex
	sent []enroll.Message
}

func (r *recorder) Send(_ context.Context, m enroll.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, m)
	return nil
}

func (r *recorder) to(addr string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var subjects []string
	for _, m := range r.sent {
		if m.To == addr {
			subjects = append(subjects, m.Subject)
		}
	}
	return subjects
}

// tools records whom the tools were told of (web.Server's
// OIDCUserSignedOut in production).
type tools struct {
	mu   sync.Mutex
	told []string
}

func (t *tools) OIDCUserSignedOut(_ context.Context, userID string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.told = append(t.told, userID)
	return nil
}

func (t *tools) saw(userID string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Contains(t.told, userID)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

type fixture struct {
	st    *sqlstore.Store
	enr   *enroll.Service
	desk  *desk.Service
	mail  *recorder
	tools *tools
	clock *clock
	// people by username
	people map[string]authn.User
}

// newFixture opens a real SQLite database with: helga and hanna
// (helpdesk), adam and anja (admins; anja by the bootstrap group), the
// councillor rita (rat: protected, resets need approval), the committee
// member kurt (ausschuss: resets need approval), and anna, bert, nora
// (nobody special), each with a postal and an e-mail address.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "keyhall.db"),
		sqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, mail: &recorder{}, tools: &tools{}, clock: &clock{t: time.Now().UTC()}, people: map[string]authn.User{}}
	pub, _ := url.Parse("https://id.example.org")
	f.enr, err = enroll.New(enroll.Config{Store: st, PublicURL: pub, EncryptionKey: [32]byte{1}, Now: f.clock.now,
		Logger: slog.New(slog.DiscardHandler), Argon2: authn.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	sender := enroll.Sender{Name: "Stadt Münster", Address: []string{"IT", "48143 Münster"}, HelpPhone: "0251 492-0"}
	f.desk, err = desk.New(desk.Config{Store: st, Enroll: f.enr, Mailer: f.mail,
		Notices: enroll.Notices{PublicURL: pub, Sender: sender}, Tools: f.tools,
		Roles:     map[desk.Role][]string{desk.RoleHelpdesk: {"it-helpdesk"}, desk.RoleAdmin: {"it-admins"}},
		Protected: []string{"rat"}, Approval: []string{"rat", "ausschuss"}, AdminGroup: "admins",
		Sender: sender, Now: f.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]string{}
	for _, g := range []string{"it-helpdesk", "it-admins", "admins", "rat", "ausschuss"} {
		grp := authn.Group{ID: authn.NewID(), Name: g, Source: authn.SourceLocal, CreatedAt: f.clock.now()}
		must(t, st.CreateGroup(t.Context(), grp, ev("group.create")))
		groups[g] = grp.ID
	}
	for name, group := range map[string]string{"helga": "it-helpdesk", "hanna": "it-helpdesk", "adam": "it-admins",
		"anja": "admins", "albert": "it-admins", "rita": "rat", "kurt": "ausschuss", "anna": "", "bert": "", "nora": "",
		"ina": "", "vera": ""} {
		u := authn.User{ID: authn.NewID(), Username: name, DisplayName: strings.ToUpper(name[:1]) + name[1:],
			Email: name + "@example.org", PostalAddress: []string{"Prinzipalmarkt 1", "48143 Münster"},
			Status: authn.StatusActive, Source: authn.SourceLocal, CreatedAt: f.clock.now(), UpdatedAt: f.clock.now()}
		must(t, st.CreateUser(t.Context(), u, ev("user.create")))
		if group != "" {
			must(t, st.AddMember(t.Context(), groups[group], u.ID, ev("group.add_member")))
		}
		f.people[name] = u
	}
	return f
}

func ev(action string) authn.AuditEvent {
	return authn.AuditEvent{Time: time.Now(), Actor: "test", Action: action, Subject: "test"}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// console is the actor of a person signed in to the console, with the
// role the desk gives her.
func (f *fixture) console(t *testing.T, name string) desk.Actor {
	t.Helper()
	u := f.people[name]
	role, err := f.desk.RoleOf(t.Context(), u.ID)
	must(t, err)
	return desk.Actor{Audit: "user:" + u.ID, UserID: u.ID, Username: u.Username, Directory: u.Directory,
		ExternalID: u.ExternalID, Role: role, Via: "console", ClientAddr: "192.0.2.7"}
}

// id returns the user id of name.
func (f *fixture) id(name string) string { return f.people[name].ID }

// signIn gives name a session and a key; it returns the session's hash.
func (f *fixture) signIn(t *testing.T, name string) authn.SessionHash {
	t.Helper()
	u := f.people[name]
	now := f.clock.now()
	h := authn.HashSessionID([]byte(authn.NewID()))
	must(t, f.st.CreateSession(t.Context(), authn.Session{Hash: h, UserID: u.ID, AMR: []string{"hwk"}, ACR: "phrh",
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(8 * time.Hour)}))
	return h
}

// addKey gives name a security key and returns its id.
func (f *fixture) addKey(t *testing.T, name string) string {
	t.Helper()
	id := make([]byte, 32)
	crand.Read(id)
	c := authn.Credential{ID: authn.NewID(), UserID: f.id(name), Kind: authn.KindWebAuthn, Nickname: "Büro",
		CreatedAt: f.clock.now(), WebAuthnID: id, PublicKey: []byte{0xa5, 1, 2, 3, 0x26},
		AAGUID: bytes.Repeat([]byte{0xee}, 16), AttestationFmt: "none"}
	must(t, f.st.CreateCredential(t.Context(), c, ev("credential.create")))
	return c.ID
}

// sessionLive reports whether the session h is usable.
func (f *fixture) sessionLive(t *testing.T, h authn.SessionHash) bool {
	t.Helper()
	s, err := f.st.GetSession(t.Context(), h)
	must(t, err)
	return s.RevokedAt.IsZero()
}

// events returns the audit events about name after seq, and the last seq.
func (f *fixture) events(t *testing.T, name string, after int64) []authn.AuditEvent {
	t.Helper()
	evs, err := f.st.ListAudit(t.Context(), authn.AuditFilter{Subject: "user:" + f.id(name), AfterSeq: after, Limit: 500})
	must(t, err)
	return evs
}

// lastSeq returns the newest audit event's sequence number.
func (f *fixture) lastSeq(t *testing.T) int64 {
	t.Helper()
	var last int64
	for {
		evs, err := f.st.ListAudit(t.Context(), authn.AuditFilter{AfterSeq: last, Limit: 500})
		must(t, err)
		if len(evs) == 0 {
			return last
		}
		last = evs[len(evs)-1].Seq
	}
}

func actions(evs []authn.AuditEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Action)
	}
	return out
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got %v, want %v", what, err, target)
	}
	var de *desk.Error
	if target != nil && (errors.Is(target, desk.ErrForbidden) || errors.Is(target, desk.ErrInvalid)) &&
		(!errors.As(err, &de) || de.De == "" || de.En == "") {
		t.Errorf("%s: %v is not a *desk.Error with German and English words", what, err)
	}
}

var callback = desk.IdentityCheck{Method: desk.CheckCallback}

func resetReq(reason string) desk.ResetRequest {
	return desk.ResetRequest{Reason: reason, Check: callback, Delivery: desk.DeliverDesk}
}

// sortedKeys returns the keys of d, without client_addr (the console's
// only).
func sortedKeys(d map[string]string) []string {
	var keys []string
	for k := range d {
		if k != "client_addr" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// setDirectoryID makes name a person of directory dir with stable id ext.
func (f *fixture) setDirectoryID(t *testing.T, name, dir, ext string) error {
	t.Helper()
	u, err := f.st.UpdateUser(t.Context(), f.id(name), func(u authn.User) (authn.User, error) {
		u.Directory, u.ExternalID = dir, ext
		return u, nil
	}, ev("user.update"))
	f.people[name] = u
	return err
}
