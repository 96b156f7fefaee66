package web

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// identityTTL bounds how long a change to a person (status, name, groups)
// takes to reach this process's answers; with the store's session cache it
// keeps every answer within authn.SessionCacheTTL of the database.
const identityTTL = 900 * time.Millisecond

// identities caches people and their group names by user id for
// identityTTL, so that a session check (forward-auth above all) costs no
// database read on the hot path. When an entry runs out under load, the
// requests that miss it together share one read of the store instead of
// each reading the person again.
type identities struct {
	mu      sync.Mutex // guards entries and loads
	entries map[string]*identity
	loads   map[string]*identityLoad // reads under way, by user id
}

// identity is a person and her groups as the store had them at a moment,
// with the values verify sends about her worked out once. It is never
// changed after it is made: requests share it.
type identity struct {
	user   authn.User
	groups []string // names
	remote remoteHeaders
	at     time.Time // before the read: an entry's age counts from here
}

// remoteHeaders are the values of the Remote-* headers verify answers with,
// as one-element slices assigned to a response as they are (as
// securityHeaders does): no work and no allocation per request. Never
// modify them.
type remoteHeaders struct {
	user, name, email, groups []string
}

func newIdentity(u authn.User, groups []string, at time.Time) *identity {
	return &identity{user: u, groups: groups, at: at, remote: remoteHeaders{
		user:   []string{u.Username},
		name:   []string{headerSafe(u.DisplayName)},
		email:  []string{headerSafe(u.Email)},
		groups: []string{strings.Join(groups, ",")},
	}}
}

// identityLoad is one read of a person under way; done is closed when
// id and err are set.
type identityLoad struct {
	done chan struct{}
	at   time.Time // when the read began
	id   *identity
	err  error
}

// maxIdentities caps the cache; past it, it starts again empty.
const maxIdentities = 100_000

// identityFresh reports whether what was read at at may still be used at now.
func identityFresh(at, now time.Time) bool {
	return now.Sub(at) < identityTTL && !now.Before(at)
}

// get returns the person with id from the cache or, when it has none that
// is fresh, through read: the first request to miss reads, the others that
// miss meanwhile wait for its answer. If that read fails for another reason
// than ErrNotFound (say the first request was cancelled), each waiting
// request reads for itself.
func (c *identities) get(ctx context.Context, id string, read func(context.Context) (*identity, error)) (*identity, error) {
	now := time.Now()
	c.mu.Lock()
	if e, ok := c.entries[id]; ok && identityFresh(e.at, now) {
		c.mu.Unlock()
		return e, nil
	}
	if l, ok := c.loads[id]; ok && identityFresh(l.at, now) {
		c.mu.Unlock()
		return c.wait(ctx, l, read)
	}
	// Until read returns, the answer is an error: should it panic, the
	// waiters read for themselves rather than take no one.
	l := &identityLoad{done: make(chan struct{}), at: now, err: errReadUnfinished}
	if c.loads == nil {
		c.loads = make(map[string]*identityLoad)
	}
	c.loads[id] = l
	c.mu.Unlock()
	defer c.finish(id, l)
	l.id, l.err = read(ctx)
	return l.id, l.err
}

// errReadUnfinished is the answer of a shared read that ended in a panic.
var errReadUnfinished = errors.New("read of the person did not finish")

// finish caches the answer of the read l and hands it to the requests
// waiting for it.
func (c *identities) finish(id string, l *identityLoad) {
	c.mu.Lock()
	if c.loads[id] == l {
		delete(c.loads, id)
	}
	if l.err == nil {
		c.put(l.id)
	}
	c.mu.Unlock()
	close(l.done)
}

// wait returns the answer of the read l, or reads itself when that read
// failed for another reason than ErrNotFound.
func (c *identities) wait(ctx context.Context, l *identityLoad, read func(context.Context) (*identity, error)) (*identity, error) {
	select {
	case <-l.done:
	case <-ctx.Done():
		return nil, ctx.Err() // the caller says what it was reading
	}
	if l.err != nil && !errors.Is(l.err, authn.ErrNotFound) {
		return read(ctx)
	}
	return l.id, l.err
}

// put stores e. c.mu must be held.
func (c *identities) put(e *identity) {
	if c.entries == nil || len(c.entries) >= maxIdentities {
		c.entries = make(map[string]*identity)
	}
	c.entries[e.user.ID] = e
}

// identity returns the person with id and her groups, from the cache or the store.
func (s *Server) identity(ctx context.Context, st authn.Store, id string) (*identity, error) {
	return s.people.get(ctx, id, func(ctx context.Context) (*identity, error) {
		at := time.Now()
		u, err := st.GetUser(ctx, id)
		if err != nil {
			return nil, err
		}
		gs, err := st.UserGroups(ctx, id)
		if err != nil {
			return nil, err
		}
		names := make([]string, len(gs))
		for i, g := range gs {
			names[i] = g.Name
		}
		return newIdentity(u, names, at), nil
	})
}
