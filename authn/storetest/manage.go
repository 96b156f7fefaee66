package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// A person's own factors: rename, remove (never the last she must keep),
// and her recent sign-ins.

func testRenameCredential(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna, bernd := mkUser(t, s, "anna"), mkUser(t, s, "bernd")
	key := mkCredential(t, s, newKey(anna, t0))
	before := auditCount(t, s)
	err := s.RenameCredential(ctx, bernd.ID, key.ID, "Fremd", ev("credential.rename", "user:"+bernd.ID))
	wantErr(t, "RenameCredential(other person)", err, authn.ErrNotFound)
	err = s.RenameCredential(ctx, anna.ID, "nope", "Fremd", ev("credential.rename", "user:"+anna.ID))
	wantErr(t, "RenameCredential(unknown)", err, authn.ErrNotFound)
	if n := auditCount(t, s); n != before {
		t.Errorf("refused renames wrote %d audit events", n-before)
	}
	must(t, "RenameCredential", s.RenameCredential(ctx, anna.ID, key.ID, "Schlüsselbund ✓", ev("credential.rename", "user:"+anna.ID)))
	key.Nickname = "Schlüsselbund ✓"
	same(t, "renamed key", credByID(t, s, anna.ID, key.ID), key, normCredential)
	if n := auditCount(t, s); n != before+1 {
		t.Errorf("rename wrote %d audit events, want 1", n-before)
	}
}

func testRecentAudit(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna, bernd := mkUser(t, s, "anna"), mkUser(t, s, "bernd")
	for i := range 4 {
		e := ev("signin", "user:"+anna.ID)
		e.Time, e.ClientAddr, e.Details = t0.Add(time.Duration(i)*time.Minute), "192.0.2.1", map[string]string{"n": string(rune('a' + i))}
		must(t, "AppendAudit", s.AppendAudit(ctx, e, ev("signin", "user:"+bernd.ID), ev("recovery_code.use", "user:"+anna.ID)))
	}
	got, err := s.RecentAudit(ctx, "user:"+anna.ID, "signin", 3)
	must(t, "RecentAudit", err)
	if len(got) != 3 {
		t.Fatalf("RecentAudit: %d events, want 3", len(got))
	}
	for i, e := range got {
		want := string(rune('d' - i))
		if e.Action != "signin" || e.Subject != "user:"+anna.ID || e.Details["n"] != want || e.ClientAddr != "192.0.2.1" {
			t.Errorf("event %d: %+v, want the sign-in %q of anna", i, e, want)
		}
	}
	if none, err := s.RecentAudit(ctx, "user:nobody", "signin", 0); err != nil || len(none) != 0 {
		t.Errorf("RecentAudit(nobody) = %v, %v; want none", none, err)
	}
}

func testRemoveCredential(t *testing.T, s authn.Store, e authn.EnrollStore) {
	ctx := t.Context()
	anna, bernd := mkUser(t, s, "anna"), mkUser(t, s, "bernd")
	key1, key2 := mkCredential(t, s, newKey(anna, t0)), mkCredential(t, s, newKey(anna, t0.Add(time.Second)))
	app := mkCredential(t, s, newApp(anna, t0.Add(2*time.Second)))
	rm := func(user, id string, keep authn.Keep) (authn.Credential, error) {
		return e.RemoveCredential(ctx, user, id, keep, ev("credential.revoke", "user:"+user))
	}
	_, err := rm(bernd.ID, key1.ID, authn.Keep{})
	wantErr(t, "RemoveCredential(other person)", err, authn.ErrNotFound)
	_, err = rm(anna.ID, "nope", authn.Keep{})
	wantErr(t, "RemoveCredential(unknown)", err, authn.ErrNotFound)
	got, err := rm(anna.ID, key1.ID, authn.Keep{Key: true})
	must(t, "RemoveCredential(key, another key left)", err)
	same(t, "removed credential", got, key1, normCredential)
	_, err = rm(anna.ID, key2.ID, authn.Keep{Key: true})
	wantErr(t, "RemoveCredential(last key, keep a key)", err, authn.ErrLastFactor)
	_, err = rm(anna.ID, app.ID, authn.Keep{Key: true})
	must(t, "RemoveCredential(app, a key left)", err)
	mkCredential(t, s, app)
	_, err = rm(anna.ID, key2.ID, authn.Keep{})
	must(t, "RemoveCredential(key, an app left)", err)
	_, err = rm(anna.ID, app.ID, authn.Keep{})
	wantErr(t, "RemoveCredential(the last factor)", err, authn.ErrLastFactor)
	creds, err := s.ListCredentials(ctx, anna.ID)
	must(t, "ListCredentials", err)
	same(t, "credentials", creds, []authn.Credential{app}, normCredentials)
	if n := len(recentRevocations(t, s, anna)); n != 3 {
		t.Errorf("%d audit events of removals, want 3 (refusals write none)", n)
	}
}

func recentRevocations(t *testing.T, s authn.Store, u authn.User) []authn.AuditEvent {
	t.Helper()
	evs, err := s.RecentAudit(t.Context(), "user:"+u.ID, "credential.revoke", 100)
	must(t, "RecentAudit", err)
	return evs
}

// testRemoveCredentialConcurrent removes a person's two keys at once, many
// times over: exactly one removal may win each time, or she would be left
// with nothing.
func testRemoveCredentialConcurrent(t *testing.T, s authn.Store, e authn.EnrollStore) {
	for round := range 5 {
		u := mkUser(t, s, "anna"+string(rune('a'+round)))
		keys := []authn.Credential{mkCredential(t, s, newKey(u, t0)), mkCredential(t, s, newKey(u, t0)), mkCredential(t, s, newApp(u, t0))}
		errs := make([]error, 2*len(keys))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range errs {
			c := keys[i%len(keys)]
			wg.Go(func() {
				<-start
				_, errs[i] = e.RemoveCredential(t.Context(), u.ID, c.ID, authn.Keep{}, ev("credential.revoke", "user:"+u.ID))
			})
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, authn.ErrLastFactor) && !errors.Is(err, authn.ErrNotFound):
				t.Fatalf("RemoveCredential: %v", err)
			}
		}
		left, err := s.ListCredentials(t.Context(), u.ID)
		must(t, "ListCredentials", err)
		if len(left) != 1 || ok != len(keys)-1 {
			t.Fatalf("round %d: %d removals succeeded and %d factors left; want %d and 1", round, ok, len(left), len(keys)-1)
		}
	}
}
