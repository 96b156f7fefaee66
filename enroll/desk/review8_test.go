package desk_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/desk"
)

// queueLetter queues a reset notice letter for name.
func (f *fixture) queueLetter(t *testing.T, name string) {
	t.Helper()
	must(t, f.enr.QueueNoticeLetter(t.Context(), f.people[name], authn.NoticeReset, "", f.clock.now()))
}

// print prints the queue as a and returns the count and the PDF's pages.
func (f *fixture) print(t *testing.T, a desk.Actor) (int, int) {
	t.Helper()
	var buf bytes.Buffer
	n, err := f.desk.PrintNoticeLetters(t.Context(), a, &buf)
	must(t, err)
	return n, bytes.Count(buf.Bytes(), []byte("/Type /Page\n")) + bytes.Count(buf.Bytes(), []byte("/Type /Page>"))
}

// TestNoticeLettersOnlyWhereSheMayAct (review of #14): the helpdesk prints
// no notice letter about an admin or a member of a protected group, whose
// freeze links it could use; an admin prints them. Each letter is audited
// about its person.
func TestNoticeLettersOnlyWhereSheMayAct(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{"anja", "rita", "bert"} {
		f.queueLetter(t, name)
	}
	before := f.lastSeq(t)
	if n, pages := f.print(t, f.console(t, "helga")); n != 1 || pages != 1 {
		t.Fatalf("the helpdesk printed %d letters (%d pages), want 1: bert's", n, pages)
	}
	if evs := f.events(t, "bert", before); len(evs) != 1 || evs[0].Action != "notice_letter.printed" {
		t.Errorf("bert's letter audited %v, want one notice_letter.printed about him", actions(evs))
	}
	if n, _ := f.print(t, f.console(t, "adam")); n != 2 {
		t.Errorf("the admin printed %d letters, want 2 (anja's and rita's)", n)
	}
}

// TestNoticeLetterNotByWhoCausedIt (review of #14): whoever made a
// person's newest invitation does not print the letter that tells her of
// it; a colleague does.
func TestNoticeLetterNotByWhoCausedIt(t *testing.T) {
	f := newFixture(t)
	helga := f.console(t, "helga")
	_, err := f.desk.Invite(t.Context(), helga, f.id("bert"), desk.InviteRequest{Reason: "ticket 8", Delivery: desk.DeliverDesk})
	must(t, err)
	f.queueLetter(t, "bert")
	if n, _ := f.print(t, helga); n != 0 {
		t.Fatalf("the helpdesk printed %d letters about the invitation she made herself", n)
	}
	if n, _ := f.print(t, f.console(t, "hanna")); n != 1 {
		t.Errorf("a colleague printed %d letters, want 1", n)
	}
}

// TestNoticeLettersPrintedOnce (review of #14): two printings at once
// print each letter once between them, in their PDFs too.
func TestNoticeLettersPrintedOnce(t *testing.T) {
	f := newFixture(t)
	names := []string{"anna", "bert", "nora", "ina", "vera"}
	for _, name := range names {
		f.queueLetter(t, name)
	}
	var (
		wg           sync.WaitGroup
		mu           sync.Mutex
		count, pages int
	)
	for _, who := range []string{"adam", "albert"} {
		a := f.console(t, who)
		wg.Go(func() {
			n, p := f.print(t, a)
			mu.Lock()
			count, pages = count+n, pages+p
			mu.Unlock()
		})
	}
	wg.Wait()
	if count != len(names) || pages != len(names) {
		t.Errorf("two printings at once printed %d letters on %d pages, want %d", count, pages, len(names))
	}
}

// TestNoticeLetterBadAddressWaits (review of #14): a letter whose address
// the PDF cannot take waits, and the others are printed.
func TestNoticeLetterBadAddressWaits(t *testing.T) {
	f := newFixture(t)
	_, err := f.st.UpdateUser(t.Context(), f.id("anna"), func(u authn.User) (authn.User, error) {
		u.PostalAddress = strings.Split("1 2 3 4 5 6 7 8", " ")
		return u, nil
	}, ev("user.set_address"))
	must(t, err)
	f.queueLetter(t, "anna")
	f.queueLetter(t, "bert")
	if n, _ := f.print(t, f.console(t, "adam")); n != 1 {
		t.Errorf("printed %d letters, want bert's 1 (anna's address has 8 lines)", n)
	}
	if left, err := f.st.UnprintedNoticeLetters(t.Context()); err != nil || len(left) != 1 || left[0].UserID != f.id("anna") {
		t.Errorf("unprinted after: %+v, %v; want anna's", left, err)
	}
}

// TestRoleHolderNotDisabledAlone (review of #14): one admin alone neither
// disables nor freezes a person with a role, herself included (either
// takes the role at once); on the command line break-glass does, audited.
func TestRoleHolderNotDisabledAlone(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	adam := f.console(t, "adam")
	before := f.lastSeq(t)
	wantErr(t, "an admin disables another admin", f.desk.Disable(ctx, adam, f.id("anja"), "ticket 9"), desk.ErrForbidden)
	_, err := f.desk.Freeze(ctx, adam, f.id("helga"), "ticket 9")
	wantErr(t, "an admin freezes a helpdesk person", err, desk.ErrForbidden)
	wantErr(t, "an admin disables herself", f.desk.Disable(ctx, adam, f.id("adam"), "ticket 9"), desk.ErrForbidden)
	if role, _ := f.desk.RoleOf(ctx, f.id("anja")); role != desk.RoleAdmin {
		t.Errorf("after the refusal anja's role is %q", role)
	}
	if evs := f.events(t, "anja", before); len(evs) != 1 || evs[0].Action != "desk.refused" {
		t.Errorf("the refusal audited %v", actions(evs))
	}
	must(t, f.desk.Disable(ctx, desk.CLI("cli:root", true), f.id("anja"), "incident 12"))
	if evs := f.events(t, "anja", before); evs[len(evs)-2].Action != "user.disable" || evs[len(evs)-2].Details["break_glass"] != "true" {
		t.Errorf("break-glass disable audited %v", actions(evs))
	}
	must(t, f.desk.Disable(ctx, adam, f.id("bert"), "ticket 9")) // no role: as before
}

// TestRoleNotForFrozen (review of #14): no role is asked for or approved
// for a frozen person; an unfreeze must not bring one with it.
func TestRoleNotForFrozen(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	adam, anja := f.console(t, "adam"), f.console(t, "anja")
	_, err := f.desk.Freeze(ctx, adam, f.id("bert"), "ticket 10")
	must(t, err)
	_, err = f.desk.ChangeRole(ctx, adam, f.id("bert"), "it-admins", true, "ticket 10")
	wantErr(t, "a role asked for a frozen person", err, desk.ErrForbidden)

	ap, err := f.desk.ChangeRole(ctx, adam, f.id("anna"), "it-admins", true, "ticket 10")
	must(t, err)
	_, err = f.desk.Freeze(ctx, adam, f.id("anna"), "ticket 10")
	must(t, err)
	_, err = f.desk.Approve(ctx, anja, ap.ID)
	wantErr(t, "a role approved for a frozen person", err, desk.ErrForbidden)
	_, err = f.desk.Unfreeze(ctx, adam, f.id("anna"), "ticket 10", false)
	must(t, err)
	if role, _ := f.desk.RoleOf(ctx, f.id("anna")); role != "" {
		t.Errorf("after the unfreeze anna's role is %q, want none", role)
	}
}

// TestRoleApprovalAsAsked (review of #14): an approval gives the role that
// was asked for or nothing: not when the group gives another role by now,
// nor when the admin who asked is no longer one.
func TestRoleApprovalAsAsked(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	adam, anja := f.console(t, "adam"), f.console(t, "anja")
	ap, err := f.desk.ChangeRole(ctx, adam, f.id("anna"), "it-helpdesk", true, "ticket 11")
	must(t, err)
	drifted, err := desk.New(desk.Config{Store: f.st, Enroll: f.enr, Mailer: f.mail, Tools: f.tools,
		Roles:     map[desk.Role][]string{desk.RoleAdmin: {"it-admins", "it-helpdesk"}},
		Protected: []string{"rat"}, Approval: []string{"rat", "ausschuss"}, AdminGroup: "admins", Now: f.clock.now})
	must(t, err)
	_, err = drifted.Approve(ctx, anja, ap.ID)
	wantErr(t, "approval after the group came to give admin", err, desk.ErrInvalid)
	if role, _ := drifted.RoleOf(ctx, f.id("anna")); role != "" {
		t.Errorf("anna's role after the refused approval: %q", role)
	}

	ap, err = f.desk.ChangeRole(ctx, adam, f.id("nora"), "it-helpdesk", true, "ticket 11")
	must(t, err)
	f.clock.add(time.Minute)
	must(t, f.desk.Disable(ctx, desk.CLI("cli:root", true), f.id("adam"), "left"))
	_, err = f.desk.Approve(ctx, anja, ap.ID)
	wantErr(t, "approval of a request by an admin who left", err, desk.ErrForbidden)
	if role, _ := f.desk.RoleOf(ctx, f.id("nora")); role != "" {
		t.Errorf("nora's role after the refused approval: %q", role)
	}
}
