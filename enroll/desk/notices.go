package desk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// Notice letters: a reset or a factor added whose notice reached nobody
// by mail is queued as a letter (enroll.Service.QueueNoticeLetter). The
// desk prints the queue as one PDF; a person without a postal address
// stays in it, shown on the overview as not notified, until she has one.

// queued is the unprinted notice letters with their people.
type queued struct {
	letters []authn.NoticeLetter
	users   map[string]authn.User
}

// readQueue reads the unprinted notice letters and their people (a person
// gone meanwhile is left out).
func (s *Service) readQueue(ctx context.Context) (queued, error) {
	ls, err := s.cfg.Store.UnprintedNoticeLetters(ctx)
	if err != nil {
		return queued{}, fmt.Errorf("read notice letters: %w", err)
	}
	q := queued{users: map[string]authn.User{}}
	for _, l := range ls {
		u, ok := q.users[l.UserID]
		if !ok {
			if u, err = s.cfg.Store.GetUser(ctx, l.UserID); err != nil {
				continue
			}
			q.users[l.UserID] = u
		}
		q.letters = append(q.letters, l)
	}
	return q, nil
}

// noticeQueue counts the letters to send and lists the people without a
// postal address whom a notice did not reach.
func (s *Service) noticeQueue(ctx context.Context) (int, []authn.User, error) {
	q, err := s.readQueue(ctx)
	if err != nil {
		return 0, nil, err
	}
	n := 0
	var none []authn.User
	seen := map[string]bool{}
	for _, l := range q.letters {
		u := q.users[l.UserID]
		if len(u.PostalAddress) > 0 {
			n++
		} else if !seen[u.ID] {
			seen[u.ID] = true
			none = append(none, u)
		}
	}
	return n, none, nil
}

// PrintNoticeLetters writes the unprinted notice letters that a may print
// to w as one PDF, each with a new "this was not me" link, marks them
// printed, each audited "notice_letter.printed" about her person, and
// returns the count. With none to print it writes nothing and returns 0.
//
// A letter tells a person what the desk did, so it does not go through
// the hands of whoever it is about. The helpdesk prints only for people it
// may act on (tier); nobody prints a letter about herself, nor one about
// a person whose newest invitation she made or whose newest reset she
// asked for or carried out: she could throw it away unread, or freeze the
// account with its link. Those wait for a colleague. (On the server's
// command line this last rule does not hold: whoever runs it there can
// read the database and the key file, and often is one person alone.) A
// letter that cannot
// be written (an address line the PDF cannot take) waits too, logged, and
// does not hold up the others.
func (s *Service) PrintNoticeLetters(ctx context.Context, a Actor, w io.Writer) (int, error) {
	if err := mayRead(a); err != nil {
		return 0, err
	}
	q, err := s.readQueue(ctx)
	if err != nil {
		return 0, err
	}
	var (
		docs   []enroll.NoticeLetter
		ids    []string
		events = map[string]authn.AuditEvent{}
	)
	for _, l := range q.letters {
		u := q.users[l.UserID]
		if len(u.PostalAddress) == 0 {
			continue
		}
		if ok, err := s.mayPrintFor(ctx, a, u); err != nil {
			return 0, err
		} else if !ok {
			continue
		}
		doc := enroll.NoticeLetter{User: u, Address: u.PostalAddress, Sender: s.cfg.Sender, Kind: l.Kind,
			Factor: l.Detail, At: l.CreatedAt, FreezeLink: "https://x.invalid/f", Date: s.now(), Location: s.cfg.Notices.Location}
		if err := enroll.WriteNoticeLetters(io.Discard, []enroll.NoticeLetter{doc}); err != nil {
			s.log.Warn("a notice letter cannot be written; it waits", "user", u.Username, "letter", l.ID, "err", err)
			continue
		}
		docs = append(docs, doc)
		ids = append(ids, l.ID)
		events[l.ID] = s.event(a, "notice_letter.printed", u, "", map[string]string{"kind": l.Kind, "letter_id": l.ID})
	}
	if len(docs) == 0 {
		return 0, nil
	}
	// Claim first: of two printings at once, each letter goes to one.
	claimed, err := s.cfg.Store.MarkNoticeLettersPrinted(context.WithoutCancel(ctx), ids, s.now(), events)
	if err != nil {
		return 0, fmt.Errorf("mark notice letters printed: %w", err)
	}
	var print []enroll.NoticeLetter
	for i, id := range ids {
		if !slices.Contains(claimed, id) {
			continue
		}
		d := docs[i]
		if d.FreezeLink, err = s.cfg.Enroll.LetterFreezeLink(ctx, d.User.ID); err != nil {
			return 0, err
		}
		print = append(print, d)
	}
	if len(print) == 0 {
		return 0, nil
	}
	var buf bytes.Buffer
	if err := enroll.WriteNoticeLetters(&buf, print); err != nil {
		return 0, &Error{De: "Die Briefe lassen sich nicht schreiben (Adresse, Absender): " + err.Error(),
			En: "The letters cannot be written (address, sender): " + err.Error(), Err: ErrInvalid}
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return 0, fmt.Errorf("write notice letters: %w", err)
	}
	if f, ok := w.(interface{ Flush() error }); ok {
		if err := f.Flush(); err != nil {
			return 0, fmt.Errorf("write notice letters: %w", err)
		}
	}
	return len(print), nil
}

// mayPrintFor reports whether a may print a notice letter to u (see
// PrintNoticeLetters).
func (s *Service) mayPrintFor(ctx context.Context, a Actor, u authn.User) (bool, error) {
	p, err := s.find(ctx, u.ID)
	if err != nil {
		return false, nil // gone meanwhile
	}
	if _, refusal := s.tier(a, p, false); refusal != nil || a.herself(u) {
		return false, nil
	}
	if a.Via == "cli" {
		return true, nil
	}
	inv, err := s.cfg.Store.LatestInvitation(ctx, u.ID)
	switch {
	case err == nil && inv.CreatedBy == a.Audit:
		return false, nil
	case err != nil && !errors.Is(err, authn.ErrNotFound):
		return false, fmt.Errorf("desk: newest invitation of %s: %w", u.Username, err)
	}
	resets, err := s.cfg.Store.RecentAudit(ctx, "user:"+u.ID, "user.reset", 1)
	if err != nil {
		return false, fmt.Errorf("desk: newest reset of %s: %w", u.Username, err)
	}
	for _, r := range resets {
		if r.Actor == a.Audit || r.Details["requested_by"] == a.Audit {
			return false, nil
		}
	}
	return true, nil
}
