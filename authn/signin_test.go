package authn_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// wantDone wants a completed sign-in with amr and acr, and checks that the
// session is stored under the hash of the new id and audited.
func (e *env) wantDone(p authn.Progress, err error, amr []string, acr authn.Level) authn.Progress {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("step: %v", err)
	}
	if p.Next != authn.StepDone || len(p.SessionID) != 32 || p.PendingID != nil {
		e.t.Fatalf("progress = %+v, want done with a session id", p)
	}
	if !slices.Equal(p.Session.AMR, amr) || p.Session.ACR != string(acr) {
		e.t.Errorf("amr %v acr %q, want %v %q", p.Session.AMR, p.Session.ACR, amr, acr)
	}
	got, err := e.store.GetSession(e.ctx(), authn.HashSessionID(p.SessionID))
	if err != nil {
		e.t.Fatalf("session not stored: %v", err)
	}
	if got.UserID != p.User.ID || !got.ExpiresAt.Equal(e.clock.Now().Add(12*time.Hour)) || got.ClientAddr != client.Addr {
		e.t.Errorf("stored session %+v", got)
	}
	if p.ReturnTo != "/account" && p.ReturnTo != "/" {
		e.t.Errorf("ReturnTo = %q", p.ReturnTo)
	}
	if ev := e.lastAudit(p.User.ID); ev.Action != "signin" || ev.Details["acr"] != string(acr) {
		e.t.Errorf("last audit event %+v, want signin with acr %s", ev, acr)
	}
	return p
}

// lastAudit is the newest event about the person other than a refused
// sign-in (those are TestSignInRefusalsAudited's).
func (e *env) lastAudit(userID string) authn.AuditEvent {
	e.t.Helper()
	e.si.WaitRefusals()
	evs, err := e.store.ListAudit(e.ctx(), authn.AuditFilter{Subject: "user:" + userID, Limit: 1000})
	evs = slices.DeleteFunc(evs, func(ev authn.AuditEvent) bool { return ev.Action == "signin.refused" })
	if err != nil || len(evs) == 0 {
		e.t.Fatalf("ListAudit: %v (%d events)", err, len(evs))
	}
	return evs[len(evs)-1]
}

func TestKeyAndPassword(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	d := e.addKey(anna, false, false, 5)
	e.setPassword(anna, "korrekt Pferd Batterie", cheapArgon2)

	p := e.start("Anna", authn.StepKey)
	if p.Username != "anna" {
		t.Errorf("Start = %+v: want the canonical username", p)
	}
	opts, p := e.beginKey(p)
	p, err := e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, 6), client)
	if err != nil || p.Next != authn.StepPassword {
		t.Fatalf("FinishKey = %+v, %v; want the password step", p, err)
	}
	p, err = e.si.VerifyPassword(e.ctx(), p.PendingID, "wrong", client)
	wantRefused(t, "wrong password", p, err, authn.ReasonWrongPassword)
	p, err = e.si.VerifyPassword(e.ctx(), p.PendingID, "korrekt Pferd Batterie", client)
	e.wantDone(p, err, []string{"pop", "pwd", "mfa"}, authn.LevelPhr)

	list, _ := e.store.ListCredentials(e.ctx(), anna.ID)
	if list[0].SignCount != 6 || !list[0].LastUsedAt.Equal(t0) {
		t.Errorf("sign count %d, last used %v: want 6, %v", list[0].SignCount, list[0].LastUsedAt, t0)
	}
}

func TestKeyWithUserVerification(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	d := e.addKey(anna, false, true, 0) // a key without a counter
	for range 2 {
		opts, p := e.beginKey(e.start("anna", authn.StepKey))
		p, err := e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, 0), client)
		e.wantDone(p, err, []string{"pop", "user", "mfa"}, authn.LevelPhr)
	}
}

func TestPasskey(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	d := e.addKey(anna, true, true, 0)
	opts, p, err := e.si.BeginPasskey(e.ctx(), "/", client)
	if err != nil || p.Next != authn.StepKey {
		t.Fatalf("BeginPasskey = %+v, %v", p, err)
	}
	if o := readOptions(t, opts); o.UserVerification != "required" || len(o.Allow) != 0 {
		t.Errorf("passkey options %s: want UV required and no allowCredentials", opts)
	}
	p, err = e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, -1), client)
	e.wantDone(p, err, []string{"swk", "user", "mfa"}, authn.LevelPhr)

	// Without user verification a passkey is refused.
	d.auth.Options.UserNotVerified = true
	opts, p, _ = e.si.BeginPasskey(e.ctx(), "/", client)
	p, err = e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, -1), client)
	if err == nil {
		t.Fatal("passkey without UV succeeded")
	}
	// A user handle that does not own the key is refused.
	d.auth.Options.UserNotVerified = false
	d.auth.Options.UserHandle = []byte(e.user("bernd", authn.SourceLocal).ID)
	opts, p, _ = e.si.BeginPasskey(e.ctx(), "/", client)
	p, err = e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, -1), client)
	wantRefused(t, "passkey with a foreign user handle", p, err, authn.ReasonKeyRefused)
	// So is one without a user handle, one naming nobody, and ones that
	// are no id at all (which PostgreSQL would not take as text).
	for _, handle := range [][]byte{nil, []byte("niemand"), []byte(authn.NewID()), {0xff, 0xfe}, []byte("a\x00b")} {
		d.auth.Options.UserHandle = handle
		opts, p, _ = e.si.BeginPasskey(e.ctx(), "/", client)
		p, err = e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, -1), client)
		wantRefused(t, fmt.Sprintf("passkey with user handle %q", handle), p, err, authn.ReasonKeyRefused)
	}
}

func TestTOTPAndPassword(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	secret, _ := e.addApp(anna)
	e.setPassword(anna, "korrekt Pferd Batterie", cheapArgon2)
	p := e.start("anna", authn.StepTOTP)
	p, err := e.si.VerifyTOTP(e.ctx(), p.PendingID, "000000x", client)
	wantRefused(t, "malformed code", p, err, authn.ReasonWrongCode)
	// One step of drift is accepted (RFC 6238 §5.2), written with a space.
	code := e.code(secret, t0.Add(-30*time.Second))
	p, err = e.si.VerifyTOTP(e.ctx(), p.PendingID, code[:3]+" "+code[3:], client)
	if err != nil || p.Next != authn.StepPassword {
		t.Fatalf("VerifyTOTP = %+v, %v", p, err)
	}
	p, err = e.si.VerifyPassword(e.ctx(), p.PendingID, "korrekt Pferd Batterie", client)
	e.wantDone(p, err, []string{"otp", "pwd", "mfa"}, authn.LevelMFA)

	// Two steps away (and more) is too far, either way.
	for _, steps := range []int{2, -2, 3, -3} {
		at := t0.Add(time.Duration(steps) * authn.TOTPPeriod * time.Second)
		p = e.start("anna", authn.StepTOTP)
		p, err = e.si.VerifyTOTP(e.ctx(), p.PendingID, e.code(secret, at), client)
		wantRefused(t, fmt.Sprintf("code %d steps away", steps), p, err, authn.ReasonWrongCode)
	}
	// One step behind was used above; the current step and one ahead pass.
	for _, steps := range []int{0, 1} {
		at := t0.Add(time.Duration(steps) * authn.TOTPPeriod * time.Second)
		p = e.start("anna", authn.StepTOTP)
		if p, err = e.si.VerifyTOTP(e.ctx(), p.PendingID, e.code(secret, at), client); err != nil || p.Next != authn.StepPassword {
			t.Errorf("code %d steps away: %+v, %v; want the password next", steps, p, err)
		}
	}
}

func TestRecoveryCode(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	e.addKey(anna, false, false, 0)
	e.setPassword(anna, "korrekt Pferd Batterie", cheapArgon2)
	codes := []string{"abcd-efgh-ijkl-mnop", "qrst-uvwx-yz23-4567"}
	hashes := []authn.TokenHash{authn.HashRecoveryCode(codes[0]), authn.HashRecoveryCode(codes[1])}
	if err := e.store.ReplaceRecoveryCodes(e.ctx(), anna.ID, hashes, audit("recovery.replace", anna.ID)); err != nil {
		t.Fatal(err)
	}
	// Someone with nothing but recovery codes starts with one.
	bernd := e.user("bernd", authn.SourceLocal)
	e.setPassword(bernd, "bernds langes Passwort", cheapArgon2) // codes need one after them
	if err := e.store.ReplaceRecoveryCodes(e.ctx(), bernd.ID, hashes[:1], audit("recovery.replace", bernd.ID)); err != nil {
		t.Fatal(err)
	}
	// Someone with nothing but recovery codes starts at the key, as an
	// unknown name does, and switches to a code.
	p := e.start("bernd", authn.StepKey)
	p, err := e.si.SwitchTo(e.ctx(), p.PendingID, authn.StepRecovery)
	if err != nil || p.Next != authn.StepRecovery {
		t.Fatalf("bernd: SwitchTo = %+v, %v", p, err)
	}
	if p, err = e.si.VerifyRecoveryCode(e.ctx(), p.PendingID, codes[0], client); err != nil || p.Next != authn.StepPassword {
		t.Fatalf("bernd: VerifyRecoveryCode = %+v, %v", p, err)
	}
	p = e.start("anna", authn.StepKey)
	p, err = e.si.SwitchTo(e.ctx(), p.PendingID, authn.StepRecovery)
	if err != nil || p.Next != authn.StepRecovery {
		t.Fatalf("SwitchTo = %+v, %v", p, err)
	}
	p, err = e.si.VerifyRecoveryCode(e.ctx(), p.PendingID, " ABCD efgh IJKL mnop ", client)
	if err != nil || p.Next != authn.StepPassword {
		t.Fatalf("VerifyRecoveryCode = %+v, %v", p, err)
	}
	if ev := e.lastAudit(anna.ID); ev.Action == "recovery_code.use" {
		t.Error("the code is recorded as used before the sign-in is complete")
	}
	p, err = e.si.VerifyPassword(e.ctx(), p.PendingID, "korrekt Pferd Batterie", client)
	p = e.wantDone(p, err, []string{"otp", "pwd", "mfa"}, authn.LevelMFA)
	if !p.Session.RecoveryOnly {
		t.Error("a recovery-code session is not RecoveryOnly")
	}
	if s, _ := e.store.GetSession(e.ctx(), p.Session.Hash); !s.RecoveryOnly {
		t.Error("stored session is not RecoveryOnly")
	}
	// The code is used up.
	p, _ = e.si.SwitchTo(e.ctx(), e.start("anna", authn.StepKey).PendingID, authn.StepRecovery)
	p, err = e.si.VerifyRecoveryCode(e.ctx(), p.PendingID, codes[0], client)
	wantRefused(t, "used recovery code", p, err, authn.ReasonWrongCode)
}

func TestUnknownUserLooksLikeAKeyUser(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	e.addKey(anna, false, false, 0)
	e.addApp(anna)
	e.store.ReplaceRecoveryCodes(e.ctx(), anna.ID, []authn.TokenHash{authn.HashRecoveryCode("x")}, audit("r", anna.ID))
	e.restart() // a process that starts with anna's key the most common one
	known := e.start("anna", authn.StepKey)
	unknown := e.start("niemand", authn.StepKey)
	// The pending id holds the username and the key ceremony's challenge,
	// not the keys, so it differs in length only as the name typed does.
	ko, _ := e.beginKey(known)
	uo, _ := e.beginKey(unknown)
	if known.Next != unknown.Next || len(known.PendingID)-len("anna") != len(unknown.PendingID)-len("niemand") {
		t.Errorf("known (%s, id of %d bytes) and unknown (%s, %d bytes) differ in shape", ko, len(known.PendingID), uo, len(unknown.PendingID))
	}
	// Without a ceremony, the ids are the same length.
	e.addApp(e.user("carla", authn.SourceLocal))
	app := e.start("carla", authn.StepTOTP)
	fake := e.start(unknownAppName(t, e), authn.StepTOTP)
	if len(app.PendingID) != len(fake.PendingID) {
		t.Errorf("pending id of a known person %d bytes long, of an unknown name %d", len(app.PendingID), len(fake.PendingID))
	}
	first := readOptions(t, uo).Allow
	if again, _ := e.beginKey(e.start("niemand", authn.StepKey)); !reflect.DeepEqual(first, readOptions(t, again).Allow) {
		t.Errorf("fake keys %v, then %s: want the same each time", first, again)
	}
	// Every finish fails the same way.
	d := e.addKey(e.user("bernd", authn.SourceLocal), false, true, 0)
	opts, p := e.beginKey(unknown)
	opts = bytes.Replace(opts, []byte(first[0].ID), []byte(b64(d.cred.ID)), 1)
	p, err := e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, 1), client)
	wantRefused(t, "unknown user, real key", p, err, authn.ReasonKeyRefused)
	p, err = e.si.VerifyTOTP(e.ctx(), e.start("niemand", authn.StepKey).PendingID, "123456", client)
	wantRefused(t, "unknown user, app code", p, err, authn.ReasonWrongCode)
	p, err = e.si.VerifyRecoveryCode(e.ctx(), p.PendingID, "x", client)
	wantRefused(t, "unknown user, recovery code", p, err, authn.ReasonWrongCode)
}

func TestForeignKeyRefused(t *testing.T) {
	e := newEnv(t)
	anna, bernd := e.user("anna", authn.SourceLocal), e.user("bernd", authn.SourceLocal)
	e.addKey(anna, false, true, 0)
	db := e.addKey(bernd, false, true, 0)
	opts, p := e.beginKey(e.start("anna", authn.StepKey))
	// Bernd's authenticator answers for his own key, not on anna's list.
	var o map[string]any
	json.Unmarshal(opts, &o)
	o["publicKey"].(map[string]any)["allowCredentials"] = []map[string]string{{"type": "public-key", "id": b64(db.cred.ID)}}
	opts, _ = json.Marshal(o)
	p, err := e.si.FinishKey(e.ctx(), p.PendingID, e.sign(db, opts, 1), client)
	wantRefused(t, "bernd's key in anna's sign-in", p, err, authn.ReasonKeyRefused)
	wantCause(t, err, "is not one of user")
}

// TestUnknownUserFirstStep: a known person without a key starts at the app,
// so unknown names must not always start at the key: some start at the app,
// each always the same way, and nothing tells them from real people.
func TestUnknownUserFirstStep(t *testing.T) {
	e := newEnv(t)
	counts := map[authn.Step]int{}
	for i := range 200 {
		name := fmt.Sprintf("niemand%d", i)
		p, err := e.si.Start(e.ctx(), name, "/account", client)
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.si.Start(e.ctx(), name, "/account", client)
		if err != nil {
			t.Fatal(err)
		}
		if again.Next != p.Next {
			t.Fatalf("%s: first step %s, then %s: must be the same each time", name, p.Next, again.Next)
		}
		counts[p.Next]++
	}
	if counts[authn.StepTOTP] < 20 || counts[authn.StepKey] < 100 || counts[authn.StepKey]+counts[authn.StepTOTP] != 200 {
		t.Errorf("first steps of 200 unknown names: %v; want mostly key, some app, nothing else", counts)
	}
}

// unknownAppName returns an unknown username of five characters (as
// "carla") whose first step is the app.
func unknownAppName(t *testing.T, e *env) string {
	t.Helper()
	for i := range 1000 {
		name := fmt.Sprintf("n%04d", i)
		if p, err := e.si.Start(e.ctx(), name, "/account", client); err == nil && p.Next == authn.StepTOTP {
			return name
		}
	}
	t.Fatal("no unknown name of five characters starts at the app")
	return ""
}

// TestLongReturnTo: a return address too long to travel in the pending id
// with a person's key ceremony (2.6 KB) is dropped, and the sign-in goes
// on; a shorter one (2 KB) is kept.
func TestLongReturnTo(t *testing.T) {
	e := newEnv(t)
	d := e.keys("anna", 3)
	kept := "/account?x=" + strings.Repeat("b", 2048-len("/account?x="))
	if p, err := e.si.Start(e.ctx(), "anna", kept, client); err != nil || p.ReturnTo != kept {
		t.Errorf("Start with a 2 KB return address: %v, return to %d bytes; want it kept", err, len(p.ReturnTo))
	}
	long := "/account?x=" + strings.Repeat("a", 2600-len("/account?x="))
	p, err := e.si.Start(e.ctx(), "anna", long, client)
	if err != nil || p.Next != authn.StepKey || p.ReturnTo != "" {
		t.Fatalf("Start with a 2.6 KB return address: %v, next %s, return to %d bytes; want the key, no return address", err, p.Next, len(p.ReturnTo))
	}
	opts, p := e.beginKey(p)
	p, err = e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, 1), client)
	if err != nil || p.Next != authn.StepDone || p.ReturnTo != "" {
		t.Errorf("FinishKey: %v, next %s, return to %q; want done, to the default page", err, p.Next, p.ReturnTo)
	}
	// An unknown username, a forward-auth address of 3,000 bytes.
	if p, err := e.si.Start(e.ctx(), "niemand", "https://wiki.stadt.example/"+strings.Repeat("a", 3000), client); err != nil || p.ReturnTo != "" {
		t.Errorf("Start(unknown, 3 KB return address): %v, return to %d bytes", err, len(p.ReturnTo))
	}
	if p, err := e.si.Start(e.ctx(), "anna", "/account?x=1", client); err != nil || p.ReturnTo != "/account?x=1" {
		t.Errorf("Start with a short return address: %v, return to %q", err, p.ReturnTo)
	}
}

// keys adds a local person with n keys that verify her and returns the
// last key.
func (e *env) keys(name string, n int) *device {
	u := e.user(name, authn.SourceLocal)
	var d *device
	for range n {
		d = e.addKey(u, false, true, 0)
	}
	return d
}

// TestFakeKeysFollowTheKeyLengths: before any key exists the fake keys
// have a default id length (32 bytes); once the only key has another (48),
// they take it within keyStatsTTL (read in the background, so a request
// never waits).
func TestFakeKeysFollowTheKeyLengths(t *testing.T) {
	e := newEnv(t)
	fake := func() []allowedKey { // the allowCredentials of an unknown name's options
		opts, _ := e.beginKey(e.start("niemand", authn.StepKey))
		return readOptions(t, opts).Allow
	}
	before := fake()
	anna := e.user("anna", authn.SourceLocal)
	long := authn.Credential{ID: authn.NewID(), UserID: anna.ID, Kind: authn.KindWebAuthn, Nickname: "key", CreatedAt: t0,
		WebAuthnID: bytes.Repeat([]byte{7}, 48), PublicKey: []byte{1}, Transports: []string{"usb"}}
	if err := e.store.CreateCredential(e.ctx(), long, audit("credential.create", anna.ID)); err != nil {
		t.Fatal(err)
	}
	if got := fake(); !reflect.DeepEqual(got, before) {
		t.Errorf("fake keys changed before their shape was read again:\n%s\n%s", before, got)
	}
	idLens := func(keys []allowedKey) []int {
		var out []int
		for _, k := range keys {
			id, err := base64.RawURLEncoding.DecodeString(k.ID)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, len(id))
		}
		return out
	}
	if got := idLens(before); !slices.Equal(got, []int{32, 32, 32, 32}) {
		t.Errorf("fake ids of %v bytes before any key, want four of 32", got)
	}
	e.clock.Add(11 * time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Equal(idLens(fake()), []int{48, 48, 48, 48}) {
		if time.Now().After(deadline) {
			t.Fatalf("fake ids of %v bytes 11 minutes after a key of 48 was added, want 48", idLens(fake()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
