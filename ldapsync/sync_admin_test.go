package ldapsync

import (
	"path/filepath"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// TestSyncAdminDisableStays: an administrator disables a person the
// directory disabled already (as `keyhall admin users disable` does); when
// the directory enables her again, the sync leaves her disabled.
func TestSyncAdminDisableStays(t *testing.T) {
	e := newSyncEnv(t, "sqlite://"+filepath.Join(t.TempDir(), "k.db"))
	people := staffPeople(20)
	e.reader.set(people)
	e.sync()
	name := people[3].Username
	e.reader.set(withPerson(people, name, func(p *Person) { p.Disabled = true }))
	e.sync()
	u := e.user(name)
	changed, err := e.store.DisableUser(t.Context(), u.ID, e.now, authn.AuditEvent{Time: e.now, Actor: "cli:root", Action: "user.disable"})
	if err != nil || !changed {
		t.Fatal(changed, err)
	}
	e.reader.set(people)
	res := e.sync()
	if e.userByID(u.ID).Status == authn.StatusActive {
		t.Errorf("admin-disabled person enabled by the sync: %+v", res.Enabled)
	}
}

// TestSyncFrozenLeaver (review of #14): a person frozen by her "this was
// not me" link who then leaves the directory is disabled like any leaver
// (her freeze kept); when the directory takes her back she is frozen
// again, not active, until an admin lifts the freeze.
func TestSyncFrozenLeaver(t *testing.T) {
	e := newSyncEnv(t, "sqlite://"+filepath.Join(t.TempDir(), "k.db"))
	people := staffPeople(20)
	e.reader.set(people)
	e.sync()
	name := people[3].Username
	u := e.user(name)
	if _, err := e.store.FreezeUser(t.Context(), u.ID, e.now, authn.AuditEvent{Time: e.now, Actor: "user:" + u.ID, Action: "user.frozen"}); err != nil {
		t.Fatal(err)
	}
	e.reader.set(withPerson(people, name, func(p *Person) { p.Disabled = true }))
	e.sync()
	if got := e.userByID(u.ID).Status; got != authn.StatusDisabled {
		t.Errorf("a frozen leaver: %q, want disabled", got)
	}
	e.reader.set(people)
	e.sync()
	if got := e.userByID(u.ID).Status; got != authn.StatusFrozen {
		t.Errorf("taken back by the directory: %q, want frozen", got)
	}
}
