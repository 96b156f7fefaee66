package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// maxBatch caps how many writes share one transaction.
const maxBatch = 256

// batchTimeout bounds one batch transaction, so that a database that stops
// answering fails the waiting writes instead of holding them for ever.
const batchTimeout = 30 * time.Second

// errClosed is returned for writes submitted after Close.
var errClosed = errors.New("store is closed")

// writeOp is one durable write submitted to the batcher.
type writeOp struct {
	ctx context.Context // the caller's: an op whose caller gave up before its batch starts is skipped
	// run performs the write in tx. It may run twice (once in a batch, once
	// alone), so it must take everything it needs from its arguments and
	// the database. An error wrapped by soft leaves tx usable and is the
	// op's result; any other error fails the batch.
	run func(ctx context.Context, tx *sql.Tx) error
	// head: run appends to the audit chain, so the batch must lock the
	// chain's head before anything else (see Store.lockAuditHead).
	head bool
	// onCommit, if set, runs after the op's transaction committed.
	onCommit func()
	done     chan error // buffered: the batcher never blocks on it
}

// softError is an op's result that changed nothing and left the
// transaction usable: "not found", "not forward", "already exists" found
// without a failed statement.
type softError struct{ err error }

func (e softError) Error() string { return e.err.Error() }
func (e softError) Unwrap() error { return e.err }

// soft marks err as an op's own result that does not fail its batch.
func soft(err error) error { return softError{err} }

// batcher commits concurrently submitted writes together: one goroutine
// takes every op waiting (up to maxBatch) and runs them in one transaction,
// then acknowledges each after COMMIT. While one batch commits, the next
// one gathers. If an op fails the transaction, each op of the batch is run
// again alone, so one bad op cannot fail the others.
type batcher struct {
	db *sql.DB
	// local: the database is a local file (SQLite), whose statements run
	// without a cancellable context (Store.quick), and so without the
	// batch timeout, which is for a server that stops answering.
	local    bool
	lockHead func(ctx context.Context, tx *sql.Tx) error
	// flushTail moves the audit chain's head once per batch, before COMMIT
	// (see appendAudit).
	flushTail func(ctx context.Context, t *auditTail) error
	// current is the audit tail of the transaction running, whatever
	// context its ops use (tail).
	current atomic.Pointer[auditTail]
	ops     chan *writeOp
	quit    chan struct{}
	stopped chan struct{}

	mu     sync.RWMutex // guards closed; held for reading while submitting
	closed bool
}

func newBatcher(db *sql.DB, local bool, lockHead func(context.Context, *sql.Tx) error, flushTail func(context.Context, *auditTail) error) *batcher {
	b := &batcher{
		db:        db,
		local:     local,
		lockHead:  lockHead,
		flushTail: flushTail,
		ops:       make(chan *writeOp, maxBatch),
		quit:      make(chan struct{}),
		stopped:   make(chan struct{}),
	}
	go b.loop()
	return b
}

// do submits op and waits until it committed (nil), failed, or ctx ended.
// When ctx ends first the write may still commit.
func (b *batcher) do(op *writeOp) error {
	op.done = make(chan error, 1)
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return errClosed
	}
	select {
	case b.ops <- op:
	case <-op.ctx.Done():
		b.mu.RUnlock()
		return op.ctx.Err()
	}
	b.mu.RUnlock()
	select {
	case err := <-op.done:
		return err
	case <-op.ctx.Done():
		return op.ctx.Err()
	}
}

// close refuses new ops, commits the ones submitted, and stops the loop.
func (b *batcher) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	close(b.quit)
	<-b.stopped
}

func (b *batcher) loop() {
	defer close(b.stopped)
	batch := make([]*writeOp, 0, maxBatch)
	for {
		select {
		case op := <-b.ops:
			// Let the goroutines ready to run go first: on a busy server
			// some are about to submit, and join this batch's commit
			// (its fsync) instead of waiting for the next one. On an idle
			// one there are none, and nothing waits.
			runtime.Gosched()
			batch = b.gather(append(batch[:0], op))
			b.run(batch)
		case <-b.quit:
			for {
				batch = b.gather(batch[:0])
				if len(batch) == 0 {
					return
				}
				b.run(batch)
			}
		}
	}
}

// gather appends the ops waiting, without blocking, up to maxBatch.
func (b *batcher) gather(batch []*writeOp) []*writeOp {
	for len(batch) < maxBatch {
		select {
		case op := <-b.ops:
			batch = append(batch, op)
		default:
			return batch
		}
	}
	return batch
}

// run commits ops in one transaction, or each alone if that fails before
// COMMIT. If COMMIT itself fails, the outcome is unknown (the server may
// have committed), so every op gets the error rather than a second try that
// could apply it twice.
func (b *batcher) run(ops []*writeOp) {
	live := ops[:0]
	for _, op := range ops {
		if err := op.ctx.Err(); err != nil {
			op.done <- err
			continue
		}
		live = append(live, op)
	}
	if len(live) == 0 {
		return
	}
	ctx := context.Background()
	if !b.local {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, batchTimeout)
		defer cancel()
	}

	results, commitErr, err := b.runTx(ctx, live)
	switch {
	case err != nil && len(live) > 1:
		for _, op := range live {
			op.done <- b.runAlone(ctx, op)
		}
	case err != nil:
		live[0].done <- err
	case commitErr != nil:
		for _, op := range live {
			op.done <- fmt.Errorf("commit: %w", commitErr)
		}
	default:
		for i, op := range live {
			if results[i] == nil && op.onCommit != nil {
				op.onCommit()
			}
			op.done <- results[i]
		}
	}
}

// runTx runs ops in one transaction. It returns each op's soft result and
// the COMMIT error, or err if the transaction failed before COMMIT.
func (b *batcher) runTx(ctx context.Context, ops []*writeOp) (results []error, commitErr, err error) {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	for _, op := range ops {
		if op.head {
			if err := b.lockHead(ctx, tx); err != nil {
				return nil, nil, err
			}
			break
		}
	}
	tail := &auditTail{tx: tx}
	b.current.Store(tail)
	defer b.current.Store(nil)
	results = make([]error, len(ops))
	for i, op := range ops {
		err := op.run(ctx, tx)
		var se softError
		if err != nil && !errors.As(err, &se) {
			return nil, nil, err
		}
		if err != nil {
			results[i] = se.err
		}
	}
	if err := b.flushTail(ctx, tail); err != nil {
		return nil, nil, err
	}
	return results, tx.Commit(), nil
}

// tail returns the audit tail of tx if tx is the batch transaction running,
// else nil.
func (b *batcher) tail(tx *sql.Tx) *auditTail {
	if b == nil {
		return nil
	}
	if t := b.current.Load(); t != nil && t.tx == tx {
		return t
	}
	return nil
}

// runAlone runs op in a transaction of its own.
func (b *batcher) runAlone(ctx context.Context, op *writeOp) error {
	results, commitErr, err := b.runTx(ctx, []*writeOp{op})
	switch {
	case err != nil:
		return err
	case commitErr != nil:
		return fmt.Errorf("commit: %w", commitErr)
	}
	if results[0] == nil && op.onCommit != nil {
		op.onCommit()
	}
	return results[0]
}
