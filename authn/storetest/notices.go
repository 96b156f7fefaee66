package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// RunNotices runs the conformance tests of authn.NoticeLetterStore.
func RunNotices(t *testing.T, newStore func(t *testing.T) authn.Store) {
	t.Run("QueueAndPrint", func(t *testing.T) { testNoticeLetters(t, newStore(t)) })
}

// testNoticeLetters: queued letters are listed oldest first until marked
// printed, once; the marking is audited; a letter for nobody is refused.
func testNoticeLetters(t *testing.T, s authn.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "anna")
	at := micro(time.Now().Add(-time.Hour))
	a := authn.NoticeLetter{ID: authn.NewID(), UserID: u.ID, Kind: authn.NoticeFactorAdded, Detail: "Büro (YubiKey 5)", CreatedAt: at.Add(time.Minute)}
	b := authn.NoticeLetter{ID: authn.NewID(), UserID: u.ID, Kind: authn.NoticeReset, CreatedAt: at}
	must(t, "QueueNoticeLetter", s.QueueNoticeLetter(ctx, a))
	must(t, "QueueNoticeLetter", s.QueueNoticeLetter(ctx, b))
	err := s.QueueNoticeLetter(ctx, authn.NoticeLetter{ID: authn.NewID(), UserID: "nobody", Kind: authn.NoticeReset, CreatedAt: at})
	if !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("QueueNoticeLetter for an unknown person: %v, want ErrNotFound", err)
	}
	got, err := s.UnprintedNoticeLetters(ctx)
	must(t, "UnprintedNoticeLetters", err)
	norm := func(ls []authn.NoticeLetter) []authn.NoticeLetter {
		for i := range ls {
			ls[i].CreatedAt = micro(ls[i].CreatedAt)
		}
		return ls
	}
	same(t, "unprinted letters", got, []authn.NoticeLetter{b, a}, norm)

	before := auditCount(t, s)
	evs := map[string]authn.AuditEvent{a.ID: ev("notice_letter.printed", "user:"+a.UserID), b.ID: ev("notice_letter.printed", "user:"+b.UserID)}
	n, err := s.MarkNoticeLettersPrinted(ctx, []string{a.ID, b.ID}, time.Now(), evs)
	must(t, "MarkNoticeLettersPrinted", err)
	if len(n) != 2 || n[0] != a.ID || n[1] != b.ID {
		t.Errorf("MarkNoticeLettersPrinted claimed %v, want both", n)
	}
	if c := auditCount(t, s); c != before+2 {
		t.Errorf("audit events %d after marking, want %d (one per letter)", c, before+2)
	}
	got, err = s.UnprintedNoticeLetters(ctx)
	must(t, "UnprintedNoticeLetters", err)
	if len(got) != 0 {
		t.Errorf("after printing %d letters are unprinted, want none", len(got))
	}
	n, err = s.MarkNoticeLettersPrinted(ctx, []string{a.ID}, time.Now(), evs)
	must(t, "MarkNoticeLettersPrinted again", err)
	if len(n) != 0 {
		t.Errorf("a printed letter was claimed again (%v)", n)
	}
	if c := auditCount(t, s); c != before+2 {
		t.Errorf("audit events %d after marking nothing, want %d", c, before+2)
	}
}
