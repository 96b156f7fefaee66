package desk_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/desk"
)

// TestSameEventsCLIAndConsole: each action, taken once by the command line
// and once on the console, writes the same audit events with the same
// detail keys; only the actor, via and the client address differ.
func TestSameEventsCLIAndConsole(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	cli := desk.CLI("cli:root", false)
	adam := f.console(t, "adam")
	type shape struct {
		actions []string
		keys    [][]string
	}
	run := func(a desk.Actor, whom string) shape {
		uid := f.id(whom)
		f.signIn(t, whom)
		key := f.addKey(t, whom)
		before := f.lastSeq(t)
		_, err := f.desk.Invite(ctx, a, uid, desk.InviteRequest{Reason: "r", Delivery: desk.DeliverLetter})
		must(t, err)
		_, err = f.desk.RevokeFactor(ctx, a, uid, key, "r")
		must(t, err)
		_, err = f.desk.EndSessions(ctx, a, uid, "r")
		must(t, err)
		must(t, f.desk.LiftThrottle(ctx, a, uid, "r"))
		f.signIn(t, whom)
		_, err = f.desk.Reset(ctx, a, uid, desk.ResetRequest{Reason: "r", Check: callback, Delivery: desk.DeliverLetter})
		must(t, err)
		must(t, f.desk.Disable(ctx, a, uid, "r"))
		must(t, f.desk.Enable(ctx, a, uid, "r"))
		var s shape
		for _, e := range f.events(t, whom, before) {
			if e.Actor != a.Audit || e.Details["via"] != a.Via || e.Reason != "r" {
				t.Errorf("%s: event %s by %q via %q, reason %q", a.Via, e.Action, e.Actor, e.Details["via"], e.Reason)
			}
			if e.ClientAddr != a.ClientAddr {
				t.Errorf("%s: event %s has client address %q, want %q", a.Via, e.Action, e.ClientAddr, a.ClientAddr)
			}
			s.actions = append(s.actions, e.Action)
			s.keys = append(s.keys, sortedKeys(e.Details))
		}
		return s
	}
	byCLI, onConsole := run(cli, "anna"), run(adam, "bert")
	want := []string{"invitation.create", "credential.revoke", "user.revoke_sessions", "user.lift_throttle",
		"user.reset", "user.disable", "user.revoke_sessions", "user.enable"}
	if !slices.Equal(byCLI.actions, want) {
		t.Errorf("the command line audited %v, want %v", byCLI.actions, want)
	}
	if !slices.Equal(byCLI.actions, onConsole.actions) {
		t.Fatalf("the command line audited %v, the console %v", byCLI.actions, onConsole.actions)
	}
	for i := range byCLI.keys {
		if !slices.Equal(byCLI.keys[i], onConsole.keys[i]) {
			t.Errorf("%s: the command line's details %v, the console's %v", byCLI.actions[i], byCLI.keys[i], onConsole.keys[i])
		}
	}
}

// TestConsoleReset: a reset on the console ends her sessions, tells the
// tools, mails her known address, and leaves her a new invitation: 10
// minutes at the desk, at most 30 days by letter (14 by default), never
// mailed, never to an address the caller gives.
func TestConsoleReset(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	helga := f.console(t, "helga")
	anna := f.id("anna")
	session := f.signIn(t, "anna")
	f.addKey(t, "anna")
	for name, in := range map[string]desk.ResetRequest{
		"mailed":           {Reason: "r", Check: callback, Delivery: desk.DeliverMail},
		"31 days":          {Reason: "r", Check: callback, Delivery: desk.DeliverLetter, Terms: enroll.Terms{Validity: 31 * 24 * time.Hour}},
		"caller's address": {Reason: "r", Check: callback, Delivery: desk.DeliverLetter, Address: []string{"Bahnhofstr. 1", "12345 Anderswo"}},
		"no delivery":      {Reason: "r", Check: callback},
	} {
		_, err := f.desk.Reset(ctx, helga, anna, in)
		wantErr(t, name, err, desk.ErrInvalid)
	}
	if !f.sessionLive(t, session) {
		t.Fatal("a refused reset ended her session")
	}
	now := f.clock.now()
	out, err := f.desk.Reset(ctx, helga, anna, desk.ResetRequest{Reason: "r", Check: callback, Delivery: desk.DeliverDesk,
		Terms: enroll.Terms{Validity: 30 * 24 * time.Hour}})
	must(t, err)
	if got := out.Invitation.ExpiresAt.Sub(now); got != desk.DeskValidity {
		t.Errorf("at the desk the invitation is valid %s, want 10 minutes", got)
	}
	if f.sessionLive(t, session) || !f.tools.saw(anna) || out.Report.Keys != 1 || out.Letter != nil {
		t.Errorf("reset: %+v, session live %v, tools told %v", out, f.sessionLive(t, session), f.tools.saw(anna))
	}
	if out.Notified != "anna@example.org" || len(f.mail.to("anna@example.org")) != 1 {
		t.Errorf("reset notice: %q %v, mails %v", out.Notified, out.NoticeErr, f.mail.to("anna@example.org"))
	}
	out, err = f.desk.Reset(ctx, helga, anna, desk.ResetRequest{Reason: "r", Check: callback, Delivery: desk.DeliverLetter})
	must(t, err)
	if got := out.Invitation.ExpiresAt.Sub(now); got != 14*24*time.Hour || !bytes.HasPrefix(out.Letter, []byte("%PDF")) {
		t.Errorf("by letter: valid %s, letter %.10q", got, out.Letter)
	}
	if ok, _ := f.enr.Redeem(ctx, enroll.Redemption{Username: "anna", Code: out.Invitation.Code,
		Client: authn.ClientInfo{Addr: "192.0.2.9"}}); ok.ID == nil {
		t.Errorf("her new code does not open an enrollment")
	}
}

// TestLiftThrottle: after too many wrong codes at enrollment and wrong
// passwords at sign-in, lifting her throttle lets her try again at once.
func TestLiftThrottle(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	_, err := f.desk.Invite(ctx, f.console(t, "helga"), f.id("anna"), desk.InviteRequest{Reason: "r", Delivery: desk.DeliverDesk})
	must(t, err)
	var last error
	for i := range 12 {
		_, last = f.enr.Redeem(ctx, enroll.Redemption{Username: "anna", Code: "WRONG-" + strings.Repeat("X", i%3+1),
			Client: authn.ClientInfo{Addr: "192.0.2." + string(rune('1'+i))}})
	}
	if !enroll.IsReason(last, enroll.ReasonThrottled) {
		t.Fatalf("after 12 wrong codes: %v, want throttled", last)
	}
	_, err = f.st.HitThrottle(ctx, authn.PasswordThrottleKey("anna"), f.clock.now(), 15*time.Minute)
	must(t, err)
	// Her own browsers' counters (and bert's, which stay).
	var devices []string
	for _, p := range authn.DeviceThrottlePrefixes(f.id("anna")) {
		devices = append(devices, p+"dev1", p+"dev2/1d")
	}
	bertDevice := authn.DeviceThrottlePrefixes(f.id("bert"))[0] + "dev3"
	for _, k := range append(slices.Clone(devices), bertDevice) {
		_, err = f.st.HitThrottle(ctx, k, f.clock.now(), 24*time.Hour)
		must(t, err)
	}
	must(t, f.desk.LiftThrottle(ctx, f.console(t, "helga"), f.id("anna"), "ticket 9"))
	for _, k := range devices {
		if n, _ := f.st.ThrottleCount(ctx, k, f.clock.now(), 24*time.Hour); n != 0 {
			t.Errorf("her browser's counter %s counts %d after lifting", k, n)
		}
	}
	if n, _ := f.st.ThrottleCount(ctx, bertDevice, f.clock.now(), 24*time.Hour); n != 1 {
		t.Errorf("bert's browser's counter counts %d after lifting anna's throttle, want 1", n)
	}
	_, err = f.enr.Redeem(ctx, enroll.Redemption{Username: "anna", Code: "WRONG", Client: authn.ClientInfo{Addr: "192.0.2.99"}})
	if enroll.IsReason(err, enroll.ReasonThrottled) {
		t.Errorf("after lifting the throttle: %v", err)
	}
	if n, _ := f.st.ThrottleCount(ctx, authn.PasswordThrottleKey("anna"), f.clock.now(), 15*time.Minute); n != 0 {
		t.Errorf("her password throttle counts %d after lifting", n)
	}
}

// TestEnable: only a person an administrator disabled is enabled.
func TestEnable(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	adam := f.console(t, "adam")
	wantErr(t, "enable an active person", f.desk.Enable(ctx, adam, f.id("anna"), "r"), desk.ErrInvalid)
	must(t, f.desk.Disable(ctx, adam, f.id("anna"), "r"))
	if role, _ := f.desk.RoleOf(ctx, f.id("anna")); role != "" {
		t.Error("a disabled person has a role")
	}
	must(t, f.desk.Enable(ctx, adam, f.id("anna"), "r"))
	u, err := f.st.GetUser(ctx, f.id("anna"))
	must(t, err)
	if u.Status != authn.StatusActive {
		t.Errorf("after Enable: %s", u.Status)
	}
}

// TestGroupLetters: one PDF with a letter per member without a factor;
// with All, every member; each her own invitation.
func TestGroupLetters(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	adam := f.console(t, "adam")
	g, err := f.st.GetGroupByName(ctx, "ausschuss")
	must(t, err)
	for _, n := range []string{"anna", "bert"} {
		must(t, f.st.AddMember(ctx, g.ID, f.id(n), ev("group.add_member")))
	}
	f.addKey(t, "bert")
	// ausschuss's resets need a second person: on the console one person
	// alone gets none of its letters; the server's command line does.
	_, err = f.desk.GroupLetters(ctx, adam, "ausschuss", desk.LettersRequest{Reason: "election"})
	wantErr(t, "a console's letters for a dual-control group", err, desk.ErrInvalid)
	cli := desk.CLI("cli:root", false)
	out, err := f.desk.GroupLetters(ctx, cli, "ausschuss", desk.LettersRequest{Reason: "election"})
	must(t, err)
	var names []string
	for _, inv := range out.Issued {
		names = append(names, inv.User.Username)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"anna", "kurt"}) || !slices.Equal(out.Skipped, []string{"bert"}) ||
		bytes.Count(out.PDF, []byte("/Type /Page\n")) != 2 {
		t.Errorf("letters for %v, skipped %v, %d pages", names, out.Skipped, bytes.Count(out.PDF, []byte("/Type /Page\n")))
	}
	if out.Issued[0].Code == out.Issued[1].Code {
		t.Error("two letters share a code")
	}
	// With All, a member who has a key gets a letter only where an
	// invitation may add one: not in a group whose resets need approval
	// (ausschuss), and not from the helpdesk.
	out, err = f.desk.GroupLetters(ctx, cli, "ausschuss", desk.LettersRequest{Reason: "election", All: true})
	must(t, err)
	if len(out.Issued) != 2 || !slices.Equal(out.Skipped, []string{"bert"}) {
		t.Errorf("with All in a dual-control group: %d letters, skipped %v; want 2, bert", len(out.Issued), out.Skipped)
	}
	verwaltung := authn.Group{ID: authn.NewID(), Name: "verwaltung", Source: authn.SourceLocal, CreatedAt: time.Now()}
	must(t, f.st.CreateGroup(ctx, verwaltung, ev("group.create")))
	for _, n := range []string{"vera", "nora"} {
		must(t, f.st.AddMember(ctx, verwaltung.ID, f.id(n), ev("group.add_member")))
	}
	f.addKey(t, "nora")
	out, err = f.desk.GroupLetters(ctx, adam, "verwaltung", desk.LettersRequest{Reason: "new keys", All: true})
	must(t, err)
	if len(out.Issued) != 2 {
		t.Errorf("an admin's letters with All: %d, want 2", len(out.Issued))
	}
	out, err = f.desk.GroupLetters(ctx, f.console(t, "helga"), "verwaltung", desk.LettersRequest{Reason: "new keys", All: true})
	must(t, err)
	if len(out.Issued) != 1 || !slices.Equal(out.Skipped, []string{"nora"}) {
		t.Errorf("the helpdesk's letters with All: %d, skipped %v; want 1, nora", len(out.Issued), out.Skipped)
	}
	_, err = f.desk.GroupLetters(ctx, f.console(t, "helga"), "rat", desk.LettersRequest{Reason: "election"})
	wantErr(t, "a helpdesk person's letters for a protected group", err, desk.ErrForbidden)
}

// TestEndSessions: her sessions end at once and the tools are told; with
// none left, it is audited all the same.
func TestEndSessions(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	s1, s2 := f.signIn(t, "anna"), f.signIn(t, "anna")
	n, err := f.desk.EndSessions(ctx, f.console(t, "helga"), f.id("anna"), "phone stolen")
	must(t, err)
	if n != 2 || f.sessionLive(t, s1) || f.sessionLive(t, s2) || !f.tools.saw(f.id("anna")) {
		t.Errorf("EndSessions ended %d; live %v %v; tools told %v", n, f.sessionLive(t, s1), f.sessionLive(t, s2), f.tools.saw(f.id("anna")))
	}
	before := f.lastSeq(t)
	n, err = f.desk.EndSessions(ctx, f.console(t, "helga"), f.id("anna"), "again")
	must(t, err)
	if got := actions(f.events(t, "anna", before)); n != 0 || !slices.Equal(got, []string{"user.revoke_sessions"}) {
		t.Errorf("EndSessions without sessions: %d, audited %v", n, got)
	}
}
