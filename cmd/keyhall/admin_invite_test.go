package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// inbox is an SMTP server (emersion/go-smtp) in the test process that
// keeps every mail it gets.
type inbox struct {
	port  int
	mu    sync.Mutex // guards mails
	mails []*mail.Message
}

func startInbox(t *testing.T) *inbox {
	t.Helper()
	in := &inbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return inboxSession{in}, nil }))
	srv.Domain = "mail.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in.port = ln.Addr().(*net.TCPAddr).Port
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return in
}

// take returns the mails received so far and forgets them.
func (in *inbox) take() []*mail.Message {
	in.mu.Lock()
	defer in.mu.Unlock()
	m := in.mails
	in.mails = nil
	return m
}

type inboxSession struct{ in *inbox }

func (s inboxSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s inboxSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s inboxSession) Reset()                               {}
func (s inboxSession) Logout() error                        { return nil }
func (s inboxSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		return err
	}
	s.in.mu.Lock()
	s.in.mails = append(s.in.mails, m)
	s.in.mu.Unlock()
	return nil
}

// mailBody returns a received mail's decoded text.
func mailBody(t *testing.T, m *mail.Message) string {
	t.Helper()
	b, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// enrollEnvVars returns an environment with a new database, key file,
// letter sender and, with in, mail through in.
func enrollEnvVars(t *testing.T, in *inbox) ([]string, string) {
	env, url := adminEnv(t)
	env = append(env, "KEYHALL_KEYS_FILE="+filepath.Join(t.TempDir(), "keyhall.keys"),
		"KEYHALL_PUBLIC_URL=https://login.stadt.example",
		"KEYHALL_LETTER_SENDER_NAME=Stadt Münster",
		"KEYHALL_LETTER_SENDER_ADDRESS=Amt für Informationsverarbeitung,Klemensstraße 10,48143 Münster",
		"KEYHALL_LETTER_HELP_PHONE=0251 492-1234", "KEYHALL_LETTER_HELP_EMAIL=it@stadt.example")
	if in != nil {
		env = append(env, "KEYHALL_MAIL_SMTP_HOST=127.0.0.1", "KEYHALL_MAIL_SMTP_PORT="+strconv.Itoa(in.port),
			"KEYHALL_MAIL_FROM=Stadt Münster <keyhall@stadt.example>", "KEYHALL_MAIL_TIMEOUT=5s")
	}
	return env, url
}

// addCredentials gives a person a YubiKey and an app, and returns the
// key's id.
func addCredentials(t *testing.T, st authn.Store, userID string) string {
	t.Helper()
	now := time.Now().UTC()
	aaguid := enroll.YubiKeyAAGUIDs()[0]
	wid := make([]byte, 32)
	rand.Read(wid)
	key := authn.Credential{ID: authn.NewID(), UserID: userID, Kind: authn.KindWebAuthn, Nickname: "Büro",
		CreatedAt: now, WebAuthnID: wid, PublicKey: []byte{1}, AAGUID: aaguid[:], AttestationFmt: "packed", Attested: true}
	app := authn.Credential{ID: authn.NewID(), UserID: userID, Kind: authn.KindTOTP, CreatedAt: now.Add(time.Second),
		SecretSealed: []byte{1, 2, 3}}
	for _, c := range []authn.Credential{key, app} {
		ev := authn.AuditEvent{Time: now, Actor: "test", Action: "credential.create", Subject: "user:" + userID}
		if err := st.CreateCredential(context.Background(), c, ev); err != nil {
			t.Fatal(err)
		}
	}
	return key.ID
}

func TestAdminInviteLetterAndMail(t *testing.T) {
	pdftotext := needPdftotext(t)
	in := startInbox(t)
	env, url := enrollEnvVars(t, in)
	mustRun(t, env, 0, "admin", "users", "add", "anna.müller", "--name", "Anna Müller", "--email", "anna@stadt.example")
	letter := filepath.Join(t.TempDir(), "anna.pdf")
	var got invitationJSON
	out := mustRun(t, env, 0, "admin", "invite", "Anna.Müller", "--expires", "21d", "--letter", letter,
		"--address", `Große Straße 17\n48143 Münster`, "--mail", "--reason", "new councillor", "--json")
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("invite --json printed %q: %v", out, err)
	}
	if got.Username != "anna.müller" || !strings.HasPrefix(got.Link, "https://login.stadt.example/enroll/") ||
		len(got.Code) != 19 || got.Letter != letter || got.MailedTo != "anna@stadt.example" ||
		time.Until(got.ExpiresAt) < 20*24*time.Hour || time.Until(got.ExpiresAt) > 21*24*time.Hour {
		t.Errorf("invite --json: %+v", got)
	}
	if fi, err := os.Stat(letter); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("letter file: %v, %v", fi, err)
	}
	text, err := exec.Command(pdftotext, "-layout", letter, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, text)
	}
	for _, want := range []string{"Anna Müller", "Große Straße 17", "Stadt Münster", got.Code,
		enroll.GermanDateTime(got.ExpiresAt.Local())} {
		if !strings.Contains(string(text), want) {
			t.Errorf("the letter lacks %q:\n%s", want, text)
		}
	}
	// The link is broken between its token's groups, whose dashes do not
	// matter (enroll.NormalizeToken).
	squash := strings.NewReplacer(" ", "", "\n", "", "-", "")
	if !strings.Contains(squash.Replace(string(text)), squash.Replace(got.Link)) {
		t.Errorf("the letter lacks the link %s:\n%s", got.Link, text)
	}
	mails := in.take()
	if len(mails) != 1 {
		t.Fatalf("%d mails, want the invitation", len(mails))
	}
	if body := mailBody(t, mails[0]); !strings.Contains(body, got.Link) || !strings.Contains(body, got.Code) {
		t.Errorf("the invitation mail lacks link or code:\n%s", body)
	}

	st := openTestStore(t, url)
	u, _ := st.GetUserByUsername(context.Background(), "anna.müller")
	events, _ := st.ListAudit(context.Background(), authn.AuditFilter{Subject: "user:" + u.ID})
	last := events[len(events)-1]
	if last.Action != "invitation.create" || !strings.HasPrefix(last.Actor, "cli:") || last.Reason != "new councillor" {
		t.Errorf("audit: %+v", last)
	}
	// Anna, a local person, has no password yet: her letter speaks of the
	// PIN, and of the password she chooses after her key.
	flat := strings.Join(strings.Fields(string(text)), " ")
	if strings.Contains(flat, "Passwort an") || strings.Contains(flat, "Ein Passwort brauchen Sie nicht") ||
		!strings.Contains(flat, "PIN") || !strings.Contains(flat, "Passwort festlegen") {
		t.Errorf("the letter for a person without a password:\n%s", text)
	}

	// After a reset the letter says her old keys are blocked.
	resetLetter := filepath.Join(t.TempDir(), "anna-reset.pdf")
	mustRun(t, env, 0, "admin", "reset", "anna.müller", "--identity-check", "callback", "--reason", "keys lost", "--letter", resetLetter,
		"--address", `Große Straße 17\n48143 Münster`)
	text, err = exec.Command(pdftotext, resetLetter, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, text)
	}
	if flat := strings.Join(strings.Fields(string(text)), " "); !strings.Contains(flat, enroll.ResetSubject) ||
		!strings.Contains(flat, "sind gesperrt") {
		t.Errorf("the reset letter does not say the old keys are blocked:\n%s", text)
	}
	in.take()

	// Text output, without a letter or mail; a second invitation voids the first.
	out = mustRun(t, env, 0, "admin", "invite", "anna.müller", "--reason", "ticket 1")
	if !strings.Contains(out, "Link: https://login.stadt.example/enroll/") || !strings.Contains(out, "Code: ") ||
		strings.Contains(out, got.Code) {
		t.Errorf("invite printed:\n%s", out)
	}
	if n := len(in.take()); n != 0 {
		t.Errorf("%d mails without --mail", n)
	}
}

func TestAdminInviteRefusals(t *testing.T) {
	env, url := enrollEnvVars(t, nil)
	mustRun(t, env, 0, "admin", "users", "add", "anna")
	letter := filepath.Join(t.TempDir(), "a.pdf")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--expires", "100d"}, "--expires \"100d\""},
		{[]string{"--expires", "soon"}, "--expires \"soon\""},
		{[]string{"--letter", letter, "--reason", "x"}, "no postal address"},
		{[]string{"--letter", letter}, "--reason is required"},
	} {
		if e := mustRun(t, env, 2, append([]string{"admin", "invite", "anna"}, tt.args...)...); !strings.Contains(e, tt.want) {
			t.Errorf("invite %v: stderr %q, want %q", tt.args, e, tt.want)
		}
	}
	if _, err := os.Stat(letter); err == nil {
		t.Error("a refused invite wrote a letter")
	}
	mustRun(t, env, 1, "admin", "invite", "nobody", "--reason", "ticket 1")
	mustRun(t, env, 2, "admin", "reset", "anna")
	mustRun(t, env, 2, "admin", "revoke-credential", "anna", "x")

	// Without a sender or a help contact the letter is refused before
	// anything is issued, naming the setting to add.
	noSender := append(env[:len(env):len(env)], "KEYHALL_LETTER_SENDER_NAME=")
	if e := mustRun(t, noSender, 2, "admin", "invite", "anna", "--letter", letter, "--address", "Weg 1|1 Ort", "--reason", "ticket 1"); !strings.Contains(e, "letter.sender_name is not set") {
		t.Errorf("no sender: %q", e)
	}
	noHelp := append(env[:len(env):len(env)], "KEYHALL_LETTER_HELP_PHONE=", "KEYHALL_LETTER_HELP_EMAIL=")
	if e := mustRun(t, noHelp, 2, "admin", "reset", "anna", "--identity-check", "callback", "--reason", "x", "--letter", letter, "--address", "Weg 1|1 Ort"); !strings.Contains(e, "letter.help_phone") || !strings.Contains(e, "letter.help_email") {
		t.Errorf("no help contact: %q", e)
	}
	st := openTestStore(t, url)
	u, _ := st.GetUserByUsername(context.Background(), "anna")
	for _, e := range mustListAll(t, st) {
		if e.Subject == "user:"+u.ID && e.Action != "user.create" {
			t.Errorf("a refused command wrote %s", e.Action)
		}
	}
}

func TestAdminCredentialsRevokeReset(t *testing.T) {
	in := startInbox(t)
	env, url := enrollEnvVars(t, in)
	mustRun(t, env, 0, "admin", "users", "add", "anna", "--name", "Anna Müller", "--email", "anna@stadt.example")
	st := openTestStore(t, url)
	u, _ := st.GetUserByUsername(context.Background(), "anna")
	keyID := addCredentials(t, st, u.ID)

	var creds []credentialJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, 0, "admin", "users", "credentials", "anna", "--json")), &creds); err != nil {
		t.Fatal(err)
	}
	model := enroll.ModelName(enroll.YubiKeyAAGUIDs()[0])
	if len(creds) != 2 || creds[0].ID != keyID || creds[0].Model != model || model == "" ||
		creds[0].Nickname != "Büro" || !creds[0].Attested || creds[1].Kind != "totp" || creds[1].Attested {
		t.Errorf("users credentials --json: %+v", creds)
	}
	if out := mustRun(t, env, 0, "admin", "users", "credentials", "anna"); !strings.Contains(out, model) {
		t.Errorf("users credentials:\n%s", out)
	}

	if e := mustRun(t, env, 1, "admin", "revoke-credential", "anna", "nope", "--reason", "lost"); !strings.Contains(e, `no credential "nope"`) {
		t.Errorf("unknown credential: %q", e)
	}
	out := mustRun(t, env, 0, "admin", "revoke-credential", "anna", keyID, "--reason", "lost on the train")
	if !strings.Contains(out, "Revoked Büro ("+model+")") || !strings.Contains(out, "Notice mailed to anna@stadt.example") {
		t.Errorf("revoke-credential printed:\n%s", out)
	}
	if mails := in.take(); len(mails) != 1 || !strings.Contains(mailBody(t, mails[0]), "Büro ("+model+")") {
		t.Errorf("revoke notice: %d mails", len(mails))
	}

	addCredentials(t, st, u.ID)
	var rj resetJSON
	out = mustRun(t, env, 0, "admin", "reset", "anna", "--identity-check", "callback", "--reason", "keys stolen", "--json")
	if err := json.Unmarshal([]byte(out), &rj); err != nil {
		t.Fatalf("reset --json printed %q: %v", out, err)
	}
	if rj.Revoked.Keys != 1 || rj.Revoked.Apps != 2 || len(rj.Revoked.CredentialIDs) != 3 ||
		rj.Invitation.Code == "" || rj.Notified != "anna@stadt.example" {
		t.Errorf("reset --json: %+v", rj)
	}
	mails := in.take()
	if len(mails) != 1 {
		t.Fatalf("%d mails after reset, want the notice", len(mails))
	}
	if body := mailBody(t, mails[0]); !strings.Contains(body, "1 Sicherheitsschlüssel, 2 Apps") || strings.Contains(body, rj.Invitation.Link) {
		t.Errorf("reset notice:\n%s", body)
	}
	left, err := st.ListCredentials(context.Background(), u.ID)
	if err != nil {
		t.Fatalf("ListCredentials: %v", err)
	}
	if len(left) != 0 {
		t.Errorf("%d credentials left after reset", len(left))
	}
}

// needPdftotext returns pdftotext's path, skipping the test without it
// (failing it under CI=true).
func needPdftotext(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pdftotext not found (apt-get install -y poppler-utils): %v", err)
		}
		t.Skip("pdftotext not found (apt-get install -y poppler-utils)")
	}
	return p
}

// TestAdminStoredAddress: the postal address is a field of the person, set
// with users add or set-address, and the letter goes to it when --address
// is not given.
func TestAdminStoredAddress(t *testing.T) {
	pdftotext := needPdftotext(t)
	env, url := enrollEnvVars(t, nil)
	mustRun(t, env, 0, "admin", "users", "add", "bernd", "--name", "Bernd Weiß", "--address", "Alter Steinweg 4|48143 Münster")
	var shown userJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, 0, "admin", "users", "show", "bernd", "--json")), &shown); err != nil ||
		!slices.Equal(shown.Address, []string{"Alter Steinweg 4", "48143 Münster"}) {
		t.Fatalf("users show --json: %+v, %v", shown, err)
	}
	mustRun(t, env, 0, "admin", "users", "set-address", "bernd", "--address", `Prinzipalmarkt 10\n48143 Münster`)
	letter := filepath.Join(t.TempDir(), "bernd.pdf")
	mustRun(t, env, 0, "admin", "invite", "bernd", "--letter", letter, "--reason", "ticket 1")
	text, err := exec.Command(pdftotext, "-layout", letter, "-").CombinedOutput()
	if err != nil || !strings.Contains(string(text), "Prinzipalmarkt 10") || strings.Contains(string(text), "Steinweg") {
		t.Errorf("the letter does not go to the stored (new) address: %v\n%s", err, text)
	}
	st := openTestStore(t, url)
	u, _ := st.GetUserByUsername(context.Background(), "bernd")
	events, _ := st.ListAudit(context.Background(), authn.AuditFilter{Subject: "user:" + u.ID})
	if !slices.ContainsFunc(events, func(e authn.AuditEvent) bool { return e.Action == "user.set_address" }) {
		t.Error("set-address was not audited")
	}
	if e := mustRun(t, env, 2, "admin", "users", "set-address", "bernd", "--address", "1|2|3|4|5|6"); !strings.Contains(e, "at most 5") {
		t.Errorf("six lines: %q", e)
	}
}

// TestAdminAddressDirectoryPerson: a directory person's postal address
// comes from her entry, and the sync sets it from there (empty if the
// entry has none): set-address, invite --address and reset --address are
// refused with a clear error, before anything changes, instead of storing
// an address the next sync wipes unseen.
func TestAdminAddressDirectoryPerson(t *testing.T) {
	env, url := enrollEnvVars(t, nil)
	st := openTestStore(t, url)
	ctx := t.Context()
	now := time.Now()
	dora := authn.User{ID: authn.NewID(), Username: "dora", Status: authn.StatusActive, Source: authn.SourceDirectory,
		Directory: "stadt", ExternalID: "uid=dora", CreatedAt: now, UpdatedAt: now}
	if err := st.CreateUser(ctx, dora, authn.AuditEvent{Time: now, Actor: "test", Action: "user.create"}); err != nil {
		t.Fatal(err)
	}
	letter := filepath.Join(t.TempDir(), "dora.pdf")
	for _, args := range [][]string{
		{"admin", "users", "set-address", "dora", "--address", "Große Straße 17|48143 Münster"},
		{"admin", "invite", "dora", "--letter", letter, "--address", "Große Straße 17|48143 Münster", "--reason", "ticket 1"},
		{"admin", "reset", "dora", "--identity-check", "callback", "--reason", "lost key", "--address", "Große Straße 17|48143 Münster"},
	} {
		if e := mustRun(t, env, 2, args...); !strings.Contains(e, "comes from the directory; change it there") {
			t.Errorf("%v: stderr %q", args, e)
		}
	}
	if u, err := st.GetUser(ctx, dora.ID); err != nil || len(u.PostalAddress) != 0 {
		t.Errorf("dora's address after the refusals: %v, %v", u.PostalAddress, err)
	}
	if _, err := st.LatestInvitation(ctx, dora.ID); !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("a refused --address issued an invitation: %v", err)
	}
	if _, err := os.Stat(letter); err == nil {
		t.Error("a refused invite wrote a letter")
	}
	events, _ := st.ListAudit(ctx, authn.AuditFilter{Subject: "user:" + dora.ID})
	if slices.ContainsFunc(events, func(e authn.AuditEvent) bool { return e.Action == "user.set_address" }) {
		t.Error("a refused address was audited as set")
	}
}

// TestAdminInviteRequirePassword: --require-password on invite and reset is
// stored with the invitation and audited, and users show tells it; for a
// directory person, whose password is the directory's, it is refused with
// a clear error before anything changes.
func TestAdminInviteRequirePassword(t *testing.T) {
	env, url := enrollEnvVars(t, nil)
	mustRun(t, env, 0, "admin", "users", "add", "anna")
	out := mustRun(t, env, 0, "admin", "invite", "anna", "--require-password", "--reason", "ticket 1")
	if !strings.Contains(out, "does not finish without one") {
		t.Errorf("invite --require-password printed:\n%s", out)
	}
	if out := mustRun(t, env, 0, "admin", "users", "show", "anna"); !strings.Contains(out, "required by her invitation, not set yet") {
		t.Errorf("users show after invite --require-password:\n%s", out)
	}
	mustRun(t, env, 0, "admin", "reset", "anna", "--identity-check", "callback", "--reason", "lost key", "--require-password")
	var shown userJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, 0, "admin", "users", "show", "anna", "--json")), &shown); err != nil {
		t.Fatal(err)
	}
	if shown.Enrollment == nil || !shown.Enrollment.PasswordRequired || shown.Enrollment.PasswordSet {
		t.Errorf("users show --json after reset --require-password: %+v", shown.Enrollment)
	}
	mustRun(t, env, 0, "admin", "invite", "anna", "--reason", "ticket 1")
	if out := mustRun(t, env, 0, "admin", "users", "show", "anna"); !strings.Contains(out, "Password:") || strings.Contains(out, "required") {
		t.Errorf("users show after an invitation without --require-password:\n%s", out)
	}

	st := openTestStore(t, url)
	ctx := context.Background()
	anna, err := st.GetUserByUsername(ctx, "anna")
	if err != nil {
		t.Fatal(err)
	}
	required := map[string]int{}
	for _, e := range mustListAll(t, st) {
		if e.Subject == "user:"+anna.ID && e.Details["require_password"] == "true" {
			required[e.Action]++
		}
	}
	if required["invitation.create"] != 1 || required["user.reset"] != 1 {
		t.Errorf("audit events with require_password: %v", required)
	}

	now := time.Now()
	dora := authn.User{ID: authn.NewID(), Username: "dora", Status: authn.StatusActive, Source: authn.SourceDirectory,
		ExternalID: "uid=dora", CreatedAt: now, UpdatedAt: now}
	if err := st.CreateUser(ctx, dora, authn.AuditEvent{Time: now, Actor: "test", Action: "user.create"}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"admin", "invite", "dora", "--require-password", "--reason", "ticket 1"},
		{"admin", "reset", "dora", "--identity-check", "callback", "--reason", "lost key", "--require-password"},
	} {
		if e := mustRun(t, env, 2, args...); !strings.Contains(e, "--require-password") || !strings.Contains(e, "directory person") {
			t.Errorf("%v: stderr %q", args, e)
		}
	}
	if _, err := st.LatestInvitation(ctx, dora.ID); !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("a refused --require-password issued an invitation for a directory person: %v", err)
	}
}
