package citizens

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore/scantest"
	"github.com/keyhall/keyhall/authn/storetest"
)

// TestDeletionRemovesRefusalCounter (review of #15): a wrong app code at
// her sign-in counts "signin-refused:<her id>" in the throttle table (the
// cap on the audit events of her refusals). Her deletion removes that
// counter with her others: afterwards no row holds her id.
func TestDeletionRemovesRefusalCounter(t *testing.T) {
	e := newDataEnv(t, "sqlite://"+filepath.Join(t.TempDir(), "keyhall.db"))
	ctx := t.Context()
	anna := storetest.FullPerson(t, e.store, "anna")
	e.citizen(t, anna.ID)
	e.now = anna.Session.CreatedAt.Add(time.Minute)
	signin, err := authn.NewSignIn(authn.SignInConfig{Store: e.store, RPID: "id.stadt.example", RPOrigin: "https://id.stadt.example",
		RPName: "Keyhall", EncryptionKey: [32]byte{1}, FakeIDKey: make([]byte, 32), Argon2: authn.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1},
		Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	c := authn.ClientInfo{Addr: "203.0.113.5"}
	p, err := signin.Start(ctx, anna.Username, "", c)
	if err != nil {
		t.Fatal(err)
	}
	if p.Next != authn.StepTOTP {
		if p, err = signin.SwitchTo(ctx, p.PendingID, authn.StepTOTP); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := signin.VerifyTOTP(ctx, p.PendingID, "000000", c); err == nil {
		t.Fatal("a wrong app code signed her in")
	}
	signin.WaitRefusals()
	if found := scantest.Find(t, e.store.DB(), e.store.Dialect(), []string{"signin-refused:" + anna.ID}); len(found) == 0 {
		t.Fatal("the refused sign-in counted nothing under signin-refused:<her id>; the test proves nothing")
	}
	if err := e.svc.Delete(ctx, anna.ID, "account", "203.0.113.5"); err != nil {
		t.Fatal(err)
	}
	for _, f := range scantest.Find(t, e.store.DB(), e.store.Dialect(), []string{anna.ID}) {
		t.Errorf("after her deletion, %s", f)
	}
}
