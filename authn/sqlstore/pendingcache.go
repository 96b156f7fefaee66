package sqlstore

import (
	"slices"
	"sync"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// maxPendingCache caps the pending sign-ins kept in memory (a few hundred
// bytes each, a key's ceremony about a kilobyte): when full, the expired
// ones go, and if that is not enough the cache starts again empty.
const maxPendingCache = 50_000

// pendingCache keeps the pending sign-ins this process stored until they
// are taken or expire, so that the next step of a sign-in, seconds later,
// reads it from memory rather than from the database. It is only a cache of
// reads: every step that uses a pending sign-in takes it in the database in
// the same write that stores what follows, so an entry that another process
// took meanwhile costs some work and is then refused as expired there.
type pendingCache struct {
	mu sync.Mutex // guards m
	m  map[authn.PendingHash]authn.Pending
}

func newPendingCache() *pendingCache {
	return &pendingCache{m: make(map[authn.PendingHash]authn.Pending)}
}

// get returns the pending sign-in with hash h if it is kept and not
// expired at now, with slices of its own.
func (c *pendingCache) get(h authn.PendingHash, now time.Time) (authn.Pending, bool) {
	c.mu.Lock()
	p, ok := c.m[h]
	if ok && !now.Before(p.ExpiresAt) {
		delete(c.m, h)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return authn.Pending{}, false
	}
	p.AMR, p.Ceremony = cloneOrNil(p.AMR), cloneOrNil(p.Ceremony)
	return p, true
}

// put keeps a copy of p, stored in the database, as the database gives it
// back: times in UTC to the microsecond, empty lists nil.
func (c *pendingCache) put(p authn.Pending) {
	p.AMR, p.Ceremony = cloneOrNil(p.AMR), cloneOrNil(p.Ceremony)
	p.CreatedAt = p.CreatedAt.UTC().Truncate(time.Microsecond)
	p.ExpiresAt = p.ExpiresAt.UTC().Truncate(time.Microsecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxPendingCache {
		for h, q := range c.m {
			if !p.CreatedAt.Before(q.ExpiresAt) {
				delete(c.m, h)
			}
		}
		if len(c.m) >= maxPendingCache*9/10 {
			c.m = make(map[authn.PendingHash]authn.Pending)
		}
	}
	c.m[p.Hash] = p
}

// drop forgets the pending sign-in with hash h, before it is taken.
func (c *pendingCache) drop(h authn.PendingHash) {
	c.mu.Lock()
	delete(c.m, h)
	c.mu.Unlock()
}

// cloneOrNil copies s, or returns nil if it is empty.
func cloneOrNil[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}
