package authn

import (
	"context"
	"fmt"
	"net/netip"
	"time"
)

// A throttle rule allows limit tries per window under one counter.
type throttleRule struct {
	suffix string // appended to the key; "" for the shortest window
	window time.Duration
	limit  int
}

// Per account: at most 10 failed tries per 15 minutes, 30 per day and 80
// per 30 days, so that a year of guessing yields at most 80 × 365/30 ≈ 973
// tries (< 1,000), and the delays grow from 15 minutes to a day to a month.
// App codes, recovery codes and passwords count separately. App and
// recovery codes count so only from browsers that are strangers to the
// account; a browser she signed in on counts under its own device
// counter, with the same windows (deviceKeys).
var accountRules = []throttleRule{
	{"", 15 * time.Minute, 10},
	{"/1d", 24 * time.Hour, 30},
	{"/30d", 30 * 24 * time.Hour, 80},
}

// Per client address, across accounts: generous enough for a city hall
// behind one NAT, tight enough to stop a spray of guesses.
var addrRules = []throttleRule{
	{"", 15 * time.Minute, 100},
	{"/1d", 24 * time.Hour, 1000},
}

// Throttle key prefixes. The key of the shortest window is the prefix and
// the canonical username (or client address); longer windows add a suffix.
const (
	throttle2FA      = "2fa:u:" // app codes
	throttleRecovery = "rc:u:"  // recovery codes
	throttlePwd      = "pwd:u:"
	throttleAddr     = "ip:"
	// A browser's own counters, one per kind of code, by the person's id
	// and its device id (DeviceMark): "2fa:d:<user id>:<device id>", so
	// that IT's unlock and erasure find all of hers by the prefix
	// (DeviceThrottlePrefixes). Counters of the first form, without the
	// person ("2fa:d:<device id>"), are no longer read and lapse.
	throttle2FADevice      = "2fa:d:"
	throttleRecoveryDevice = "rc:d:"
)

// DeviceThrottlePrefixes returns the key prefixes of all counters of the
// person with userID's browsers (ResetThrottlePrefix on each), for a
// helpdesk "unlock" and erasure.
func DeviceThrottlePrefixes(userID string) []string {
	return []string{throttle2FADevice + userID + ":", throttleRecoveryDevice + userID + ":"}
}

// PasswordThrottleKey is the counter of a person's wrong passwords in the
// shortest window, shared by sign-in and enrollment: a directory counts
// every wrong password, wherever Keyhall asked for it.
func PasswordThrottleKey(username string) string { return throttlePwd + username }

// ThrottleKeys returns every throttle key of an account, for a helpdesk
// "unlock" (ResetThrottle on each); her browsers' own counters are found
// by DeviceThrottlePrefixes.
func ThrottleKeys(username string) []string {
	var keys []string
	for _, prefix := range []string{throttle2FA, throttlePwd, throttleRecovery} {
		for _, r := range accountRules {
			keys = append(keys, prefix+username+r.suffix)
		}
	}
	return keys
}

// passwordKeys is throttleKeys for a password, with the configured limit
// of its shortest window (SignInConfig.PasswordLimit, PasswordWindow).
func (s *SignIn) passwordKeys(username, addr string) []hitKey {
	keys := throttleKeys(throttlePwd, username, addr)
	keys[0].rule = s.pwdRule
	return keys
}

// DeviceMark is what a browser's device cookie says (OWASP, "Slow Down
// Online Guessing Attacks with Device Cookies"): that this browser signed
// in as the person with UserID before, under the random device id ID. web
// seals it at each completed sign-in and hands it back, opened, with every
// step (ClientInfo.Device); the zero DeviceMark is a browser without one.
type DeviceMark struct{ UserID, ID string }

// codeKeys returns the counters a try at an app code (prefix throttle2FA)
// or a recovery code (throttleRecovery) of p from c counts under. A
// browser that presents p's person's device mark counts under its own
// counters, not the account's: a stranger's wrong codes, counted under
// the account's, then never lock her out of the browsers she signed in on.
// A device that is itself over a limit is no longer trusted: its tries
// count under the account's counters, as a stranger's (and, from it, the
// account's limits apply too).
func (s *SignIn) codeKeys(ctx context.Context, prefix string, p Pending, c ClientInfo) ([]hitKey, error) {
	d := c.Device
	if d.ID == "" || p.UserID == "" || d.UserID != p.UserID {
		return throttleKeys(prefix, p.Username, c.Addr), nil
	}
	devPrefix := throttle2FADevice
	if prefix == throttleRecovery {
		devPrefix = throttleRecoveryDevice
	}
	keys := throttleKeys(devPrefix, d.UserID+":"+d.ID, c.Addr)
	for _, k := range keys[:len(accountRules)] {
		n, err := s.store.ThrottleCount(ctx, k.key, s.now(), k.rule.window)
		if err != nil {
			return nil, fmt.Errorf("count device's tries: %w", err)
		}
		if n >= k.rule.limit {
			// Locked: counted as a stranger's, and still under its own.
			return append(throttleKeys(prefix, p.Username, c.Addr), keys[:len(accountRules)]...), nil
		}
	}
	return keys, nil
}

// hitKey is one counter of one try.
type hitKey struct {
	key  string
	rule throttleRule
}

// throttleKeys returns the counters a try at a guessable secret of username
// from addr counts under.
func throttleKeys(prefix, username, addr string) []hitKey {
	var keys []hitKey
	for _, r := range accountRules {
		keys = append(keys, hitKey{prefix + username + r.suffix, r})
	}
	if addr != "" {
		addr = addrBlock(addr)
		for _, r := range addrRules {
			keys = append(keys, hitKey{throttleAddr + addr + r.suffix, r})
		}
	}
	return keys
}

// hitThrottle counts one try under every key BEFORE the secret is compared,
// so that parallel guesses are all counted, in one transaction. It returns
// how long to wait when any counter is over its limit (0 when the try may go
// ahead); then the caller must not compare at all, so right and wrong
// answers look the same. first tells that this try took a counter over its
// limit (the first refused one of its window), so that a refusal is
// audited once a window, not once a try.
func (s *SignIn) hitThrottle(ctx context.Context, keys []hitKey) (wait time.Duration, first bool, err error) {
	tk := make([]ThrottleKey, len(keys))
	for i, k := range keys {
		tk[i] = ThrottleKey{Key: k.key, Window: k.rule.window}
	}
	counts, err := s.store.HitThrottles(ctx, tk, s.now())
	if err != nil {
		return 0, false, fmt.Errorf("count try: %w", err)
	}
	for i, k := range keys {
		if counts[i] > k.rule.limit {
			wait = max(wait, k.rule.window)
			first = first || counts[i] == k.rule.limit+1
		}
	}
	return wait, first, nil
}

// undoThrottle takes back the hits of a right answer, so only failures count.
func (s *SignIn) undoThrottle(ctx context.Context, keys []hitKey) error {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.key
	}
	if err := s.store.UndoThrottles(ctx, names); err != nil {
		return fmt.Errorf("take back try: %w", err)
	}
	return nil
}

// addrBlock is the block a client address counts under: an IPv4 address
// alone, an IPv6 address by its /64, which one subscriber holds whole
// (review of #15: counted per /128, one attacker had 2^64 addresses to
// spread guesses over). Anything else is kept as it is.
func addrBlock(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	if ip = ip.Unmap(); ip.Is4() {
		return ip.String()
	}
	p, err := ip.WithZone("").Prefix(64)
	if err != nil {
		return addr
	}
	return p.String()
}
