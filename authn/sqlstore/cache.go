package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// Session cache bounds. Entries live a little less than
// authn.SessionCacheTTL, so that another process's revocation is seen within
// it even with some clock and scheduling slack.
const (
	defaultCacheTTL  = 900 * time.Millisecond
	defaultCacheSize = 100_000
)

// sessionCache holds recently read sessions for GetSession. An entry lives
// at most ttl and is dropped at once when this process changes the session.
//
// A read from the database that raced with a change must not be cached: the
// reader takes the generation before it reads and the entry is refused if
// any session was dropped since.
//
// When an entry runs out under load, the requests that miss it together
// share one read of the database (see load) instead of each reading it.
type sessionCache struct {
	ttl  time.Duration
	size int

	mu      sync.Mutex // guards entries, loads and gen
	entries map[authn.SessionHash]cacheEntry
	loads   map[authn.SessionHash]*sessionLoad // reads under way
	gen     uint64                             // bumped by every drop
}

type cacheEntry struct {
	s       authn.Session
	expires time.Time // monotonic
}

// sessionLoad is one read of a session from the database under way; done
// is closed once s and err are set.
type sessionLoad struct {
	done chan struct{}
	at   time.Time // before the read (monotonic): an entry's age counts from here
	s    authn.Session
	err  error
}

func newSessionCache(ttl time.Duration, size int) *sessionCache {
	return &sessionCache{ttl: ttl, size: size,
		entries: make(map[authn.SessionHash]cacheEntry), loads: make(map[authn.SessionHash]*sessionLoad)}
}

// load returns the session with hash h from the cache or, on a miss,
// through read, whose answer it caches. A request that misses while a read
// of the same session is under way waits for that read instead of starting
// another one; drop ends such sharing at once, so that a request that
// starts after a change through this Store reads afresh. A waiter whose
// read failed for another reason than ErrNotFound (the first request was
// cancelled, say) reads for itself.
func (c *sessionCache) load(ctx context.Context, h authn.SessionHash,
	read func(context.Context, authn.SessionHash) (authn.Session, error)) (authn.Session, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[h]
	if ok && now.Before(e.expires) {
		c.mu.Unlock()
		return e.s, nil
	}
	if ok {
		delete(c.entries, h)
	}
	if l, ok := c.loads[h]; ok && now.Before(l.at.Add(c.ttl)) {
		c.mu.Unlock()
		return l.wait(ctx, h, read)
	}
	// Until read returns, the answer is an error: should it panic, the
	// waiters read for themselves rather than take an empty session.
	l := &sessionLoad{done: make(chan struct{}), at: now, err: errReadUnfinished}
	c.loads[h] = l
	gen := c.gen
	c.mu.Unlock()
	defer c.finish(h, l, gen)
	l.s, l.err = read(ctx, h)
	return l.s, l.err
}

// errReadUnfinished is the answer of a shared read that ended in a panic.
var errReadUnfinished = errors.New("read of the session did not finish")

// finish caches the answer of the read l, begun at generation gen, and
// hands it to the requests waiting for it.
func (c *sessionCache) finish(h authn.SessionHash, l *sessionLoad, gen uint64) {
	c.mu.Lock()
	if c.loads[h] == l {
		delete(c.loads, h)
	}
	if l.err == nil {
		c.put(l.s, gen, l.at)
	}
	c.mu.Unlock()
	close(l.done)
}

// wait returns the answer of the read l, or reads itself when that read
// failed for another reason than ErrNotFound.
func (l *sessionLoad) wait(ctx context.Context, h authn.SessionHash,
	read func(context.Context, authn.SessionHash) (authn.Session, error)) (authn.Session, error) {
	select {
	case <-l.done:
	case <-ctx.Done():
		return authn.Session{}, fmt.Errorf("get session: %w", ctx.Err())
	}
	if l.err != nil && !errors.Is(l.err, authn.ErrNotFound) {
		return read(ctx, h)
	}
	return l.s, l.err
}

// put stores s, read at at, unless a session was dropped since the
// generation gen was taken or the entry would be out of date already.
// c.mu must be held.
func (c *sessionCache) put(s authn.Session, gen uint64, at time.Time) {
	expires := at.Add(c.ttl)
	if gen != c.gen || !time.Now().Before(expires) {
		return
	}
	if len(c.entries) >= c.size {
		c.evict()
	}
	c.entries[s.Hash] = cacheEntry{s: s, expires: expires}
}

// evict drops expired entries and, if that is not enough, about a tenth of
// the rest (in Go's random map order). c.mu must be held.
func (c *sessionCache) evict() {
	now := time.Now()
	for h, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, h)
		}
	}
	drop := len(c.entries) - c.size*9/10
	for h := range c.entries {
		if drop <= 0 {
			break
		}
		delete(c.entries, h)
		drop--
	}
}

// drop forgets the session with hash h, and lets no later request share a
// read of it that began before.
func (c *sessionCache) drop(h authn.SessionHash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, h)
	delete(c.loads, h)
}

// dropUser forgets every session of a person, and lets no later request
// share a read under way (whose person is not known before it ends).
func (c *sessionCache) dropUser(userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for h, e := range c.entries {
		if e.s.UserID == userID {
			delete(c.entries, h)
		}
	}
	clear(c.loads)
}
