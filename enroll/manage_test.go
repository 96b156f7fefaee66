package enroll_test

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// recorder is a Mailer that keeps what it is given.
type recorder struct {
	mu   sync.Mutex // guards sent
	sent []enroll.Message
}

func (r *recorder) Send(_ context.Context, m enroll.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, m)
	return nil
}

func (r *recorder) take() []enroll.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.sent
	r.sent = nil
	return out
}

// directory is a PasswordChecker that counts its calls and accepts "right".
type directory struct{ calls int }

func (d *directory) VerifyPassword(_ context.Context, _ authn.User, pw string) error {
	d.calls++
	if pw != "right" {
		return authn.ErrWrongPassword
	}
	return nil
}

// rebuild replaces f.svc with one that mails to m and asks dir.
func (f *fixture) rebuild(t *testing.T, m enroll.Mailer, dir enroll.PasswordChecker) {
	t.Helper()
	pub, _ := url.Parse(origin)
	svc, err := enroll.New(enroll.Config{Store: f.store, PublicURL: pub, EncryptionKey: [32]byte{1, 2, 3}, Now: f.clock.now,
		Logger: slog.New(slog.DiscardHandler), Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy(),
			Groups: map[string]enroll.KeyPolicy{"rat": {}}},
		Mailer: m, Directory: dir})
	must(t, err)
	f.svc = svc
}

func TestInspect(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	anna := f.user(t, "anna")
	inv, err := f.svc.Issue(ctx, anna.ID, time.Hour, "cli:root", "")
	must(t, err)
	here := authn.ClientInfo{Addr: "192.0.2.1"}
	info, err := f.svc.Inspect(ctx, token(inv.Link), here)
	must(t, err)
	if info.User.ID != anna.ID || !info.ExpiresAt.Equal(inv.ExpiresAt.Truncate(time.Microsecond)) || info.NeedsPassword {
		t.Errorf("Inspect = %+v", info)
	}
	// A link of an invitation issued before tokens used the code alphabet
	// (base64url, case and dashes meaningful) still works.
	old := f.user(t, "otto")
	oldToken := "Qm9n-dXMt_b2xkLXRva2VuLWZvci1hLWxldHRlci10ZXN0"
	must(t, f.store.CreateInvitation(ctx, authn.Invitation{ID: authn.NewID(), UserID: old.ID, TokenHash: authn.HashToken(oldToken),
		Purpose: authn.PurposeEnroll, CreatedBy: "cli:root", CreatedAt: f.clock.now(), ExpiresAt: f.clock.now().Add(time.Hour)},
		authn.AuditEvent{Time: f.clock.now(), Actor: "test", Action: "invitation.create"}))
	if info, err := f.svc.Inspect(ctx, oldToken, here); err != nil || info.User.ID != old.ID {
		t.Errorf("an old link: %+v, %v", info, err)
	}
	// A link typed from the letter in small letters, without its dashes,
	// is the same link.
	typed := strings.ToLower(strings.ReplaceAll(token(inv.Link), "-", ""))
	if info, err := f.svc.Inspect(ctx, typed, here); err != nil || info.User.ID != anna.ID {
		t.Errorf("Inspect(%q) = %+v, %v", typed, info, err)
	}
	if _, err := f.svc.Redeem(ctx, enroll.Redemption{Token: typed}); err != nil {
		t.Fatalf("Redeem after Inspect: %v", err)
	}
	_, err = f.svc.Inspect(ctx, otherToken(token(inv.Link)), here)
	wantReason(t, "unknown token", err, enroll.ReasonWrongCode)
	newer, err := f.svc.Issue(ctx, anna.ID, time.Hour, "cli:root", "")
	must(t, err)
	_, err = f.svc.Inspect(ctx, token(inv.Link), here)
	wantReason(t, "voided invitation", err, enroll.ReasonUsed)
	f.clock.add(2 * time.Hour)
	_, err = f.svc.Inspect(ctx, token(newer.Link), here)
	wantReason(t, "expired invitation", err, enroll.ReasonExpired)

	// Wrong lookups count as guesses against the address.
	fresh, err := f.svc.Issue(ctx, anna.ID, 0, "cli:root", "")
	must(t, err)
	guesser := authn.ClientInfo{Addr: "198.51.100.7"}
	for range 10 {
		_, err := f.svc.Inspect(ctx, enroll.NewToken(), guesser)
		wantReason(t, "guessed token", err, enroll.ReasonWrongCode)
	}
	_, err = f.svc.Inspect(ctx, token(fresh.Link), guesser)
	wantReason(t, "right token after 10 guesses", err, enroll.ReasonThrottled)
	_, err = f.svc.Redeem(ctx, enroll.Redemption{Token: token(fresh.Link), Client: guesser})
	wantReason(t, "redeem after 10 guessed links", err, enroll.ReasonThrottled)
}

func TestEmptyDirectoryPasswordNeverReachesTheDirectory(t *testing.T) {
	f := newFixture(t)
	dir := &directory{}
	f.rebuild(t, nil, dir)
	ctx := t.Context()
	now := f.clock.now()
	dora := authn.User{ID: authn.NewID(), Username: "dora", Status: authn.StatusActive, Source: authn.SourceDirectory,
		ExternalID: "uid=dora", CreatedAt: now, UpdatedAt: now}
	must(t, f.store.CreateUser(ctx, dora, authn.AuditEvent{Time: now, Actor: "test", Action: "user.create"}))
	inv, err := f.svc.Issue(ctx, dora.ID, 0, "cli:root", "")
	must(t, err)
	info, err := f.svc.Inspect(ctx, token(inv.Link), authn.ClientInfo{})
	if err != nil || !info.NeedsPassword {
		t.Fatalf("Inspect of a directory person's link = %+v, %v; want NeedsPassword", info, err)
	}
	for _, pw := range []string{"", "wrong"} {
		_, err := f.svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link), Password: pw})
		wantReason(t, "password "+pw, err, enroll.ReasonWrongPassword)
	}
	if dir.calls != 1 {
		t.Errorf("the directory was asked %d times, want 1 (never for the empty password)", dir.calls)
	}
	_, err = f.svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link), Password: "right"})
	must(t, err)
}

func TestSelfService(t *testing.T) {
	f := newFixture(t)
	mail := &recorder{}
	f.rebuild(t, mail, nil)
	ctx := t.Context()
	anna := f.user(t, "anna")
	f.setEmail(t, anna, "anna@stadt.example")

	sess := f.session(t, anna, authn.LevelPhrh, false)
	pr, err := f.svc.Open(ctx, sess, authn.ScopeKey)
	must(t, err)
	if !pr.Consumed || pr.User.ID != anna.ID || len(pr.ID) != 32 {
		t.Fatalf("Open = %+v", pr)
	}
	first, pr, err := f.register(t, pr.ID, keyReg{fmt: "none"})
	must(t, err)
	_, _, err = f.register(t, pr.ID, keyReg{fmt: "none"})
	must(t, err)
	sent := mail.take()
	if len(sent) != 2 || sent[0].To != "anna@stadt.example" || !strings.Contains(sent[0].Subject, "New sign-in factor") ||
		!strings.Contains(sent[0].Body, origin+"/account") {
		t.Fatalf("mails after adding two keys: %+v", sent)
	}

	for _, bad := range []string{"", "   ", strings.Repeat("x", 65), "a\nb", "tab\there", "\x7f"} {
		wantReason(t, "nickname "+bad, f.svc.Rename(ctx, sess, first.Credential.ID, bad), enroll.ReasonNickname)
	}
	if err := f.svc.Rename(ctx, sess, "nope", "Büro"); !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("Rename(unknown) = %v, want ErrNotFound", err)
	}
	must(t, f.svc.Rename(ctx, sess, first.Credential.ID, "  "+strings.Repeat("ü", 64)+" "))

	removed, err := f.svc.Remove(ctx, sess, first.Credential.ID)
	must(t, err)
	if removed.Nickname != strings.Repeat("ü", 64) {
		t.Errorf("removed %+v", removed)
	}
	if sent := mail.take(); len(sent) != 1 || !strings.Contains(sent[0].Body, strings.Repeat("ü", 64)) ||
		!strings.Contains(sent[0].Subject, "removed") {
		t.Fatalf("mails after removing: %+v", sent)
	}
	creds, err := f.store.ListCredentials(ctx, anna.ID)
	must(t, err)
	_, err = f.svc.Remove(ctx, sess, creds[0].ID)
	wantReason(t, "the last key", err, enroll.ReasonLastFactor)
	if _, err := f.svc.Remove(ctx, sess, "nope"); !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("Remove(unknown) = %v, want ErrNotFound", err)
	}
	// IT may take the last one.
	must(t, f.svc.RevokeCredential(ctx, anna.ID, creds[0].ID, "cli:helpdesk", "verloren"))
	if sent := mail.take(); len(sent) != 0 {
		t.Errorf("IT's revocation mailed %d times from the service; its caller tells the person", len(sent))
	}
}

func TestRemoveKeepsTheKeyThePolicyNeeds(t *testing.T) {
	f := newFixture(t)
	f.rebuild(t, nil, nil)
	ctx := t.Context()
	rita := f.user(t, "rita", "rat")
	now := f.clock.now()
	id := make([]byte, 32)
	rand.Read(id)
	key := authn.Credential{ID: authn.NewID(), UserID: rita.ID, Kind: authn.KindWebAuthn, CreatedAt: now, WebAuthnID: id, PublicKey: []byte{1}}
	app := authn.Credential{ID: authn.NewID(), UserID: rita.ID, Kind: authn.KindTOTP, CreatedAt: now, SecretSealed: []byte{1}}
	for _, c := range []authn.Credential{key, app} {
		must(t, f.store.CreateCredential(ctx, c, authn.AuditEvent{Time: now, Actor: "test", Action: "credential.create"}))
	}
	sess := f.session(t, rita, authn.LevelPhrh, false)
	_, err := f.svc.Remove(ctx, sess, key.ID)
	wantReason(t, "rat's only key", err, enroll.ReasonKeyNeeded)
	_, err = f.svc.Remove(ctx, sess, app.ID)
	must(t, err)
}

func TestRecoveryCodeUsedMail(t *testing.T) {
	f := newFixture(t)
	mail := &recorder{}
	f.rebuild(t, mail, nil)
	ctx := t.Context()
	anna := f.user(t, "anna")
	f.svc.RecoveryCodeUsed(ctx, "anna")
	f.svc.RecoveryCodeUsed(ctx, "nobody")
	if sent := mail.take(); len(sent) != 0 {
		t.Fatalf("mailed a person without an address: %+v", sent)
	}
	f.setEmail(t, anna, "anna@stadt.example")
	must(t, f.store.ReplaceRecoveryCodes(ctx, anna.ID, []authn.TokenHash{{1}, {2}, {3}},
		authn.AuditEvent{Time: f.clock.now(), Actor: "test", Action: "recovery_codes.replace"}))
	f.svc.RecoveryCodeUsed(ctx, "anna")
	if sent := mail.take(); len(sent) != 1 || !strings.Contains(sent[0].Body, "noch 3 Codes") {
		t.Fatalf("recovery mail: %+v", sent)
	}
}

func (f *fixture) setEmail(t *testing.T, u authn.User, email string) {
	t.Helper()
	_, err := f.store.UpdateUser(t.Context(), u.ID, func(u authn.User) (authn.User, error) {
		u.Email = email
		return u, nil
	}, authn.AuditEvent{Time: f.clock.now(), Actor: "test", Action: "user.update"})
	must(t, err)
}

// otherToken returns tok with its first character changed.
func otherToken(tok string) string {
	if tok[0] == 'A' {
		return "B" + tok[1:]
	}
	return "A" + tok[1:]
}

// answering is a PasswordChecker that answers every password with err.
type answering struct {
	err   error
	calls int
}

func (d *answering) VerifyPassword(context.Context, authn.User, string) error {
	d.calls++
	return d.err
}

// TestDirectoryRefusalsAtEnrollment: what the directory says of a
// person's account at redemption reaches her as its own refusal, a
// directory that does not answer is not a wrong password (and not a
// storage failure), and wrong directory passwords stop at the configured
// limit, below the directory's lockout threshold.
func TestDirectoryRefusalsAtEnrollment(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	now := f.clock.now()
	dora := authn.User{ID: authn.NewID(), Username: "dora", Status: authn.StatusActive, Source: authn.SourceDirectory,
		ExternalID: "uid=dora", CreatedAt: now, UpdatedAt: now}
	must(t, f.store.CreateUser(ctx, dora, authn.AuditEvent{Time: now, Actor: "test", Action: "user.create"}))
	inv, err := f.svc.Issue(ctx, dora.ID, 0, "cli:root", "")
	must(t, err)
	for _, tc := range []struct {
		err  error
		want enroll.Reason
	}{
		{authn.ErrDirectoryUnavailable, enroll.ReasonDirectoryUnavailable},
		{authn.ErrAccountDisabled, enroll.ReasonDisabled},
		{authn.ErrAccountExpired, enroll.ReasonDirectoryAccount},
		{authn.ErrPasswordMustChange, enroll.ReasonDirectoryAccount},
		{authn.ErrAccountLocked, enroll.ReasonDirectoryAccount},
	} {
		f.rebuild(t, nil, &answering{err: tc.err})
		for range 12 { // more than any limit: none of these is a counted guess
			_, err := f.svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link), Password: "Sommer2026!"})
			wantReason(t, tc.err.Error(), err, tc.want)
		}
	}

	// With a limit of 3, the 4th wrong password is not sent.
	pub, _ := url.Parse(origin)
	dir := &answering{err: authn.ErrWrongPassword}
	svc, err := enroll.New(enroll.Config{Store: f.store, PublicURL: pub, EncryptionKey: [32]byte{1, 2, 3}, Now: f.clock.now,
		Logger: slog.New(slog.DiscardHandler), Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()},
		Directory: dir, PasswordLimit: 3, PasswordWindow: 30 * time.Minute})
	must(t, err)
	for i := range 3 {
		_, err := svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link), Password: "wrong" + strconv.Itoa(i)})
		wantReason(t, "wrong password", err, enroll.ReasonWrongPassword)
	}
	_, err = svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link), Password: "wrong3"})
	wantReason(t, "4th wrong password", err, enroll.ReasonThrottled)
	if dir.calls != 3 {
		t.Errorf("the directory was asked %d times, want 3", dir.calls)
	}
	// They count where sign-in counts wrong passwords: together both stay
	// below the directory's lockout threshold.
	if n, err := f.store.ThrottleCount(ctx, authn.PasswordThrottleKey("dora"), f.clock.now(), 30*time.Minute); err != nil || n != 3 {
		t.Errorf("sign-in's password counter = %d, %v; want 3", n, err)
	}
	// The window is the configured one: after 16 minutes she is still stopped.
	f.clock.add(16 * time.Minute)
	_, err = svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link), Password: "wrong4"})
	wantReason(t, "after 16 minutes", err, enroll.ReasonThrottled)
}
