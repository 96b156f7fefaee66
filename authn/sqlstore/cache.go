package sqlstore

import (
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
// reader takes the generation before it reads and put refuses the entry if
// any session was dropped since.
type sessionCache struct {
	ttl  time.Duration
	size int

	mu      sync.Mutex // guards entries and gen
	entries map[authn.SessionHash]cacheEntry
	gen     uint64 // bumped by every drop
}

type cacheEntry struct {
	s       authn.Session
	expires time.Time // monotonic
}

func newSessionCache(ttl time.Duration, size int) *sessionCache {
	return &sessionCache{ttl: ttl, size: size, entries: make(map[authn.SessionHash]cacheEntry)}
}

// cacheTicket is what a miss hands to put: the generation and the time
// before the database read, so that an entry's age counts from before the
// read and a slow read cannot stretch it past ttl.
type cacheTicket struct {
	gen uint64
	at  time.Time // monotonic
}

// get returns a live entry for h, or the ticket to pass to put.
func (c *sessionCache) get(h authn.SessionHash) (s authn.Session, ok bool, t cacheTicket) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[h]
	if ok && now.Before(e.expires) {
		return e.s, true, cacheTicket{}
	}
	if ok {
		delete(c.entries, e.s.Hash)
	}
	return authn.Session{}, false, cacheTicket{gen: c.gen, at: now}
}

// put stores s unless a session was dropped since t was taken.
func (c *sessionCache) put(s authn.Session, t cacheTicket) {
	expires := t.at.Add(c.ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.gen != c.gen || !time.Now().Before(expires) {
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

// drop forgets the session with hash h.
func (c *sessionCache) drop(h authn.SessionHash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, h)
}

// dropUser forgets every session of a person.
func (c *sessionCache) dropUser(userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for h, e := range c.entries {
		if e.s.UserID == userID {
			delete(c.entries, h)
		}
	}
}
