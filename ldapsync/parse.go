package ldapsync

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The parsers of values the directory sends. Each refuses what it does not
// understand instead of guessing; fuzz targets in parse_test.go.

// guidString converts AD's objectGUID (16 bytes) to its canonical string
// form. The first three fields are stored little-endian, the last two as
// they are ([MS-DTYP] §2.3.4.2), so the bytes of t52RM3loHkeQro/Vp/kUUw==
// read as 33919db7-6879-471e-90ae-8fd5a7f91453.
func guidString(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("objectGUID has %d bytes, not 16", len(b))
	}
	var o [16]byte
	o[0], o[1], o[2], o[3] = b[3], b[2], b[1], b[0]
	o[4], o[5] = b[5], b[4]
	o[6], o[7] = b[7], b[6]
	copy(o[8:], b[8:])
	h := hex.EncodeToString(o[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// guidBytes is the inverse of guidString: the 16 bytes AD stores for a
// canonical GUID string (for <GUID=…> lookups and for test servers).
func guidBytes(s string) ([]byte, error) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return nil, fmt.Errorf("%q is not a GUID", s)
	}
	o, err := hex.DecodeString(s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:])
	if err != nil {
		return nil, fmt.Errorf("%q is not a GUID", s)
	}
	b := make([]byte, 16)
	b[0], b[1], b[2], b[3] = o[3], o[2], o[1], o[0]
	b[4], b[5] = o[5], o[4]
	b[6], b[7] = o[7], o[6]
	copy(b[8:], o[8:])
	return b, nil
}

// canonicalUUID checks a UUID in text (entryUUID) and returns it in lower
// case.
func canonicalUUID(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if _, err := guidBytes(s); err != nil {
		return "", fmt.Errorf("%q is not a UUID", s)
	}
	return s, nil
}

// fileTimeEpoch is 1601-01-01, where Windows FILETIME counts from.
var fileTimeEpoch = time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)

// parseFileTime reads AD's accountExpires: 100-nanosecond intervals since
// 1601-01-01 UTC as a decimal integer. 0 and 2^63−1 mean never: the zero
// time.
func parseFileTime(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a FILETIME", s)
	}
	if n == 0 || n == math.MaxInt64 {
		return time.Time{}, nil
	}
	if n < 0 {
		return time.Time{}, fmt.Errorf("FILETIME %d is negative", n)
	}
	// Whole seconds and the rest: ticks do not fit a time.Duration.
	const unixOffset = 11_644_473_600 // seconds from 1601-01-01 to 1970-01-01
	return time.Unix(n/10_000_000-unixOffset, n%10_000_000*100).UTC(), nil
}

// parseShadowExpire reads shadowExpire (days since 1970-01-01). -1 means
// never: the zero time. 0 is 1970-01-01, i.e. expired, as pam_unix reads it
// (`chage -E 0` locks an account).
func parseShadowExpire(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a number of days", s)
	}
	if n == -1 {
		return time.Time{}, nil
	}
	if n < -1 {
		return time.Time{}, fmt.Errorf("shadowExpire %d is negative", n)
	}
	return time.Unix(n*86400, 0).UTC(), nil
}

// parseGeneralizedTime reads an LDAP GeneralizedTime (RFC 4517 §3.3.13):
// YYYYMMDDHH[MM[SS]][(.|,)fraction](Z|±HH[MM]). The year may be 0000
// (ppolicy's "locked for good" value 000001010000Z).
func parseGeneralizedTime(s string) (time.Time, error) {
	bad := fmt.Errorf("%q is not a generalized time", s)
	digits := func(p string) (int, bool) {
		n := 0
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return 0, false
			}
			n = n*10 + int(p[i]-'0')
		}
		return n, len(p) > 0
	}
	if len(s) < 11 {
		return time.Time{}, bad
	}
	var f [6]int // year, month, day, hour, minute, second
	pos := 0
	for i, w := range []int{4, 2, 2, 2, 2, 2} {
		if i >= 4 && (pos+w > len(s) || s[pos] < '0' || s[pos] > '9') {
			break
		}
		if pos+w > len(s) {
			return time.Time{}, bad
		}
		n, ok := digits(s[pos : pos+w])
		if !ok {
			return time.Time{}, bad
		}
		f[i] = n
		pos += w
	}
	var frac time.Duration
	if pos < len(s) && (s[pos] == '.' || s[pos] == ',') {
		pos++
		start := pos
		for pos < len(s) && s[pos] >= '0' && s[pos] <= '9' {
			pos++
		}
		if pos == start || pos-start > 9 {
			return time.Time{}, bad
		}
		n, _ := digits(s[start:pos])
		for i := pos - start; i < 9; i++ {
			n *= 10
		}
		frac = time.Duration(n)
	}
	if f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 || f[5] > 60 {
		return time.Time{}, bad
	}
	loc := time.UTC
	switch rest := s[pos:]; {
	case rest == "Z":
	case len(rest) == 3 || len(rest) == 5:
		if rest[0] != '+' && rest[0] != '-' {
			return time.Time{}, bad
		}
		h, ok1 := digits(rest[1:3])
		m, ok2 := 0, true
		if len(rest) == 5 {
			m, ok2 = digits(rest[3:5])
		}
		if !ok1 || !ok2 || h > 23 || m > 59 {
			return time.Time{}, bad
		}
		off := h*3600 + m*60
		if rest[0] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
	default:
		return time.Time{}, bad
	}
	t := time.Date(f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], 0, loc).Add(frac)
	if t.Day() != f[2] && f[5] != 60 {
		return time.Time{}, bad // 31 February and the like
	}
	return t.UTC(), nil
}

// lockedForGoodValue reports whether the text of a pwdAccountLockedTime
// is ppolicy's "locked for good" (000001010000Z, in any form of that
// generalized time). The reader and the Verifier both go by it.
func lockedForGoodValue(v string) bool {
	t, err := parseGeneralizedTime(v)
	return err == nil && lockedForGood(t)
}

// lockedForGood reports whether a pwdAccountLockedTime value is ppolicy's
// "locked by an administrator, no automatic unlock" value 000001010000Z.
func lockedForGood(t time.Time) bool {
	return t.Year() == 0 && t.Month() == 1 && t.Day() == 1 && t.Hour() == 0 && t.Minute() == 0
}

// errNoRange: the attribute description carries no range option.
var errNoRange = errors.New("no range option")

// parseRange reads AD's range retrieval option from an attribute description
// such as "member;range=0-1499" or "member;range=1500-*": the attribute's
// name, the first index and the last (-1 for "*", the final chunk).
func parseRange(desc string) (attr string, low, high int, err error) {
	parts := strings.Split(desc, ";")
	attr = parts[0]
	found := false
	for _, p := range parts[1:] {
		v, ok := strings.CutPrefix(strings.ToLower(p), "range=")
		if !ok {
			continue
		}
		if found {
			return "", 0, 0, fmt.Errorf("%q has two range options", desc)
		}
		found = true
		l, h, ok := strings.Cut(v, "-")
		if !ok {
			return "", 0, 0, fmt.Errorf("%q: range without '-'", desc)
		}
		low, err = strconv.Atoi(l)
		if err != nil || low < 0 || l[0] == '+' {
			return "", 0, 0, fmt.Errorf("%q: bad range start", desc)
		}
		if h == "*" {
			high = -1
		} else {
			high, err = strconv.Atoi(h)
			if err != nil || high < low || h[0] == '+' {
				return "", 0, 0, fmt.Errorf("%q: bad range end", desc)
			}
		}
	}
	if !found {
		return attr, 0, 0, errNoRange
	}
	return attr, low, high, nil
}

// groupSIDKey returns the key of a group's primary-group membership from
// its binary security identifier (MS-DTYP 2.4.2.2: revision, count of
// sub-authorities, a 6-byte authority, then the sub-authorities as
// little-endian uint32; the RID is the last one): its domain part (the
// authority and every sub-authority but the last, in hex) and its RID in
// decimal, as primaryGroupID holds it.
func groupSIDKey(sid []byte) (string, bool) {
	if len(sid) < 12 || sid[0] != 1 || sid[1] == 0 || len(sid) != 8+4*int(sid[1]) {
		return "", false
	}
	rid := binary.LittleEndian.Uint32(sid[len(sid)-4:])
	return hex.EncodeToString(sid[2:len(sid)-4]) + "/" + strconv.FormatUint(uint64(rid), 10), true
}

// primaryGroupKey is groupSIDKey of a person's primary group: her own
// objectSid's domain part and her primaryGroupID. A RID is unique only
// within its domain: with a Global Catalog, or several domains under the
// base DNs, 513 is every domain's Domain Users.
func primaryGroupKey(personSID []byte, primaryGroupID string) (string, bool) {
	n, err := strconv.ParseUint(primaryGroupID, 10, 32)
	if err != nil {
		return "", false
	}
	own, ok := groupSIDKey(personSID)
	if !ok {
		return "", false
	}
	return own[:strings.IndexByte(own, '/')+1] + strconv.FormatUint(n, 10), true
}
