package authn

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// LastSeenInterval is how often, at most, a session's last_seen is written.
const LastSeenInterval = time.Minute

// LastSeen records that sessions were used, off the request's path: Seen
// returns at once, and a background loop writes each session's last_seen at
// most once per LastSeenInterval. A lost write only makes the idle timeout
// count from a little earlier, never later.
type LastSeen struct {
	store  SessionStore
	logger *slog.Logger

	mu      sync.Mutex                // guards pending and written
	pending map[SessionHash]time.Time // waiting for the next flush
	written map[SessionHash]time.Time // last time queued per session, to skip repeats
}

// NewLastSeen returns a LastSeen writing to store; call Run to start writing.
func NewLastSeen(store SessionStore, logger *slog.Logger) *LastSeen {
	if logger == nil {
		logger = slog.Default()
	}
	return &LastSeen{
		store:   store,
		logger:  logger,
		pending: make(map[SessionHash]time.Time),
		written: make(map[SessionHash]time.Time),
	}
}

// Seen notes that s was used at now. It never blocks on the database.
func (l *LastSeen) Seen(s Session, now time.Time) {
	if now.Sub(s.LastSeenAt) < LastSeenInterval {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if last, ok := l.written[s.Hash]; ok && now.Sub(last) < LastSeenInterval {
		return
	}
	l.written[s.Hash] = now
	l.pending[s.Hash] = now
}

// Run writes pending last_seen values every tick until ctx ends, then writes
// what is left once more.
func (l *LastSeen) Run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			l.Flush(flushCtx)
			cancel()
			return
		case <-t.C:
			l.Flush(ctx)
		}
	}
}

// Flush writes every pending last_seen now.
func (l *LastSeen) Flush(ctx context.Context) {
	l.mu.Lock()
	batch := l.pending
	l.pending = make(map[SessionHash]time.Time, len(batch))
	now := time.Now()
	for h, at := range l.written {
		if now.Sub(at) >= LastSeenInterval {
			delete(l.written, h)
		}
	}
	l.mu.Unlock()
	// Writes run side by side so that the store commits them together.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for h, at := range batch {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := l.store.TouchSession(ctx, h, at)
			if err != nil && !errors.Is(err, ErrNotForward) && !errors.Is(err, ErrNotFound) {
				l.logger.Warn("could not record when a session was last used", "err", err)
			}
		})
	}
	wg.Wait()
}
