package storetest

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// RunRetention runs the conformance cases of authn.RetentionStore.
// newStore must return a fresh, empty store.
func RunRetention(t *testing.T, newStore func(t *testing.T) authn.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s authn.Store)
	}{
		{"NoteCheckpoint", testNoteCheckpoint},
		{"RedactSigninsAtCheckpoint", testRedactSigninsAtCheckpoint},
		{"RedactSigninsWithoutCheckpoint", testRedactSigninsWithoutCheckpoint},
		{"RedactSigninsManyPeople", testRedactSigninsManyPeople},
		{"InactiveMembers", testInactiveMembers},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
	}
}

func testNoteCheckpoint(t *testing.T, s authn.Store) {
	ctx := t.Context()
	if seq, err := s.NotedCheckpoint(ctx); err != nil || seq != 0 {
		t.Fatalf("NotedCheckpoint of a new store: %d, %v; want 0", seq, err)
	}
	for _, step := range []struct{ note, want int64 }{{7, 7}, {120, 120}, {9, 120}, {121, 121}} {
		must(t, "NoteCheckpoint", s.NoteCheckpoint(ctx, step.note))
		if seq, err := s.NotedCheckpoint(ctx); err != nil || seq != step.want {
			t.Errorf("after NoteCheckpoint(%d): %d, %v; want %d (it only moves forward)", step.note, seq, err, step.want)
		}
	}
}

// signinAt is a sign-in record of u at at.
func signinAt(u authn.User, action string, at time.Time) authn.AuditEvent {
	return authn.AuditEvent{Time: at, Actor: "user:" + u.ID, Action: action, Subject: "user:" + u.ID,
		ClientAddr: "198.51.100.23", Details: map[string]string{"amr": "hwk", "tool": "Ratsinfo"}}
}

func allAudit(t *testing.T, s authn.Store) []authn.AuditEvent {
	t.Helper()
	var all []authn.AuditEvent
	var after int64
	for {
		page, err := s.ListAudit(t.Context(), authn.AuditFilter{AfterSeq: after, Limit: 500})
		must(t, "ListAudit", err)
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].Seq
	}
}

func testRedactSigninsAtCheckpoint(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna, bert := mkUser(t, s, "anna"), mkUser(t, s, "bert")
	old, cut, recent := t0.Add(24*time.Hour), t0.Add(91*24*time.Hour), t0.Add(100*24*time.Hour)
	update := ev("user.update", "user:"+anna.ID)
	update.Time, update.Actor, update.ClientAddr = old, "user:"+anna.ID, "198.51.100.23"
	must(t, "AppendAudit", s.AppendAudit(ctx,
		signinAt(anna, "signin", old), signinAt(bert, "signin.refused", old), update,
		signinAt(anna, "signin", old.Add(time.Hour)), signinAt(bert, "signin", recent)))
	all := allAudit(t, s)
	head := all[len(all)-1].Seq
	must(t, "NoteCheckpoint", s.NoteCheckpoint(ctx, head))
	// Old, but after the checkpoint: not yet in a logged checkpoint.
	must(t, "AppendAudit", s.AppendAudit(ctx, signinAt(anna, "signin", old.Add(2*time.Hour))))
	before := allAudit(t, s)

	retention := authn.AuditEvent{Time: recent, Actor: "system", Action: "audit.retention"}
	got, err := s.RedactSignins(ctx, cut, authn.SigninActions, retention)
	must(t, "RedactSignins", err)
	if got.Redacted != 3 || got.Checkpoint != head {
		t.Errorf("RedactSignins = %+v, want 3 redacted at checkpoint %d", got, head)
	}
	after := allAudit(t, s)
	if len(after) != len(before)+1 {
		t.Fatalf("%d events after, %d before: want one more (the retention's own record)", len(after), len(before))
	}
	if _, _, err := authn.VerifyChain([32]byte{}, 0, after); err != nil {
		t.Fatalf("the chain after retention: %v", err)
	}
	for i, b := range before {
		a := after[i]
		wantRedacted := b.Seq <= head && b.Time.Before(cut) && (b.Action == "signin" || b.Action == "signin.refused")
		if a.Seq != b.Seq || !a.Time.Equal(b.Time) || a.Action != b.Action || a.Hash != b.Hash || a.PrevHash != b.PrevHash {
			t.Errorf("event %d: Seq, Time, Action or hashes changed: %+v, was %+v", b.Seq, a, b)
		}
		if !wantRedacted {
			if a.Redacted || a.Actor != b.Actor || a.Subject != b.Subject || a.ClientAddr != b.ClientAddr || !maps.Equal(a.Details, b.Details) {
				t.Errorf("event %d (%s at %s) was changed, want it as written: %+v, was %+v", b.Seq, b.Action, b.Time, a, b)
			}
			continue
		}
		id := b.Actor[len("user:"):]
		if !a.Redacted || a.Actor != authn.Pseudonym(id) || a.Subject != authn.Pseudonym(id) ||
			a.ClientAddr != "" || a.Reason != "" || len(a.Details) != 0 {
			t.Errorf("event %d (%s, old, before the checkpoint) not redacted: %+v", b.Seq, b.Action, a)
		}
	}
	last := after[len(after)-1]
	if last.Action != "audit.retention" || last.Details["count"] != "3" || last.Redacted {
		t.Errorf("the retention's record: %+v, want audit.retention with count 3", last)
	}
	// Her own count stays findable by whoever knows her id.
	n := 0
	for _, e := range after {
		if e.Actor == authn.Pseudonym(anna.ID) && e.Action == "signin" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d redacted sign-ins name anna's pseudonym, want 2", n)
	}

	// Run again: nothing left to redact, and nothing appended.
	again, err := s.RedactSignins(ctx, cut, authn.SigninActions, retention)
	must(t, "RedactSignins again", err)
	if again.Redacted != 0 || len(allAudit(t, s)) != len(after) {
		t.Errorf("RedactSignins again = %+v, want nothing redacted or appended", again)
	}
}

func testRedactSigninsWithoutCheckpoint(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	must(t, "AppendAudit", s.AppendAudit(ctx, signinAt(anna, "signin", t0)))
	before := allAudit(t, s)
	got, err := s.RedactSignins(ctx, t0.Add(365*24*time.Hour), authn.SigninActions, ev("audit.retention", ""))
	must(t, "RedactSignins", err)
	if got.Redacted != 0 || got.Checkpoint != 0 {
		t.Errorf("RedactSignins without a noted checkpoint = %+v, want nothing redacted", got)
	}
	after := allAudit(t, s)
	if len(after) != len(before) || after[len(after)-1].Redacted {
		t.Errorf("without a checkpoint the log changed: %+v", after)
	}
}

func testInactiveMembers(t *testing.T, s authn.Store) {
	ctx := t.Context()
	g := authn.Group{ID: authn.NewID(), Name: "buerger", Source: authn.SourceLocal, CreatedAt: t0}
	must(t, "CreateGroup", s.CreateGroup(ctx, g, ev("group.create", "group:"+g.ID)))
	join := func(u authn.User) authn.User {
		must(t, "AddMember", s.AddMember(ctx, g.ID, u.ID, ev("group.add_member", "group:"+g.ID)))
		return u
	}
	year := 365 * 24 * time.Hour
	anna := join(mkUser(t, s, "anna")) // created t0, never used
	bert := join(mkUser(t, s, "bert")) // a key used lately
	key := mkCredential(t, s, newKey(bert, t0))
	must(t, "RecordKeyUse", s.RecordKeyUse(ctx, key.ID, 8, t0.Add(2*year)))
	carla := join(mkUser(t, s, "carla")) // a session seen lately
	mkSession(t, s, carla, t0.Add(2*year))
	dora := join(mkUser(t, s, "dora")) // an app used long ago
	app := mkCredential(t, s, newApp(dora, t0))
	must(t, "AcceptTOTPStep", s.AcceptTOTPStep(ctx, app.ID, 200, t0.Add(time.Hour)))
	mkUser(t, s, "emil") // unused, but no citizen
	fritz := newUser(t, "fritz")
	fritz.Source, fritz.ExternalID, fritz.Directory = authn.SourceDirectory, "cn=fritz", "ad"
	must(t, "CreateUser", s.CreateUser(ctx, fritz, ev("user.create", "user:"+fritz.ID)))
	join(fritz) // unused, but from the directory

	cut := t0.Add(2*year - time.Hour)
	names := func(list []authn.InactiveUser) map[string]authn.InactiveUser {
		m := map[string]authn.InactiveUser{}
		for _, iu := range list {
			m[iu.User.Username] = iu
		}
		return m
	}
	list, err := s.InactiveMembers(ctx, g.ID, cut, 100)
	must(t, "InactiveMembers", err)
	got := names(list)
	if len(got) != 2 || got["anna"].User.ID != anna.ID || got["dora"].User.Email != dora.Email {
		t.Fatalf("InactiveMembers = %v, want anna and dora", got)
	}
	if lu := got["anna"].LastUsed; !lu.Equal(micro(t0)) {
		t.Errorf("anna's last use %s, want her creation %s", lu, micro(t0))
	}
	if lu := got["dora"].LastUsed; !lu.Equal(micro(t0.Add(time.Hour))) {
		t.Errorf("dora's last use %s, want her app's last use", lu)
	}
	if list[0].User.Username != "anna" || !got["anna"].NoticeAt.IsZero() {
		t.Errorf("InactiveMembers = %v, want the oldest use first, and no notice yet", list)
	}
	if l, err := s.InactiveMembers(ctx, g.ID, cut, 1); err != nil || len(l) != 1 {
		t.Errorf("InactiveMembers with limit 1: %d, %v", len(l), err)
	}

	// A notice keeps her in the list after she used her account, so that
	// the notice can be withdrawn.
	noticed := t0.Add(2 * year)
	must(t, "PutInactiveNotice", s.PutInactiveNotice(ctx, anna.ID, noticed))
	mkSession(t, s, anna, noticed.Add(time.Hour))
	list, err = s.InactiveMembers(ctx, g.ID, cut, 100)
	must(t, "InactiveMembers", err)
	got = names(list)
	if a := got["anna"]; !a.NoticeAt.Equal(micro(noticed)) || !a.LastUsed.Equal(micro(noticed.Add(time.Hour))) {
		t.Errorf("anna after her notice and a sign-in: %+v", a)
	}
	must(t, "DeleteInactiveNotice", s.DeleteInactiveNotice(ctx, anna.ID))
	must(t, "DeleteInactiveNotice again", s.DeleteInactiveNotice(ctx, anna.ID))
	list, err = s.InactiveMembers(ctx, g.ID, cut, 100)
	must(t, "InactiveMembers", err)
	if got = names(list); len(got) != 1 || got["dora"].User.ID != dora.ID {
		t.Errorf("InactiveMembers after anna's notice was withdrawn = %v, want dora", got)
	}
	if err := s.PutInactiveNotice(ctx, authn.NewID(), noticed); err == nil {
		t.Error("PutInactiveNotice of nobody: no error")
	}
	// Erasing her removes her notice with her.
	must(t, "PutInactiveNotice", s.PutInactiveNotice(ctx, dora.ID, noticed))
	_, err = s.EraseUser(ctx, authn.Erasure{UserID: dora.ID, At: noticed, Audit: ev("user.erase", authn.Pseudonym(dora.ID))})
	must(t, "EraseUser", err)
	list, err = s.InactiveMembers(ctx, g.ID, cut, 100)
	must(t, "InactiveMembers", err)
	if len(list) != 0 {
		t.Errorf("InactiveMembers after dora's erasure = %v, want none", names(list))
	}
}

// testRedactSigninsManyPeople: the records of many people (more than a
// store redacts in one transaction, if it works in several) are all
// redacted, and the retention's records add up to them.
func testRedactSigninsManyPeople(t *testing.T, s authn.Store) {
	ctx := t.Context()
	var events []authn.AuditEvent
	for i := range 75 {
		u := authn.User{ID: authn.NewID()}
		events = append(events, signinAt(u, "signin", t0.Add(time.Duration(i)*time.Second)), signinAt(u, "signin.refused", t0))
	}
	must(t, "AppendAudit", s.AppendAudit(ctx, events...))
	all := allAudit(t, s)
	must(t, "NoteCheckpoint", s.NoteCheckpoint(ctx, all[len(all)-1].Seq))
	got, err := s.RedactSignins(ctx, t0.Add(time.Hour), authn.SigninActions, ev("audit.retention", ""))
	must(t, "RedactSignins", err)
	if got.Redacted != 150 {
		t.Errorf("RedactSignins = %+v, want 150 redacted", got)
	}
	all = allAudit(t, s)
	if _, _, err := authn.VerifyChain([32]byte{}, 0, all); err != nil {
		t.Fatal(err)
	}
	redacted, counted := 0, 0
	for _, e := range all {
		if e.Redacted {
			redacted++
		}
		if e.Action == "audit.retention" {
			n := 0
			fmt.Sscan(e.Details["count"], &n)
			counted += n
		}
	}
	if redacted != 150 || counted != 150 {
		t.Errorf("%d events redacted, the retention's records count %d; want 150 each", redacted, counted)
	}
}
