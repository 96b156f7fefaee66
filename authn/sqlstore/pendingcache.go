package sqlstore

import (
	"slices"
	"sync"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// maxPendingCache caps the memory the kept pending sign-ins take, as
// counted by pendingSize (a few hundred bytes each, a key's ceremony about
// a kilobyte more; a flood of POST /login cannot take more than this): when
// full, the expired ones go, and if that is not enough the cache starts
// again empty.
const maxPendingCache = 32 << 20

// pendingSize is about the memory one kept pending sign-in takes.
func pendingSize(p authn.Pending) int {
	n := 256 + len(p.UserID) + len(p.Username) + len(p.Ceremony) + len(p.ReturnTo)
	for _, m := range p.AMR {
		n += 16 + len(m)
	}
	return n
}

// pendingCache keeps the pending sign-ins this process stored until they
// are taken or expire, so that the next step of a sign-in, seconds later,
// reads it from memory rather than from the database. It is only a cache of
// reads: every step that uses a pending sign-in takes it in the database in
// the same write that stores what follows, so an entry that another process
// took meanwhile costs some work and is then refused as expired there.
type pendingCache struct {
	mu   sync.Mutex // guards m and size
	m    map[authn.PendingHash]authn.Pending
	size int // the sum of pendingSize over m
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
		c.remove(h)
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
	if c.size+pendingSize(p) > maxPendingCache {
		for h, q := range c.m {
			if !p.CreatedAt.Before(q.ExpiresAt) {
				c.remove(h)
			}
		}
		if c.size > maxPendingCache*9/10 {
			c.m, c.size = make(map[authn.PendingHash]authn.Pending), 0
		}
	}
	c.remove(p.Hash)
	c.m[p.Hash] = p
	c.size += pendingSize(p)
}

// remove forgets the entry under h, if any; c.mu is held.
func (c *pendingCache) remove(h authn.PendingHash) {
	if q, ok := c.m[h]; ok {
		c.size -= pendingSize(q)
		delete(c.m, h)
	}
}

// drop forgets the pending sign-in with hash h, before it is taken.
func (c *pendingCache) drop(h authn.PendingHash) {
	c.mu.Lock()
	c.remove(h)
	c.mu.Unlock()
}

// cloneOrNil copies s, or returns nil if it is empty.
func cloneOrNil[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}
