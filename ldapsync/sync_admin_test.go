package ldapsync

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestSyncAdminEnableKeepsDirectoryDisable: an administrator's enable
// lifts her own disable, never the directory's. Whichever came first,
// the directory's disable (a leaver locked in AD) or the administrator's,
// "enable" of a person the directory disables is refused and she stays
// disabled;
// once the directory enables her, the administrator's enable works.
func TestSyncAdminEnableKeepsDirectoryDisable(t *testing.T) {
	ctx := t.Context()
	for _, directoryFirst := range []bool{true, false} {
		t.Run(map[bool]string{true: "directory first", false: "administrator first"}[directoryFirst], func(t *testing.T) {
			e := newSyncEnv(t, "sqlite://"+filepath.Join(t.TempDir(), "k.db"))
			people := staffPeople(20)
			e.reader.set(people)
			e.sync()
			name := people[3].Username
			u := e.user(name)
			ev := authn.AuditEvent{Time: e.now, Actor: "user:admin", Action: "user.disable", Subject: "user:" + u.ID}
			adminDisable := func() {
				t.Helper()
				if changed, err := e.store.DisableUser(ctx, u.ID, e.now, ev); err != nil || !changed {
					t.Fatalf("DisableUser: changed %v, %v", changed, err)
				}
			}
			directoryDisable := func() {
				t.Helper()
				e.reader.set(withPerson(people, name, func(p *Person) { p.Disabled = true }))
				e.sync()
			}
			if directoryFirst {
				directoryDisable()
				adminDisable()
			} else {
				adminDisable()
				directoryDisable()
			}
			enable := authn.AuditEvent{Time: e.now, Actor: "user:admin", Action: "user.enable", Subject: "user:" + u.ID}
			changed, err := e.store.EnableUser(ctx, u.ID, e.now, enable)
			if !errors.Is(err, authn.ErrAccountDisabled) || changed {
				t.Errorf("enable of a person the directory disables: changed %v, err %v; want ErrAccountDisabled", changed, err)
			}
			if got := e.userByID(u.ID).Status; got != authn.StatusDisabled {
				t.Fatalf("after the administrator's enable: %s, want disabled (the directory disables her)", got)
			}
			if n := len(e.audit("user.enable")); n != 0 {
				t.Errorf("a refused enable wrote %d user.enable events", n)
			}
			// The directory keeps her disabled: a run within the grace
			// period changes nothing (after it she would be deleted, see
			// TestSyncLeaverDisabledByAdminTooDeleted).
			e.now = e.now.Add(time.Hour)
			e.sync()
			if got := e.userByID(u.ID).Status; got != authn.StatusDisabled {
				t.Fatalf("after a sync: %s, want disabled", got)
			}
			// The directory enables her: disabled still, by the
			// administrator, whose enable now works.
			e.reader.set(people)
			e.sync()
			if got := e.userByID(u.ID).Status; got != authn.StatusDisabled {
				t.Fatalf("the directory's enable lifted the administrator's disable: %s", got)
			}
			enable.Time = e.now
			if changed, err := e.store.EnableUser(ctx, u.ID, e.now, enable); err != nil || !changed {
				t.Fatalf("enable once the directory enabled her: changed %v, %v", changed, err)
			}
			if got := e.userByID(u.ID).Status; got != authn.StatusActive {
				t.Errorf("after both enabled her: %s, want active", got)
			}
		})
	}
}

// TestSyncLeaverDisabledByAdminTooDeleted: a person who leaves the
// directory (her entry deleted) and whom an administrator disabled too,
// before or after, is deleted like any leaver after grace_period
// (docs/privacy.md), counted from the directory's disable: the
// administrator's later disable does not restart it.
func TestSyncLeaverDisabledByAdminTooDeleted(t *testing.T) {
	ctx := t.Context()
	for _, adminFirst := range []bool{true, false} {
		t.Run(map[bool]string{true: "admin first", false: "directory first"}[adminFirst], func(t *testing.T) {
			e := newSyncEnv(t, "sqlite://"+filepath.Join(t.TempDir(), "k.db"))
			people := staffPeople(20)
			e.reader.set(people)
			e.sync()
			both, control := e.user(people[3].Username), e.user(people[4].Username)
			adminDisable := func() {
				t.Helper()
				ev := authn.AuditEvent{Time: e.now, Actor: "user:admin", Action: "user.disable", Subject: "user:" + both.ID}
				if changed, err := e.store.DisableUser(ctx, both.ID, e.now, ev); err != nil || !changed {
					t.Fatalf("DisableUser: %v %v", changed, err)
				}
			}
			if adminFirst {
				adminDisable()
				e.now = e.now.Add(time.Hour)
			}
			left := e.now
			e.reader.set(withoutPerson(withoutPerson(people, both.Username), control.Username))
			e.sync() // both leave the directory
			if !adminFirst {
				e.now = e.now.Add(24 * time.Hour)
				adminDisable() // the helpdesk disables the leaver in Keyhall too, to be sure
			}
			e.now = left.Add(e.cfg.GracePeriod - time.Hour)
			e.sync()
			if _, err := e.store.GetUser(ctx, both.ID); err != nil {
				t.Fatalf("leaver disabled by the administrator too, within the grace period: %v, want kept", err)
			}
			e.now = left.Add(e.cfg.GracePeriod + time.Hour)
			e.sync()
			if _, err := e.store.GetUser(ctx, control.ID); !errors.Is(err, authn.ErrNotFound) {
				t.Fatalf("leaver: %v, want deleted after the grace period", err)
			}
			if u, err := e.store.GetUser(ctx, both.ID); err == nil {
				t.Errorf("leaver disabled by the administrator too: still stored (%s, %d keys) an hour after the grace period since she left",
					u.Status, e.keys(u.ID))
			}
		})
	}
}

// TestSyncAlsoDisabledReported: people an administrator disabled who
// leave the directory become disabled by both (and so are deleted after
// the grace period): the run lists them, its audit event names them, and
// the mass-change valve counts them with the other leavers, so a wrong
// read cannot mark many at once. When they come back, the run lists and
// audits that the directory no longer disables them.
func TestSyncAlsoDisabledReported(t *testing.T) {
	ctx := t.Context()
	e := newSyncEnv(t, "sqlite://"+filepath.Join(t.TempDir(), "k.db"))
	people := staffPeople(40)
	e.reader.set(people)
	e.sync()
	var ids []string
	gone := people
	for _, p := range people[3:6] {
		u := e.user(p.Username)
		ids = append(ids, u.ID)
		ev := authn.AuditEvent{Time: e.now, Actor: "user:admin", Action: "user.disable", Subject: "user:" + u.ID}
		if changed, err := e.store.DisableUser(ctx, u.ID, e.now, ev); err != nil || !changed {
			t.Fatalf("DisableUser: %v %v", changed, err)
		}
		gone = withoutPerson(gone, p.Username)
	}
	byWhom := func() (out []string) {
		t.Helper()
		all, err := e.store.ListDirectoryUsers(ctx, e.cfg.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			for _, u := range all {
				if u.ID == id {
					out = append(out, u.DisabledBy)
				}
			}
		}
		return out
	}
	// 3 of 40 leave, more than the valve's 2: held back, nothing marked.
	e.now = e.now.Add(time.Hour)
	e.cfg.MaxDisableCount = 2
	e.reader.set(gone)
	if res := e.sync(); res.HeldBack != 3 || len(res.AlsoDisabled) != 0 {
		t.Errorf("3 leavers an administrator disabled, valve at 2: held back %d, also disabled %v", res.HeldBack, res.AlsoDisabled)
	}
	for _, by := range byWhom() {
		if by != authn.DisabledByAdmin {
			t.Errorf("held back, yet disabled by %q", by)
		}
	}
	e.cfg.MaxDisableCount = 100
	res := e.sync()
	if len(res.AlsoDisabled) != 3 || res.AlsoDisabled[0].Reason != ReasonNotFound {
		t.Errorf("the run's AlsoDisabled: %+v, want the 3 leavers, not found", res.AlsoDisabled)
	}
	for _, by := range byWhom() {
		if by != authn.DisabledByAdminAndDirectory {
			t.Errorf("after the run, disabled by %q", by)
		}
	}
	evs := e.audit("directory.sync")
	last := evs[len(evs)-1].Details
	for _, id := range ids {
		if !strings.Contains(last["also_disabled_ids"], id) || last["also_disabled"] != "3" {
			t.Errorf("the run's audit event %v does not name %s", last, id)
		}
	}
	e.now = e.now.Add(time.Hour)
	e.reader.set(people)
	res = e.sync()
	if len(res.AlsoEnabled) != 3 {
		t.Errorf("back in the directory: AlsoEnabled %+v, want the 3", res.AlsoEnabled)
	}
	evs = e.audit("directory.sync")
	if last := evs[len(evs)-1].Details; last["also_enabled"] != "3" || !strings.Contains(last["also_enabled_ids"], ids[0]) {
		t.Errorf("the run's audit event %v does not name whom the directory enabled", last)
	}
	for _, by := range byWhom() {
		if by != authn.DisabledByAdmin {
			t.Errorf("back in the directory, disabled by %q, want the administrator", by)
		}
	}
}
