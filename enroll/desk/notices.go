package desk

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"

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

// PrintNoticeLetters writes every unprinted notice letter of a person with
// a postal address to w as one PDF, each with a new "this was not me"
// link, marks them printed, audited "notice_letters.printed" with the
// count, and returns the count. With none to print it writes nothing and
// returns 0. The helpdesk and admins may.
func (s *Service) PrintNoticeLetters(ctx context.Context, a Actor, w io.Writer) (int, error) {
	if err := mayRead(a); err != nil {
		return 0, err
	}
	q, err := s.readQueue(ctx)
	if err != nil {
		return 0, err
	}
	var docs []enroll.NoticeLetter
	var ids []string
	for _, l := range q.letters {
		u := q.users[l.UserID]
		if len(u.PostalAddress) == 0 {
			continue
		}
		link, err := s.cfg.Enroll.LetterFreezeLink(ctx, u.ID)
		if err != nil {
			return 0, err
		}
		docs = append(docs, enroll.NoticeLetter{User: u, Address: u.PostalAddress, Sender: s.cfg.Sender, Kind: l.Kind,
			Factor: l.Detail, At: l.CreatedAt, FreezeLink: link, Date: s.now(), Location: s.cfg.Notices.Location})
		ids = append(ids, l.ID)
	}
	if len(docs) == 0 {
		return 0, nil
	}
	var buf bytes.Buffer
	if err := enroll.WriteNoticeLetters(&buf, docs); err != nil {
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
	ev := authn.AuditEvent{Time: s.now(), Actor: a.Audit, Action: "notice_letters.printed", ClientAddr: a.ClientAddr,
		Details: map[string]string{"count": strconv.Itoa(len(ids)), "via": a.Via}}
	n, err := s.cfg.Store.MarkNoticeLettersPrinted(context.WithoutCancel(ctx), ids, s.now(), ev)
	if err != nil {
		return 0, fmt.Errorf("mark notice letters printed: %w", err)
	}
	return n, nil
}
