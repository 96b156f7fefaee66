package authn_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
)

// TestKeyFinishSentAgainToAnotherProcess: two processes on one database
// (two stores on one SQLite file). The sign-in starts on A; the finish
// succeeds on B; the browser's retry of the same POST lands on A. A must say the sign-in expired and leave the
// key alone (its count did not move past the one B stored, but the
// ceremony was over), and a later sign-in with the key works.
func TestKeyFinishSentAgainToAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyhall.db")
	open := func() *sqlstore.Store {
		st, err := sqlstore.Open(context.Background(), "sqlite://"+path, sqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	e := newEnv(t)
	a, b := open(), open()
	signIn := func(st *sqlstore.Store) *authn.SignIn {
		cfg := e.cfg
		cfg.Store = st
		si, err := authn.NewSignIn(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return si
	}
	e.store = a
	siA, siB := signIn(a), signIn(b)
	anna := e.user("anna", authn.SourceLocal)
	d := e.addKey(anna, false, true, 3)

	p, err := siA.Start(e.ctx(), "anna", "/", client)
	if err != nil {
		t.Fatal(err)
	}
	opts, p, err := siA.BeginKey(e.ctx(), p.PendingID)
	if err != nil {
		t.Fatal(err)
	}
	assertion := e.sign(d, opts, 4)
	if p, err := siB.FinishKey(e.ctx(), p.PendingID, assertion, client); err != nil || p.Next != authn.StepDone {
		t.Fatalf("finish on B: %+v, %v", p.Next, err)
	}
	_, err = siA.FinishKey(e.ctx(), p.PendingID, assertion, client)
	if r := reason(t, err); r != authn.ReasonExpired {
		t.Errorf("the same finish again on A: %s (%v), want %s", r, err, authn.ReasonExpired)
	}
	creds, err := a.ListCredentials(e.ctx(), anna.ID)
	if err != nil || len(creds) != 1 || creds[0].Cloned || creds[0].SignCount != 4 {
		t.Fatalf("key after the retry: %+v, %v; want not flagged, count 4", creds, err)
	}
	if p, err = siA.Start(e.ctx(), "anna", "/", client); err != nil {
		t.Fatal(err)
	}
	if opts, p, err = siA.BeginKey(e.ctx(), p.PendingID); err != nil {
		t.Fatal(err)
	}
	p, err = siA.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, 5), client)
	if err != nil || p.Next != authn.StepDone {
		t.Errorf("the next sign-in with the key: %+v, %v", p.Next, err)
	}
}
