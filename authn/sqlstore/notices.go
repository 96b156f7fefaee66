package sqlstore

import (
	"context"
	"database/sql"
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

// MarkNoticeLettersPrinted marks the unprinted ones of ids printed, with ev.
func (s *Store) MarkNoticeLettersPrinted(ctx context.Context, ids []string, at time.Time, ev authn.AuditEvent) (int, error) {
	n := 0
	err := s.adminTx(ctx, ev, func(tx *sql.Tx) error {
		for _, id := range ids {
			res, err := tx.ExecContext(ctx, "UPDATE notice_letters SET printed_at = $1 WHERE id = $2 AND printed_at IS NULL",
				s.tv(at), id)
			if err != nil {
				return err
			}
			k, err := rowsAffected(res)
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("mark notice letters printed: %w", err)
	}
	return n, nil
}
