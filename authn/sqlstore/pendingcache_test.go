package sqlstore

import (
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestPendingCache: an entry is a copy (changing what was put or got does
// not change it), expires with its pending sign-in, and is gone once
// dropped; a full cache makes room by dropping the expired ones first.
func TestPendingCache(t *testing.T) {
	c := newPendingCache()
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 123456789, time.UTC)
	p := authn.Pending{Hash: authn.PendingHash{1}, UserID: "u", AMR: []string{"hwk"}, Ceremony: []byte("{}"),
		CreatedAt: t0, ExpiresAt: t0.Add(authn.PendingLifetime)}
	c.put(p)
	p.AMR[0], p.Ceremony[0] = "changed", 'x'
	got, ok := c.get(p.Hash, t0)
	if !ok || got.AMR[0] != "hwk" || string(got.Ceremony) != "{}" || !got.CreatedAt.Equal(t0.Truncate(time.Microsecond)) {
		t.Fatalf("get = %+v, %t; want the pending sign-in as put, to the microsecond", got, ok)
	}
	got.AMR[0] = "changed"
	if again, _ := c.get(p.Hash, t0); again.AMR[0] != "hwk" {
		t.Error("changing what get returned changed the cache")
	}
	if _, ok := c.get(p.Hash, p.ExpiresAt); ok {
		t.Error("an expired pending sign-in was returned")
	}
	c.put(p)
	c.drop(p.Hash)
	if _, ok := c.get(p.Hash, t0); ok {
		t.Error("a dropped pending sign-in was returned")
	}

	// Fill the cache to its limit, every other entry expiring soon.
	full := maxPendingCache / pendingSize(p)
	for i := range full {
		q := p
		q.Hash = authn.PendingHash{byte(i), byte(i >> 8), byte(i >> 16), 2}
		if i%2 == 0 {
			q.ExpiresAt = t0.Add(time.Second) // expired by the time the cache is full
		}
		c.put(q)
	}
	if len(c.m) != full || c.size != full*pendingSize(p) {
		t.Fatalf("filled: %d entries of %d bytes, want %d of %d", len(c.m), c.size, full, full*pendingSize(p))
	}
	later := p
	later.Hash, later.CreatedAt, later.ExpiresAt = authn.PendingHash{3}, t0.Add(time.Minute), t0.Add(time.Hour)
	c.put(later)
	if n, live := len(c.m), full-(full+1)/2; n != live+1 || c.size != n*pendingSize(p) {
		t.Errorf("after putting into a full cache: %d entries (%d bytes), want the %d live ones and the new one", n, c.size, live)
	}
	c.drop(later.Hash)
	c.put(later)
	c.put(later)
	if n, live := len(c.m), full-(full+1)/2; n != live+1 || c.size != n*pendingSize(p) {
		t.Errorf("after dropping and putting one twice: %d entries (%d bytes)", n, c.size)
	}
}
