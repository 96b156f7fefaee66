package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/keyhall/keyhall/authn"
)

var _ authn.NoticeLetterStore = (*Store)(nil)

// QueueNoticeLetter stores l, unprinted.
func (s *Store) QueueNoticeLetter(ctx context.Context, l authn.NoticeLetter) error {
	_, err := s.wdb.ExecContext(ctx, `INSERT INTO notice_letters (id, user_id, kind, detail, created_at, printed_at)
		VALUES ($1, $2, $3, $4, $5, NULL)`, l.ID, l.UserID, l.Kind, l.Detail, s.tv(l.CreatedAt))
	if err != nil {
		return fmt.Errorf("queue notice letter for user %s: %w", l.UserID, dbErr(err))
	}
	return nil
}

// UnprintedNoticeLetters lists the unprinted letters, oldest first.
func (s *Store) UnprintedNoticeLetters(ctx context.Context) ([]authn.NoticeLetter, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, user_id, kind, detail, created_at, printed_at
		FROM notice_letters WHERE printed_at IS NULL ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list notice letters: %w", err)
	}
	defer rows.Close()
	out := []authn.NoticeLetter{}
	for rows.Next() {
		var l authn.NoticeLetter
		if err := rows.Scan(&l.ID, &l.UserID, &l.Kind, &l.Detail, timeCol{&l.CreatedAt}, timeCol{&l.PrintedAt}); err != nil {
			return nil, fmt.Errorf("list notice letters: %w", err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list notice letters: %w", err)
	}
	return out, nil
}

// MarkNoticeLettersPrinted claims the unprinted ones of ids, each with its
// event, in one transaction.
func (s *Store) MarkNoticeLettersPrinted(ctx context.Context, ids []string, at time.Time, events map[string]authn.AuditEvent) ([]string, error) {
	var claimed []string
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("mark notice letters printed: %w", err)
	}
	defer tx.Rollback()
	if err := s.lockAuditHead(ctx, tx); err != nil {
		return nil, fmt.Errorf("mark notice letters printed: %w", err)
	}
	var evs []authn.AuditEvent
	for _, id := range ids {
		res, err := tx.ExecContext(ctx, "UPDATE notice_letters SET printed_at = $1 WHERE id = $2 AND printed_at IS NULL",
			s.tv(at), id)
		if err != nil {
			return nil, fmt.Errorf("mark notice letters printed: %w", err)
		}
		if k, err := rowsAffected(res); err != nil {
			return nil, fmt.Errorf("mark notice letters printed: %w", err)
		} else if k == 1 {
			claimed = append(claimed, id)
			if ev, ok := events[id]; ok {
				evs = append(evs, ev)
			}
		}
	}
	if len(evs) > 0 {
		if err := s.appendAudit(ctx, tx, evs...); err != nil {
			return nil, fmt.Errorf("mark notice letters printed: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("mark notice letters printed: %w", err)
	}
	return claimed, nil
}
