package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/keyhall/keyhall/authn"
)

// The audit chain's statements, prepared at Open (sqlReadAuditHead with
// FOR UPDATE on PostgreSQL).
const (
	sqlReadAuditHead = "SELECT seq, hash FROM audit_head WHERE id = 1"
	sqlInsertAudit   = `INSERT INTO audit_events
		(seq, time, actor, action, subject, reason, client_addr, details, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	sqlMoveAuditHead = "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1"
)

// lockAuditHead locks the audit chain's head row until tx ends. On
// PostgreSQL every transaction that appends takes it before any other row
// lock, so appends from all processes take turns without deadlocks. On
// SQLite the writer lock (BEGIN IMMEDIATE) already serialises them.
func (s *Store) lockAuditHead(ctx context.Context, tx *sql.Tx) error {
	if s.dialect != dialectPostgres {
		return nil
	}
	var seq int64
	if err := tx.QueryRowContext(ctx, "SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE").Scan(&seq); err != nil {
		return fmt.Errorf("lock audit head: %w", err)
	}
	return nil
}

// auditTail is the head of the audit chain as one transaction has moved
// it so far. In the batcher's transaction (batcher.tail), appendAudit reads the
// head from the database on the first append and the batcher moves it once,
// before COMMIT (flushAuditTail), rather than once for each op.
type auditTail struct {
	tx            *sql.Tx
	loaded, moved bool
	seq           int64
	prev          [32]byte
}

// flushAuditTail moves the head of the chain to where tx left it, if it
// appended anything.
func (s *Store) flushAuditTail(ctx context.Context, t *auditTail) error {
	if !t.moved {
		return nil
	}
	if _, err := t.tx.StmtContext(ctx, s.stmt.moveAuditHead).ExecContext(ctx, t.seq, t.prev[:]); err != nil {
		return fmt.Errorf("move audit head: %w", err)
	}
	return nil
}

// appendAudit appends events to the chain in tx: it reads the head, assigns
// Seq, PrevHash and Hash to each event and moves the head. In the batcher's
// transaction, the head is read on the batch's first append and moved by
// the batcher before COMMIT.
func (s *Store) appendAudit(ctx context.Context, tx *sql.Tx, events ...authn.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	tail := s.batch.tail(tx)
	batched := tail != nil
	if !batched {
		tail = &auditTail{tx: tx}
	}
	if !tail.loaded {
		err := tx.StmtContext(ctx, s.stmt.readAuditHead).QueryRowContext(ctx).Scan(&tail.seq, hashCol{&tail.prev})
		if err != nil {
			return fmt.Errorf("read audit head: %w", err)
		}
		tail.loaded = true
	}
	seq, prev := tail.seq, tail.prev
	insert := tx.StmtContext(ctx, s.stmt.insertAudit)
	for _, ev := range events {
		seq++
		ev, details, err := ev.Seal(seq, prev) // the hash covers what is stored
		if err != nil {
			return err
		}
		_, err = insert.ExecContext(ctx, ev.Seq, s.tv(ev.Time), ev.Actor, ev.Action, ev.Subject, ev.Reason, ev.ClientAddr,
			string(details), ev.PrevHash[:], ev.Hash[:])
		if err != nil {
			return fmt.Errorf("insert audit event %d: %w", ev.Seq, err)
		}
		prev = ev.Hash
	}
	tail.seq, tail.prev, tail.moved = seq, prev, true
	if batched {
		return nil
	}
	return s.flushAuditTail(ctx, tail)
}

// AppendAudit appends events, in order, to the chain. It goes through the
// batcher: concurrent appends share a transaction and a commit.
func (s *Store) AppendAudit(ctx context.Context, events ...authn.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	err := s.batch.do(&writeOp{
		ctx:  ctx,
		head: true,
		run: func(ctx context.Context, tx *sql.Tx) error {
			return s.appendAudit(ctx, tx, events...)
		},
	})
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

// ListAudit returns events in order of Seq.
func (s *Store) ListAudit(ctx context.Context, f authn.AuditFilter) ([]authn.AuditEvent, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT seq, time, actor, action, subject, reason, client_addr, details, prev_hash, hash, redacted
		FROM audit_events WHERE seq > $1 AND ($2 = '' OR subject = $2) ORDER BY seq LIMIT $3`
	rows, err := s.rdb.QueryContext(ctx, q, f.AfterSeq, f.Subject, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	out, err := scanAudit(rows)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}

// CheckAuditHead compares the head of the audit chain with the last event
// in the log, in one snapshot: they differ when events at the end were
// removed, or the last one was changed or put there by hand. VerifyChain
// over the whole log finds that too, and more; this costs two reads, so
// serve runs it at every start.
func (s *Store) CheckAuditHead(ctx context.Context) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if s.dialect == dialectPostgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.rdb.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("check audit head: %w", err)
	}
	defer tx.Rollback()
	var (
		head, last       [32]byte
		headSeq, lastSeq int64
	)
	if err := tx.QueryRowContext(ctx, sqlReadAuditHead).Scan(&headSeq, hashCol{&head}); err != nil {
		return fmt.Errorf("check audit head: read head: %w", err)
	}
	err = tx.QueryRowContext(ctx, "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").Scan(&lastSeq, hashCol{&last})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("check audit head: read last event: %w", err)
	}
	if headSeq != lastSeq || head != last {
		return fmt.Errorf("the audit log's head names event %d (hash %x…), but its last event is %d (hash %x…): "+
			"events were removed or changed; keyhall admin audit verify shows where", headSeq, head[:4], lastSeq, last[:4])
	}
	return nil
}

// AuditHead returns the audit chain's head: the last event's Seq and hash
// (0 and the zero hash for an empty log).
func (s *Store) AuditHead(ctx context.Context) (int64, [32]byte, error) {
	var (
		seq  int64
		hash [32]byte
	)
	if err := s.rdb.QueryRowContext(ctx, sqlReadAuditHead).Scan(&seq, hashCol{&hash}); err != nil {
		return 0, hash, fmt.Errorf("read audit head: %w", dbErr(err))
	}
	return seq, hash, nil
}

// scanAudit reads audit events from rows (the columns seq, time, actor,
// action, subject, reason, client_addr, details, prev_hash, hash,
// redacted) and closes them.
func scanAudit(rows *sql.Rows) ([]authn.AuditEvent, error) {
	defer rows.Close()
	var out []authn.AuditEvent
	for rows.Next() {
		var (
			ev      authn.AuditEvent
			details string
		)
		err := rows.Scan(&ev.Seq, timeCol{&ev.Time}, &ev.Actor, &ev.Action, &ev.Subject, &ev.Reason,
			&ev.ClientAddr, &details, hashCol{&ev.PrevHash}, hashCol{&ev.Hash}, &ev.Redacted)
		if err != nil {
			return nil, err
		}
		if details != "{}" {
			if err := json.Unmarshal([]byte(details), &ev.Details); err != nil {
				return nil, fmt.Errorf("decode details of event %d: %w", ev.Seq, err)
			}
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}
