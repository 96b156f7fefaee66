package authn

import "testing"

// TestThrottleAddressBlock (review of #15): guesses from one IPv6 /64 count
// on one counter, as from one IPv4 address; other blocks on their own.
func TestThrottleAddressBlock(t *testing.T) {
	key := func(addr string) string {
		keys := throttleKeys(throttle2FA, "anna", addr)
		return keys[len(accountRules)].key // the first address counter
	}
	same := [][2]string{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe"},
		{"2001:db8:1:2::1%eth0", "2001:db8:1:2::7"},
		{"192.0.2.7", "::ffff:192.0.2.7"},
	}
	for _, p := range same {
		if key(p[0]) != key(p[1]) {
			t.Errorf("%s and %s count apart: %s, %s", p[0], p[1], key(p[0]), key(p[1]))
		}
	}
	for _, p := range [][2]string{{"2001:db8:1:2::1", "2001:db8:1:3::1"}, {"192.0.2.7", "192.0.2.8"}} {
		if key(p[0]) == key(p[1]) {
			t.Errorf("%s and %s count together: %s", p[0], p[1], key(p[0]))
		}
	}
}
