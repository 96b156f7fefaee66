package web

import (
	"context"
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
// database read on the hot path.
type identities struct {
	mu      sync.Mutex // guards entries
	entries map[string]identity
}

type identity struct {
	user   authn.User
	groups []string // nil until asked for
	at     time.Time
}

// maxIdentities caps the cache; past it, it starts again empty.
const maxIdentities = 100_000

func (c *identities) get(id string, now time.Time) (identity, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || now.Sub(e.at) >= identityTTL || now.Before(e.at) {
		return identity{}, false
	}
	return e, true
}

func (c *identities) put(e identity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxIdentities {
		c.entries = make(map[string]identity)
	}
	c.entries[e.user.ID] = e
}

// user returns the person with id, from the cache or the store.
func (s *Server) user(ctx context.Context, st authn.Store, id string) (authn.User, error) {
	now := time.Now()
	if e, ok := s.people.get(id, now); ok {
		return e.user, nil
	}
	u, err := st.GetUser(ctx, id)
	if err != nil {
		return authn.User{}, err
	}
	s.people.put(identity{user: u, at: now})
	return u, nil
}

// groupNames returns the names of u's groups, from the cache or the store.
func (s *Server) groupNames(ctx context.Context, st authn.Store, u authn.User) ([]string, error) {
	now := time.Now()
	if e, ok := s.people.get(u.ID, now); ok && e.groups != nil {
		return e.groups, nil
	}
	gs, err := st.UserGroups(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.Name
	}
	s.people.put(identity{user: u, groups: names, at: now})
	return names, nil
}
