package enroll_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// session stores a session of u signed in now at level acr and returns it.
func (f *fixture) session(t *testing.T, u authn.User, acr authn.Level, recoveryOnly bool) authn.Session {
	t.Helper()
	now := f.clock.now()
	amr := map[authn.Level][]string{authn.LevelPhrh: {"hwk", "user"}, authn.LevelPhr: {"swk", "user"}}[acr]
	if amr == nil {
		amr = []string{"otp", "pwd", "mfa"}
	}
	var id [32]byte
	rand.Read(id[:])
	s := authn.Session{Hash: authn.HashSessionID(id[:]), UserID: u.ID, AMR: amr, ACR: string(acr), AuthTime: now,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(12 * time.Hour), RecoveryOnly: recoveryOnly}
	must(t, f.store.CreateSession(t.Context(), s))
	return s
}

// TestScopeOf: the one rule for what a sign-in may add by self-service.
func TestScopeOf(t *testing.T) {
	all, keyApp, app := authn.ScopeAll, authn.ScopeKey|authn.ScopeApp, authn.ScopeApp
	tests := []struct {
		name string
		sess authn.Session
		want authn.EnrollScope
	}{
		{"hardware key", authn.Session{ACR: "phrh", AMR: []string{"hwk", "user"}}, all},
		{"synced passkey", authn.Session{ACR: "phr", AMR: []string{"swk", "pwd", "mfa"}}, all},
		{"app and password", authn.Session{ACR: "mfa", AMR: []string{"otp", "pwd", "mfa"}}, app},
		{"recovery code and password", authn.Session{ACR: "mfa", AMR: []string{"otp", "pwd", "mfa"}, RecoveryOnly: true}, keyApp},
		{"recovery-only, whatever its level says", authn.Session{ACR: "phrh", RecoveryOnly: true}, keyApp},
		{"app code alone (a citizen: review of #15)", authn.Session{AMR: []string{"otp"}}, keyApp},
		{"password alone", authn.Session{AMR: []string{"pwd"}}, 0},
		{"no level", authn.Session{}, 0},
		{"unknown level", authn.Session{ACR: "phrh+"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := enroll.ScopeOf(tt.sess); got != tt.want {
				t.Errorf("ScopeOf = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestSelfServiceScopeAtEveryStep: an enrollment is opened only for what
// the sign-in may add, and each step checks what the enrollment was
// opened for, whatever the caller asks.
func TestSelfServiceScopeAtEveryStep(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	anna := f.withPassword(t, f.user(t, "anna")) // app and codes need a password after them
	type opening struct {
		level        authn.Level
		recoveryOnly bool
	}
	key, app, codes := authn.ScopeKey, authn.ScopeApp, authn.ScopeRecoveryCodes
	for _, o := range []opening{{authn.LevelPhrh, false}, {authn.LevelPhr, false}, {authn.LevelMFA, false}, {authn.LevelMFA, true}} {
		sess := f.session(t, anna, o.level, o.recoveryOnly)
		may := enroll.ScopeOf(sess)
		for _, want := range []authn.EnrollScope{key, app, codes} {
			pr, err := f.svc.Open(ctx, sess, want)
			if !may.Has(want) {
				wantReason(t, "Open for "+want.String()+" at "+string(o.level), err, enroll.ReasonScope)
				continue
			}
			must(t, err)
			if !pr.SelfService {
				t.Errorf("Open: not a self-service enrollment")
			}
			// Each step adds only what the enrollment was opened for; a
			// refused step leaves it open for that.
			id := pr.ID
			steps := []struct {
				adds authn.EnrollScope
				run  func(id []byte) (enroll.Progress, error)
			}{
				{key, func(id []byte) (enroll.Progress, error) { _, p, err := f.svc.BeginKey(ctx, id); return p, err }},
				{app, func(id []byte) (enroll.Progress, error) { _, p, err := f.svc.BeginTOTP(ctx, id); return p, err }},
				{codes, func(id []byte) (enroll.Progress, error) { _, p, err := f.svc.NewRecoveryCodes(ctx, id); return p, err }},
			}
			for _, st := range steps {
				p, err := st.run(id)
				if st.adds != want {
					wantReason(t, st.adds.String()+" in an enrollment for "+want.String(), err, enroll.ReasonScope)
				} else {
					must(t, err)
				}
				id = p.ID
			}
		}
	}
}

// TestSelfServiceEndsWithItsSignIn: every step, FinishKey included, checks
// that the session is live, the person active and the enrollment within
// its absolute lifetime (from the sign-in); then it is over.
func TestSelfServiceEndsWithItsSignIn(t *testing.T) {
	tests := []struct {
		name   string
		end    func(t *testing.T, f *fixture, anna authn.User, sess authn.Session)
		reason enroll.Reason
	}{
		{"revoked", func(t *testing.T, f *fixture, _ authn.User, sess authn.Session) {
			must(t, f.store.RevokeSession(t.Context(), sess.Hash, f.clock.now()))
		}, enroll.ReasonSignIn},
		{"past its sign-in's window", func(t *testing.T, f *fixture, _ authn.User, _ authn.Session) {
			// signed in FreshSignIn-1m before the key's ceremony began
			f.clock.add(enroll.SelfServiceTTL - enroll.FreshSignIn + time.Minute + time.Second)
		}, enroll.ReasonExpired},
		{"disabled", func(t *testing.T, f *fixture, anna authn.User, _ authn.Session) {
			_, err := f.store.UpdateUser(t.Context(), anna.ID, func(u authn.User) (authn.User, error) {
				u.Status = authn.StatusDisabled
				return u, nil
			}, authn.AuditEvent{Time: f.clock.now(), Actor: "test", Action: "user.disable"})
			must(t, err)
		}, enroll.ReasonDisabled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := t.Context()
			anna := f.withPassword(t, f.user(t, "anna")) // app and codes need a password after them
			sess := f.session(t, anna, authn.LevelPhrh, false)
			f.clock.add(enroll.FreshSignIn - time.Minute)
			pr, err := f.svc.Open(ctx, sess, authn.ScopeKey)
			must(t, err)
			opts, pr, err := f.svc.BeginKey(ctx, pr.ID)
			must(t, err)
			tt.end(t, f, anna, sess)
			reg := keyReg{fmt: "none", origin: origin, rpID: "localhost", challenge: challengeOf(t, opts)}
			_, pr, err = f.svc.FinishKey(ctx, pr.ID, reg.build(t), "")
			wantReason(t, "FinishKey", err, tt.reason)
			if pr.ID != nil {
				t.Errorf("the enrollment goes on after a refusal for %s", tt.name)
			}
			if creds, err := f.store.ListCredentials(ctx, anna.ID); err != nil || len(creds) != 0 {
				t.Errorf("%d credentials stored (read: %v)", len(creds), err)
			}
		})
	}
	t.Run("a ceremony that outlasts the fresh window", func(t *testing.T) {
		f := newFixture(t)
		ctx := t.Context()
		anna := f.withPassword(t, f.user(t, "anna")) // app and codes need a password after them
		sess := f.session(t, anna, authn.LevelPhrh, false)
		f.clock.add(enroll.FreshSignIn - time.Second) // opened at the end of the window
		pr, err := f.svc.Open(ctx, sess, authn.ScopeKey)
		must(t, err)
		opts, pr, err := f.svc.BeginKey(ctx, pr.ID)
		must(t, err)
		f.clock.add(2 * time.Minute) // she reads, finds her key, touches it
		reg := keyReg{fmt: "none", origin: origin, rpID: "localhost", challenge: challengeOf(t, opts)}
		if _, _, err := f.svc.FinishKey(ctx, pr.ID, reg.build(t), ""); err != nil {
			t.Fatalf("a key touched within the enrollment's lifetime, after the fresh window: %v", err)
		}
	})
	t.Run("absolute lifetime", func(t *testing.T) {
		f := newFixture(t)
		ctx := t.Context()
		anna := f.withPassword(t, f.user(t, "anna")) // app and codes need a password after them
		start := f.clock.now()
		f.clock.add(enroll.SelfServiceTTL) // a sign-in that stays fresh throughout
		sess := f.session(t, anna, authn.LevelPhrh, false)
		f.clock.add(-enroll.SelfServiceTTL)
		pr, err := f.svc.Open(ctx, sess, authn.ScopeApp)
		must(t, err)
		for f.clock.now().Add(4 * time.Minute).Before(start.Add(enroll.SelfServiceTTL)) {
			f.clock.add(4 * time.Minute)
			_, pr, err = f.svc.BeginTOTP(ctx, pr.ID)
			must(t, err)
		}
		if pr.ExpiresAt.Sub(start.Add(enroll.SelfServiceTTL)).Abs() > time.Microsecond {
			t.Errorf("the last step renewed the enrollment until %v, past its end %v", pr.ExpiresAt, start.Add(enroll.SelfServiceTTL))
		}
		f.clock.add(4 * time.Minute)
		_, _, err = f.svc.BeginTOTP(ctx, pr.ID)
		wantReason(t, "a step after the absolute lifetime", err, enroll.ReasonExpired)
	})
}

func challengeOf(t *testing.T, opts []byte) string {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	must(t, json.Unmarshal(opts, &o))
	return o.PublicKey.Challenge
}

// TestRemoveNeedsTheKeysLevel: a key goes only by a sign-in at least at
// the level it signs in at.
func TestRemoveNeedsTheKeysLevel(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	anna := f.withPassword(t, f.user(t, "anna")) // app and codes need a password after them
	now := f.clock.now()
	var creds []authn.Credential
	for _, synced := range []bool{false, true} {
		id := make([]byte, 32)
		rand.Read(id)
		c := authn.Credential{ID: authn.NewID(), UserID: anna.ID, Kind: authn.KindWebAuthn, CreatedAt: now, WebAuthnID: id,
			PublicKey: []byte{1}, BackupEligible: synced}
		must(t, f.store.CreateCredential(ctx, c, authn.AuditEvent{Time: now, Actor: "test", Action: "credential.create"}))
		creds = append(creds, c)
	}
	app := authn.Credential{ID: authn.NewID(), UserID: anna.ID, Kind: authn.KindTOTP, CreatedAt: now, SecretSealed: []byte{1}}
	must(t, f.store.CreateCredential(ctx, app, authn.AuditEvent{Time: now, Actor: "test", Action: "credential.create"}))

	mfa := f.session(t, anna, authn.LevelMFA, false)
	for _, c := range creds {
		_, err := f.svc.Remove(ctx, mfa, c.ID)
		wantReason(t, "an app sign-in removes a key", err, enroll.ReasonKeyLevel)
		if lower := authn.LevelPhr; !lower.Meets(authn.KeyLevel(c)) {
			_, err := f.svc.Remove(ctx, f.session(t, anna, lower, false), c.ID)
			wantReason(t, "a synced passkey's sign-in removes a hardware key", err, enroll.ReasonKeyLevel)
		}
	}
	for _, c := range creds {
		_, err := f.svc.Remove(ctx, f.session(t, anna, authn.KeyLevel(c), false), c.ID)
		must(t, err)
	}
	_, err := f.svc.Remove(ctx, mfa, app.ID)
	wantReason(t, "the last factor", err, enroll.ReasonLastFactor)
}

// TestChangeNeedsAFreshSignInWithoutRecoveryCode: renaming or removing
// one's factor is the service's rule, not only the page's: a sign-in from
// a recovery code may only add (ReasonScope), a stale one must sign in
// again (ReasonSignIn); nothing changes.
func TestChangeNeedsAFreshSignInWithoutRecoveryCode(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	anna := f.withPassword(t, f.user(t, "anna"))
	now := f.clock.now()
	var creds []authn.Credential
	for range 2 {
		c := authn.Credential{ID: authn.NewID(), UserID: anna.ID, Kind: authn.KindTOTP, CreatedAt: now, SecretSealed: []byte{1}}
		must(t, f.store.CreateCredential(ctx, c, authn.AuditEvent{Time: now, Actor: "test", Action: "credential.create"}))
		creds = append(creds, c)
	}
	recovery := f.session(t, anna, authn.LevelMFA, true)
	_, err := f.svc.Remove(ctx, recovery, creds[0].ID)
	wantReason(t, "a recovery-code sign-in removes an app", err, enroll.ReasonScope)
	wantReason(t, "a recovery-code sign-in renames an app", f.svc.Rename(ctx, recovery, creds[0].ID, "Büro"), enroll.ReasonScope)
	stale := f.session(t, anna, authn.LevelMFA, false)
	f.clock.add(enroll.FreshSignIn + time.Second)
	_, err = f.svc.Remove(ctx, stale, creds[0].ID)
	wantReason(t, "a stale sign-in removes an app", err, enroll.ReasonSignIn)
	wantReason(t, "a stale sign-in renames an app", f.svc.Rename(ctx, stale, creds[0].ID, "Büro"), enroll.ReasonSignIn)
	got, err := f.store.ListCredentials(ctx, anna.ID)
	must(t, err)
	if len(got) != 2 || got[0].Nickname == "Büro" || got[1].Nickname == "Büro" {
		t.Errorf("a refused change changed her factors: %+v", got)
	}
}

// TestRegisterAgainToBeAttested: a key registered before its attestation
// was kept (not attested, BE clear) may be registered again, so that a
// YubiKey becomes a hardware key without IT; attested keys and synced
// passkeys are still excluded (WebAuthn L3 §5.4 excludeCredentials).
func TestRegisterAgainToBeAttested(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	anna := f.user(t, "anna")
	now := f.clock.now()
	ids := map[string][]byte{}
	for _, k := range []struct {
		name             string
		attested, synced bool
	}{{"old", false, false}, {"attested", true, false}, {"synced", false, true}} {
		id := make([]byte, 32)
		rand.Read(id)
		ids[k.name] = id
		c := authn.Credential{ID: authn.NewID(), UserID: anna.ID, Kind: authn.KindWebAuthn, CreatedAt: now, WebAuthnID: id,
			PublicKey: []byte{1}, Attested: k.attested, BackupEligible: k.synced}
		must(t, f.store.CreateCredential(ctx, c, authn.AuditEvent{Time: now, Actor: "test", Action: "credential.create"}))
	}
	pr, err := f.svc.Open(ctx, f.session(t, anna, authn.LevelPhr, false), authn.ScopeKey)
	must(t, err)
	opts, _, err := f.svc.BeginKey(ctx, pr.ID)
	must(t, err)
	var o struct {
		PublicKey struct {
			Exclude []struct {
				ID string `json:"id"`
			} `json:"excludeCredentials"`
		} `json:"publicKey"`
	}
	must(t, json.Unmarshal(opts, &o))
	excluded := map[string]bool{}
	for _, e := range o.PublicKey.Exclude {
		excluded[e.ID] = true
	}
	for name, want := range map[string]bool{"old": false, "attested": true, "synced": true} {
		if got := excluded[base64.RawURLEncoding.EncodeToString(ids[name])]; got != want {
			t.Errorf("%s key excluded: %t, want %t", name, got, want)
		}
	}
}
