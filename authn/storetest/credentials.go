package storetest

import (
	"bytes"
	crand "crypto/rand"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

func newKey(u authn.User, created time.Time) authn.Credential {
	id := make([]byte, 48)
	crand.Read(id)
	return authn.Credential{
		ID: authn.NewID(), UserID: u.ID, Kind: authn.KindWebAuthn, Nickname: "YubiKey 5 NFC", CreatedAt: created,
		WebAuthnID: id, PublicKey: []byte{0xa5, 1, 2, 3, 0x26}, SignCount: 7,
		AAGUID: bytes.Repeat([]byte{0xee}, 16), Transports: []string{"usb", "nfc"}, AttestationFmt: "packed",
	}
}

func newApp(u authn.User, created time.Time) authn.Credential {
	return authn.Credential{
		ID: authn.NewID(), UserID: u.ID, Kind: authn.KindTOTP, Nickname: "Authenticator", CreatedAt: created,
		SecretSealed: []byte("sealed secret bytes"), LastStep: 100,
	}
}

func mkCredential(t *testing.T, s authn.Store, c authn.Credential) authn.Credential {
	t.Helper()
	must(t, "CreateCredential", s.CreateCredential(t.Context(), c, ev("credential.create", "user:"+c.UserID)))
	return c
}

func normCredential(c authn.Credential) authn.Credential {
	for _, p := range []*time.Time{&c.CreatedAt, &c.LastUsedAt} {
		if !p.IsZero() {
			*p = micro(*p)
		}
	}
	return c
}

func normCredentials(cs []authn.Credential) []authn.Credential { return slicesMap(cs, normCredential) }

func testCredentials(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna, bernd := mkUser(t, s, "anna"), mkUser(t, s, "bernd")
	k1 := newKey(anna, t0)
	k1.Attested, k1.AttestationChain = true, []byte("\x30\x82 DER of the leaf, then of its issuer")
	mkCredential(t, s, k1)
	app := mkCredential(t, s, newApp(anna, t0.Add(time.Minute)))
	k2 := newKey(anna, t0.Add(2*time.Minute))
	k2.BackupEligible, k2.Transports, k2.AAGUID = true, nil, nil
	mkCredential(t, s, k2)
	kb := mkCredential(t, s, newKey(bernd, t0))

	list, err := s.ListCredentials(ctx, anna.ID)
	must(t, "ListCredentials", err)
	same(t, "ListCredentials (oldest first)", list, []authn.Credential{k1, app, k2}, normCredentials)
	list, err = s.ListCredentials(ctx, "nobody")
	must(t, "ListCredentials(nobody)", err)
	if len(list) != 0 {
		t.Errorf("ListCredentials(nobody) = %d, want none", len(list))
	}
	got, err := s.GetCredentialByWebAuthnID(ctx, kb.WebAuthnID)
	must(t, "GetCredentialByWebAuthnID", err)
	same(t, "GetCredentialByWebAuthnID", got, kb, normCredential)
	_, err = s.GetCredentialByWebAuthnID(ctx, []byte("unknown"))
	wantErr(t, "GetCredentialByWebAuthnID(unknown)", err, authn.ErrNotFound)
	_, err = s.GetCredentialByWebAuthnID(ctx, nil)
	wantErr(t, "GetCredentialByWebAuthnID(nil)", err, authn.ErrNotFound)

	dup := newKey(bernd, t0)
	dup.WebAuthnID = k1.WebAuthnID
	wantErr(t, "CreateCredential(taken WebAuthnID)",
		s.CreateCredential(ctx, dup, ev("credential.create", "")), authn.ErrAlreadyExists)
	wantErr(t, "CreateCredential(same ID)",
		s.CreateCredential(ctx, k1, ev("credential.create", "")), authn.ErrAlreadyExists)
	ghost := newKey(authn.User{ID: "ghost"}, t0)
	wantErr(t, "CreateCredential(unknown user)",
		s.CreateCredential(ctx, ghost, ev("credential.create", "")), authn.ErrNotFound)
	long := newKey(anna, t0)
	long.WebAuthnID = make([]byte, authn.MaxWebAuthnIDLength+1)
	if err := s.CreateCredential(ctx, long, ev("credential.create", "")); err == nil {
		t.Error("CreateCredential with a 1024-byte credential id succeeded")
	}
	if n := auditCount(t, s); n != 2+4 {
		t.Errorf("audit events = %d, want 6 (2 users, 4 credentials; failed creates write none)", n)
	}
}

func testRecordKeyUse(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	k := mkCredential(t, s, newKey(anna, t0)) // count 7
	app := mkCredential(t, s, newApp(anna, t0))
	at := t0.Add(time.Hour)

	wantErr(t, "RecordKeyUse(7 = stored)", s.RecordKeyUse(ctx, k.ID, 7, at), authn.ErrNotForward)
	wantErr(t, "RecordKeyUse(3 < stored)", s.RecordKeyUse(ctx, k.ID, 3, at), authn.ErrNotForward)
	wantErr(t, "RecordKeyUse(0 < stored)", s.RecordKeyUse(ctx, k.ID, 0, at), authn.ErrNotForward)
	must(t, "RecordKeyUse(8)", s.RecordKeyUse(ctx, k.ID, 8, at))
	must(t, "RecordKeyUse(max)", s.RecordKeyUse(ctx, k.ID, 1<<32-1, at))
	wantErr(t, "RecordKeyUse(unknown)", s.RecordKeyUse(ctx, "unknown", 9, at), authn.ErrNotFound)
	wantErr(t, "RecordKeyUse(an app)", s.RecordKeyUse(ctx, app.ID, 9, at), authn.ErrNotFound)
	got := credByID(t, s, anna.ID, k.ID)
	if got.SignCount != 1<<32-1 || !got.LastUsedAt.Equal(micro(at)) {
		t.Errorf("after RecordKeyUse: count %d, last used %v; want %d, %v", got.SignCount, got.LastUsedAt, uint32(1<<32-1), micro(at))
	}

	// A key without a counter always reports 0: each use is recorded.
	z := newKey(anna, t0)
	z.SignCount = 0
	mkCredential(t, s, z)
	must(t, "RecordKeyUse(0 after 0)", s.RecordKeyUse(ctx, z.ID, 0, at))
	must(t, "RecordKeyUse(0 after 0, again)", s.RecordKeyUse(ctx, z.ID, 0, at.Add(time.Minute)))
	if got := credByID(t, s, anna.ID, z.ID); !got.LastUsedAt.Equal(micro(at.Add(time.Minute))) {
		t.Errorf("counterless key last used %v, want %v", got.LastUsedAt, micro(at.Add(time.Minute)))
	}
	must(t, "RecordKeyUse(1 after 0)", s.RecordKeyUse(ctx, z.ID, 1, at))
	wantErr(t, "RecordKeyUse(0 after 1)", s.RecordKeyUse(ctx, z.ID, 0, at), authn.ErrNotForward)
}

func credByID(t *testing.T, s authn.Store, userID, id string) authn.Credential {
	t.Helper()
	list, err := s.ListCredentials(t.Context(), userID)
	must(t, "ListCredentials", err)
	for _, c := range list {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("credential %s not listed", id)
	return authn.Credential{}
}

// testRecordKeyUseConcurrent: 50 goroutines record distinct counts; the
// stored count ends at the largest, and each call succeeds only if its
// count was above the count stored when it ran.
func testRecordKeyUseConcurrent(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	k := newKey(anna, t0)
	k.SignCount = 0
	mkCredential(t, s, k)
	const n = 50
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = s.RecordKeyUse(ctx, k.ID, uint32(i+1), t0) })
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, authn.ErrNotForward):
			t.Fatalf("RecordKeyUse(%d): %v", i+1, err)
		}
	}
	if got := credByID(t, s, anna.ID, k.ID).SignCount; got != n {
		t.Errorf("sign count after %d concurrent uses = %d, want %d", n, got, n)
	}
	if ok < 1 || ok > n {
		t.Errorf("%d of %d uses succeeded", ok, n)
	}
	for i := range n {
		wantErr(t, "RecordKeyUse(count ≤ stored)", s.RecordKeyUse(ctx, k.ID, uint32(i+1), t0), authn.ErrNotForward)
	}
}

func testFlagCloned(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	k := mkCredential(t, s, newKey(anna, t0))
	app := mkCredential(t, s, newApp(anna, t0))
	before := auditCount(t, s)
	must(t, "FlagCloned", s.FlagCloned(ctx, k.ID, ev("credential.cloned", "user:"+anna.ID)))
	if !credByID(t, s, anna.ID, k.ID).Cloned {
		t.Error("FlagCloned did not flag the key")
	}
	got, err := s.GetCredentialByWebAuthnID(ctx, k.WebAuthnID)
	must(t, "GetCredentialByWebAuthnID", err)
	if !got.Cloned {
		t.Error("GetCredentialByWebAuthnID does not show the flag")
	}
	wantErr(t, "FlagCloned(unknown)", s.FlagCloned(ctx, "unknown", ev("credential.cloned", "")), authn.ErrNotFound)
	wantErr(t, "FlagCloned(app)", s.FlagCloned(ctx, app.ID, ev("credential.cloned", "")), authn.ErrNotFound)
	if n := auditCount(t, s); n != before+1 {
		t.Errorf("audit events after FlagCloned = %d, want %d", n, before+1)
	}
}

func testAcceptTOTPStep(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	app := mkCredential(t, s, newApp(anna, t0)) // last step 100
	k := mkCredential(t, s, newKey(anna, t0))
	at := t0.Add(time.Hour)
	wantErr(t, "AcceptTOTPStep(100 = last)", s.AcceptTOTPStep(ctx, app.ID, 100, at), authn.ErrNotForward)
	wantErr(t, "AcceptTOTPStep(99 < last)", s.AcceptTOTPStep(ctx, app.ID, 99, at), authn.ErrNotForward)
	must(t, "AcceptTOTPStep(101)", s.AcceptTOTPStep(ctx, app.ID, 101, at))
	wantErr(t, "AcceptTOTPStep(101 again)", s.AcceptTOTPStep(ctx, app.ID, 101, at), authn.ErrNotForward)
	must(t, "AcceptTOTPStep(200)", s.AcceptTOTPStep(ctx, app.ID, 200, at))
	wantErr(t, "AcceptTOTPStep(unknown)", s.AcceptTOTPStep(ctx, "unknown", 300, at), authn.ErrNotFound)
	wantErr(t, "AcceptTOTPStep(a key)", s.AcceptTOTPStep(ctx, k.ID, 300, at), authn.ErrNotFound)
	got := credByID(t, s, anna.ID, app.ID)
	if got.LastStep != 200 || !got.LastUsedAt.Equal(micro(at)) {
		t.Errorf("after AcceptTOTPStep: step %d, last used %v; want 200, %v", got.LastStep, got.LastUsedAt, micro(at))
	}
}

// testAcceptTOTPStepConcurrent: the same step from 20 goroutines is
// accepted exactly once.
func testAcceptTOTPStepConcurrent(t *testing.T, s authn.Store) {
	anna := mkUser(t, s, "anna")
	app := mkCredential(t, s, newApp(anna, t0))
	exactlyOnce(t, "AcceptTOTPStep", authn.ErrNotForward, func() error {
		return s.AcceptTOTPStep(t.Context(), app.ID, 1000, t0)
	})
}

// exactlyOnce runs fn from 20 goroutines at once and wants one nil and
// otherwise only loser errors.
func exactlyOnce(t *testing.T, what string, loser error, fn func() error) {
	t.Helper()
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn()
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, loser):
			t.Fatalf("%s: %v", what, err)
		}
	}
	if ok != 1 {
		t.Errorf("%s from %d goroutines: %d succeeded, want exactly 1", what, n, ok)
	}
}

func testRecoveryCodes(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna, bernd := mkUser(t, s, "anna"), mkUser(t, s, "bernd")
	codes := []authn.TokenHash{authn.HashToken("a"), authn.HashToken("b"), authn.HashToken("c")}
	count := func(userID string, want int) {
		t.Helper()
		n, err := s.CountRecoveryCodes(ctx, userID)
		must(t, "CountRecoveryCodes", err)
		if n != want {
			t.Errorf("CountRecoveryCodes = %d, want %d", n, want)
		}
	}
	count(anna.ID, 0)
	must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx, anna.ID, codes, ev("recovery.replace", "user:"+anna.ID)))
	must(t, "ReplaceRecoveryCodes(bernd)", s.ReplaceRecoveryCodes(ctx, bernd.ID, codes[:1], ev("recovery.replace", "user:"+bernd.ID)))
	count(anna.ID, 3)
	use := func(userID string, h authn.TokenHash) error {
		return s.UseRecoveryCode(ctx, userID, h, t0, ev("recovery_code.use", "user:"+userID))
	}
	before := auditCount(t, s)
	must(t, "UseRecoveryCode", use(anna.ID, codes[1]))
	wantErr(t, "UseRecoveryCode(used)", use(anna.ID, codes[1]), authn.ErrNotFound)
	wantErr(t, "UseRecoveryCode(unknown)", use(anna.ID, authn.HashToken("zzz")), authn.ErrNotFound)
	wantErr(t, "UseRecoveryCode(another's)", use(bernd.ID, codes[2]), authn.ErrNotFound)
	if n := auditCount(t, s); n != before+1 {
		t.Errorf("audit events = %d, want %d (only a used code is audited)", n, before+1)
	}
	count(anna.ID, 2)
	count(bernd.ID, 1)
	must(t, "ReplaceRecoveryCodes(new)", s.ReplaceRecoveryCodes(ctx, anna.ID, codes[1:2], ev("recovery.replace", "")))
	count(anna.ID, 1)
	must(t, "UseRecoveryCode(replaced, unused again)", use(anna.ID, codes[1]))
	wantErr(t, "ReplaceRecoveryCodes(unknown user)",
		s.ReplaceRecoveryCodes(ctx, "ghost", codes, ev("recovery.replace", "")), authn.ErrNotFound)
	if err := s.ReplaceRecoveryCodes(ctx, anna.ID, []authn.TokenHash{codes[0], codes[0]}, ev("recovery.replace", "")); err == nil {
		t.Error("ReplaceRecoveryCodes with a duplicate succeeded")
	}
	count(anna.ID, 0) // unchanged: the failed replace wrote nothing
}

func testUseRecoveryCodeConcurrent(t *testing.T, s authn.Store) {
	anna := mkUser(t, s, "anna")
	h := authn.HashToken("code")
	must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(t.Context(), anna.ID, []authn.TokenHash{h}, ev("recovery.replace", "")))
	exactlyOnce(t, "UseRecoveryCode", authn.ErrNotFound, func() error {
		return s.UseRecoveryCode(t.Context(), anna.ID, h, t0, ev("recovery_code.use", "user:"+anna.ID))
	})
}

func testPasswords(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	_, err := s.GetPasswordHash(ctx, anna.ID)
	wantErr(t, "GetPasswordHash(none)", err, authn.ErrNotFound)
	for _, phc := range []string{"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=65536,t=3,p=4$b3RoZXI$c2Vjb25k"} {
		must(t, "SetPasswordHash", s.SetPasswordHash(ctx, anna.ID, phc, ev("password.set", "user:"+anna.ID)))
		got, err := s.GetPasswordHash(ctx, anna.ID)
		must(t, "GetPasswordHash", err)
		if got != phc {
			t.Errorf("GetPasswordHash = %q, want %q", got, phc)
		}
	}
	wantErr(t, "SetPasswordHash(unknown user)", s.SetPasswordHash(ctx, "ghost", "x", ev("password.set", "")), authn.ErrNotFound)
}

func testUndoThrottle(t *testing.T, s authn.Store) {
	ctx := t.Context()
	const window = 15 * time.Minute
	must(t, "UndoThrottle(unknown)", s.UndoThrottle(ctx, "2fa:u:anna"))
	for range 3 {
		_, err := s.HitThrottle(ctx, "2fa:u:anna", t0, window)
		must(t, "HitThrottle", err)
	}
	must(t, "UndoThrottle", s.UndoThrottle(ctx, "2fa:u:anna"))
	n, err := s.ThrottleCount(ctx, "2fa:u:anna", t0, window)
	must(t, "ThrottleCount", err)
	if n != 2 {
		t.Errorf("count after 3 hits and 1 undo = %d, want 2", n)
	}
	// 50 undos at once never take the count below 0.
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range errs {
		wg.Go(func() { errs[i] = s.UndoThrottle(ctx, "2fa:u:anna") })
	}
	wg.Wait()
	must(t, "UndoThrottle (concurrent)", errors.Join(errs...))
	n, err = s.ThrottleCount(ctx, "2fa:u:anna", t0, window)
	must(t, "ThrottleCount", err)
	if n != 0 {
		t.Errorf("count after many undos = %d, want 0", n)
	}
	if n, _ := s.HitThrottle(ctx, "2fa:u:anna", t0, window); n != 1 {
		t.Errorf("first hit after undos = %d, want 1", n)
	}
}

// testSessionRecoveryOnly: the flag of a recovery-code session round-trips.
func testSessionRecoveryOnly(t *testing.T, s authn.Store) {
	anna := mkUser(t, s, "anna")
	sess := newSession(anna, t0)
	sess.RecoveryOnly, sess.AMR, sess.ACR = true, []string{"otp", "pwd", "mfa"}, "mfa"
	must(t, "CreateSession", s.CreateSession(t.Context(), sess))
	same(t, "GetSession(recovery only)", getSession(t, s, sess.Hash), sess, normSession)
	list, err := s.ListUserSessions(t.Context(), anna.ID, t0)
	must(t, "ListUserSessions", err)
	if len(list) != 1 || !list[0].RecoveryOnly {
		t.Errorf("ListUserSessions = %+v, want the one recovery-only session", list)
	}
}

// testGetSignInRecord: the person, her credentials and her groups in one
// read, by id and by username, the same as GetUser, ListCredentials and
// UserGroups give; a person without credentials or groups has none; an
// unknown one is ErrNotFound.
func testGetSignInRecord(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna, bernd, carla := mkUser(t, s, "anna"), mkUser(t, s, "bernd"), mkUser(t, s, "carla")
	k1 := newKey(anna, t0)
	k1.Attested, k1.AttestationChain = true, []byte("\x30\x82 DER of the leaf, then of its issuer")
	mkCredential(t, s, k1)
	app := mkCredential(t, s, newApp(anna, t0.Add(time.Minute)))
	k2 := newKey(anna, t0.Add(2*time.Minute))
	k2.BackupEligible, k2.Transports, k2.AAGUID = true, nil, nil
	mkCredential(t, s, k2)
	mkCredential(t, s, newKey(bernd, t0))
	must(t, "FlagCloned", s.FlagCloned(ctx, k1.ID, ev("credential.cloned", "user:"+anna.ID)))
	k1.Cloned = true
	for _, name := range []string{"rat", "it", "ausschuss"} {
		g := authn.Group{ID: authn.NewID(), Name: name, DisplayName: name, Source: authn.SourceLocal, CreatedAt: t0}
		must(t, "CreateGroup", s.CreateGroup(ctx, g, ev("group.create", "")))
		must(t, "AddMember", s.AddMember(ctx, g.ID, anna.ID, ev("group.add", "user:"+anna.ID)))
		if name == "rat" {
			must(t, "AddMember", s.AddMember(ctx, g.ID, bernd.ID, ev("group.add", "user:"+bernd.ID)))
		}
	}
	want := authn.SignInRecord{User: anna, Credentials: []authn.Credential{k1, app, k2}, Groups: []string{"ausschuss", "it", "rat"}}
	norm := func(r authn.SignInRecord) authn.SignInRecord {
		r.User, r.Credentials = normUser(r.User), normCredentials(r.Credentials)
		return r
	}
	for _, by := range []string{"id", "username"} {
		var (
			got authn.SignInRecord
			err error
		)
		if by == "id" {
			got, err = s.GetSignInRecord(ctx, anna.ID)
		} else {
			got, err = s.GetSignInRecordByUsername(ctx, anna.Username)
		}
		must(t, "GetSignInRecord by "+by, err)
		same(t, "GetSignInRecord by "+by, got, want, norm)
	}
	got, err := s.GetSignInRecord(ctx, carla.ID)
	must(t, "GetSignInRecord (no credentials, no groups)", err)
	same(t, "GetSignInRecord (no credentials, no groups)", got,
		authn.SignInRecord{User: carla, Credentials: []authn.Credential{}, Groups: []string{}}, norm)
	_, err = s.GetSignInRecord(ctx, "")
	wantErr(t, `GetSignInRecord("")`, err, authn.ErrNotFound)
	_, err = s.GetSignInRecordByUsername(ctx, "niemand")
	wantErr(t, "GetSignInRecordByUsername(unknown)", err, authn.ErrNotFound)
}

// testKeyStats: the security keys not flagged as cloned (apps left out)
// counted by the length of their credential id, and the people by their
// number of such keys; nothing without keys.
func testKeyStats(t *testing.T, s authn.Store) {
	ctx := t.Context()
	got, err := s.KeyStats(ctx)
	must(t, "KeyStats(no keys)", err)
	if len(got.IDLengths) != 0 || len(got.PerPerson) != 0 {
		t.Errorf("KeyStats without keys = %+v, want none", got)
	}
	anna, bert, carla := mkUser(t, s, "anna"), mkUser(t, s, "bert"), mkUser(t, s, "carla")
	mkCredential(t, s, newApp(anna, t0))
	mkCredential(t, s, newApp(carla, t0))
	short := func(u authn.User) authn.Credential {
		c := newKey(u, t0)
		c.WebAuthnID = c.WebAuthnID[:16]
		return mkCredential(t, s, c)
	}
	short(bert)
	mkCredential(t, s, newKey(anna, t0))
	mkCredential(t, s, newKey(bert, t0))
	for range 3 {
		must(t, "FlagCloned", s.FlagCloned(ctx, short(anna).ID, ev("credential.cloned", "user:"+anna.ID)))
	}
	got, err = s.KeyStats(ctx)
	must(t, "KeyStats", err)
	want := authn.KeyStats{IDLengths: map[int]int{16: 1, 48: 2}, PerPerson: map[int]int{1: 1, 2: 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("KeyStats = %+v, want %+v", got, want)
	}
}
