package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestBatchAuditChain: a batch reads the audit chain's head once and moves
// it once. When one op of a batch fails the transaction, the batch runs
// again op by op; the chain must come out whole, with every event of the
// ops that succeeded, none of the failed op's, and the head where the last
// event is, also for a write outside the batcher afterwards.
func TestBatchAuditChain(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := openURL(t, b.url(t))
			ctx := t.Context()
			event := func(reason string) authn.AuditEvent {
				return authn.AuditEvent{Time: time.Now(), Actor: "system", Action: "test", Reason: reason}
			}
			appends := func(reasons ...string) *writeOp {
				var evs []authn.AuditEvent
				for _, r := range reasons {
					evs = append(evs, event(r))
				}
				return &writeOp{ctx: ctx, head: true, done: make(chan error, 1),
					run: func(ctx context.Context, tx *sql.Tx) error { return s.appendAudit(ctx, tx, evs...) }}
			}
			failing := &writeOp{ctx: ctx, head: true, done: make(chan error, 1), run: func(ctx context.Context, tx *sql.Tx) error {
				if err := s.appendAudit(ctx, tx, event("lost")); err != nil {
					return err
				}
				return errors.New("this op fails its transaction")
			}}
			// One batch of four ops that append, as the batcher runs them.
			ok := []*writeOp{appends("a1", "a2"), appends("b1"), appends("c1", "c2", "c3")}
			s.batch.run([]*writeOp{ok[0], ok[1], failing, ok[2]})
			for i, op := range ok {
				if err := <-op.done; err != nil {
					t.Fatalf("op %d: %v", i, err)
				}
			}
			if err := <-failing.done; err == nil {
				t.Fatal("the failing op succeeded")
			}
			// Then a batch that succeeds whole, and a write of its own.
			last := appends("d1")
			s.batch.run([]*writeOp{appends("c4"), last})
			if err := <-last.done; err != nil {
				t.Fatal(err)
			}
			if err := s.AppendAudit(ctx, event("e1")); err != nil {
				t.Fatal(err)
			}
			events, err := s.ListAudit(ctx, authn.AuditFilter{})
			if err != nil {
				t.Fatal(err)
			}
			var reasons []string
			for _, e := range events {
				if e.Action == "test" {
					reasons = append(reasons, e.Reason)
				}
			}
			if _, seq, err := authn.VerifyChain([32]byte{}, 0, events); err != nil || seq != int64(len(events)) {
				t.Fatalf("chain verified to %d of %d events: %v (%v)", seq, len(events), err, reasons)
			}
			want := map[string]bool{"a1": true, "a2": true, "b1": true, "c1": true, "c2": true, "c3": true, "c4": true, "d1": true, "e1": true}
			for _, r := range reasons {
				if !want[r] {
					t.Errorf("event %q in the log", r)
				}
				delete(want, r)
			}
			if len(want) > 0 {
				t.Errorf("events missing: %v (log: %v)", want, reasons)
			}
		})
	}
}
