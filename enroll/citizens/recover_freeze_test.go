package citizens_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/citizens"
)

// TestFreezeDuringRecoveryKeepsHerFactors (review of #15): a thief of
// Anna's mailbox recovers her account by e-mail and adds his own passkey;
// Anna does what the "key added" notice tells her ("Das war ich nicht":
// freeze). The freeze ends the recovery: his passkey goes at once, and 72
// hours later the periodic job deletes nothing of hers; when IT unfreezes
// her, she signs in with her own key, and the thief's is gone.
func TestFreezeDuringRecoveryKeepsHerFactors(t *testing.T) {
	ctx := t.Context()
	var mu sync.Mutex
	now := time.Now().UTC()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	e := newRecoverEnv(t, "anna@example.org", "anna@example.org", clock)
	st, svc, mail, anna, ev := e.st, e.svc, e.mail, e.anna, e.ev
	own := authn.Credential{ID: authn.NewID(), UserID: anna.ID, Kind: authn.KindWebAuthn, WebAuthnID: []byte("annas-own-passkey"),
		PublicKey: []byte{1}, Nickname: "Annas Handy", CreatedAt: now.Add(-time.Hour)}
	if err := st.CreateCredential(ctx, own, ev); err != nil {
		t.Fatal(err)
	}
	factors := func() []string {
		t.Helper()
		creds, err := st.ListCredentials(ctx, anna.ID)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range creds {
			ids = append(ids, string(c.WebAuthnID))
		}
		return ids
	}

	// The thief (holding her mailbox) asks for a link and starts the recovery ...
	binding := authn.HashToken(citizens.NewRecoveryToken())
	client := authn.ClientInfo{Addr: "198.51.100.66"}
	req, err := svc.AskRecovery(ctx, "anna@example.org", binding, client)
	if err != nil {
		t.Fatal(err)
	}
	svc.QueueRecovery(req)()
	svc.WaitRecoveries()
	msgs := mail.take()
	if len(msgs) != 1 {
		t.Fatalf("mails after the request: %+v", msgs)
	}
	if _, err := svc.StartRecovery(ctx, tokenRE.FindStringSubmatch(msgs[0].Body)[1], binding, client); err != nil {
		t.Fatal(err)
	}
	// ... and enrolls his passkey (stored as the enrollment stores it).
	advance(time.Minute)
	thief := authn.Credential{ID: authn.NewID(), UserID: anna.ID, Kind: authn.KindWebAuthn, WebAuthnID: []byte("thiefs-passkey"),
		PublicKey: []byte{2}, Nickname: "Passkey", CreatedAt: clock()}
	if err := st.CreateCredential(ctx, thief, ev); err != nil {
		t.Fatal(err)
	}

	// Anna clicks "Das war ich nicht" in the "a key was added" notice.
	if _, err := st.FreezeUser(ctx, anna.ID, clock(), authn.AuditEvent{Time: clock(), Action: "user.frozen"}); err != nil {
		t.Fatal(err)
	}
	if ids := factors(); !slices.Equal(ids, []string{"annas-own-passkey"}) {
		t.Errorf("after the freeze her factors are %v, want her own passkey only", ids)
	}

	// 72 hours later the periodic job runs: nothing is left to finish.
	advance(citizens.RecoveryDelay + time.Minute)
	n, err := svc.FinishRecoveries(ctx)
	if err != nil || n != 0 {
		t.Errorf("FinishRecoveries after the freeze: %d finished, %v; want none", n, err)
	}
	if ids := factors(); !slices.Equal(ids, []string{"annas-own-passkey"}) {
		t.Errorf("72 hours after the freeze her factors are %v, want her own passkey only", ids)
	}

	// IT unfreezes ("checked with her in person"): she has her own key.
	if err := st.UnfreezeUser(ctx, anna.ID, authn.AuditEvent{Time: clock(), Actor: "cli:it", Action: "user.unfrozen"}); err != nil {
		t.Fatal(err)
	}
	if ids := factors(); !slices.Equal(ids, []string{"annas-own-passkey"}) {
		t.Errorf("after the unfreeze her factors are %v, want her own passkey only", ids)
	}
}
