package storetest

import (
	"maps"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

func testAudit(t *testing.T, s authn.Store) {
	ctx := t.Context()
	in := []authn.AuditEvent{
		{Time: t0, Actor: "cli:root", Action: "user.reset", Subject: "user:a", Reason: "lost key",
			ClientAddr: "198.51.100.4", Details: map[string]string{"factors": "2", "ticket": "IT-4711", "ä": "ü\n\"x\""}},
		{Time: t0.Add(time.Second), Actor: "user:b", Action: "session.revoke", Subject: "user:b"},
		{Time: t0.Add(2 * time.Second), Actor: "system", Action: "sync.run"},
	}
	must(t, "AppendAudit", s.AppendAudit(ctx, in...))
	must(t, "AppendAudit(none)", s.AppendAudit(ctx))
	must(t, "AppendAudit", s.AppendAudit(ctx, authn.AuditEvent{Time: t0.Add(3 * time.Second), Actor: "system", Action: "x", Subject: "user:a"}))

	got := verifyAudit(t, s, 2)
	if len(got) != 4 {
		t.Fatalf("ListAudit returned %d events, want 4", len(got))
	}
	for i, e := range in {
		g := got[i]
		if g.Seq != int64(i+1) || !g.Time.Equal(micro(e.Time)) || g.Actor != e.Actor || g.Action != e.Action ||
			g.Subject != e.Subject || g.Reason != e.Reason || g.ClientAddr != e.ClientAddr || !maps.Equal(g.Details, e.Details) {
			t.Errorf("event %d:\n got %+v\nwant %+v", i+1, g, e)
		}
	}
	page, err := s.ListAudit(ctx, authn.AuditFilter{Subject: "user:a"})
	must(t, "ListAudit(subject)", err)
	if len(page) != 2 || page[0].Seq != 1 || page[1].Seq != 4 {
		t.Errorf("ListAudit(subject user:a) = %+v, want events 1 and 4", page)
	}
	page, err = s.ListAudit(ctx, authn.AuditFilter{AfterSeq: 1, Limit: 2})
	must(t, "ListAudit(after, limit)", err)
	if len(page) != 2 || page[0].Seq != 2 || page[1].Seq != 3 {
		t.Errorf("ListAudit(after 1, limit 2) = %+v, want events 2 and 3", page)
	}
}

// testAuditConcurrent appends from many goroutines at once, beside
// administrative changes that write their own events, and checks the chain.
func testAuditConcurrent(t *testing.T, s authn.Store) {
	ctx := t.Context()
	const writers, admins = 50, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers+2*admins)
	for i := range writers {
		wg.Go(func() {
			pair := []authn.AuditEvent{
				{Time: t0, Actor: "system", Action: "test", Details: map[string]string{"w": strconv.Itoa(i), "part": "1"}},
				{Time: t0, Actor: "system", Action: "test", Details: map[string]string{"w": strconv.Itoa(i), "part": "2"}},
			}
			errs <- s.AppendAudit(ctx, pair...)
		})
	}
	rat := authn.Group{ID: authn.NewID(), Name: "rat", Source: authn.SourceLocal, CreatedAt: t0}
	must(t, "CreateGroup", s.CreateGroup(ctx, rat, ev("group.create", "group:"+rat.ID)))
	for i := range admins {
		u := newUser(t, name("user", i))
		wg.Go(func() {
			err := s.CreateUser(ctx, u, ev("user.create", "user:"+u.ID))
			if err == nil {
				err = s.AddMember(ctx, rat.ID, u.ID, ev("group.add", "user:"+u.ID))
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, "concurrent write", err)
	}
	events := verifyAudit(t, s, 37)
	if want := 1 + 2*writers + 2*admins; len(events) != want {
		t.Fatalf("%d audit events, want %d", len(events), want)
	}
	// Each AppendAudit's events are consecutive, in order.
	for i, e := range events {
		if e.Action == "test" && e.Details["part"] == "1" {
			if i+1 >= len(events) || events[i+1].Details["w"] != e.Details["w"] || events[i+1].Details["part"] != "2" {
				t.Errorf("event %d (%v) is not followed by its pair", e.Seq, e.Details)
			}
		}
	}
}

// testAuditNotUTF8 (#17): an event whose texts are not valid UTF-8 (a
// Latin-1 "ä" in a name, a stray byte in a reason, a detail's key) is
// stored, and the chain verifies over what is stored: the hash covers the
// text as kept (U+FFFD for each stray byte), not the bytes given. The
// event after it still fits, and so does the head.
func testAuditNotUTF8(t *testing.T, s authn.Store) {
	ctx := t.Context()
	must(t, "AppendAudit", s.AppendAudit(ctx,
		authn.AuditEvent{Time: t0, Actor: "cli:r\xf6ot", Action: "user.create", Subject: "user:x",
			Reason: "Gr\xfc\xdfe", Details: map[string]string{"display_name": "Anna \xe4", "k\xff": "v", "k\xfe": "w"}},
		authn.AuditEvent{Time: t0, Actor: "system", Action: "test", Details: map[string]string{"a": "<b>&"}}))
	got := verifyAudit(t, s, 2)
	if len(got) != 2 || got[0].Details["display_name"] != "Anna \uFFFD" || got[0].Reason != "Gr\uFFFD\uFFFDe" ||
		got[0].Actor != "cli:r\uFFFDot" || got[1].Details["a"] != "<b>&" {
		t.Errorf("stored as %+v", got)
	}
}
