package ldapsync

import (
	"encoding/base64"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestGUIDString(t *testing.T) {
	b, _ := base64.StdEncoding.DecodeString("t52RM3loHkeQro/Vp/kUUw==")
	got, err := guidString(b)
	if err != nil || got != "33919db7-6879-471e-90ae-8fd5a7f91453" {
		t.Fatalf("guidString = %q, %v; want 33919db7-6879-471e-90ae-8fd5a7f91453", got, err)
	}
	back, err := guidBytes(got)
	if err != nil || string(back) != string(b) {
		t.Fatalf("guidBytes(%s) = %x, %v; want %x", got, back, err, b)
	}
	for _, n := range []int{0, 15, 17} {
		if _, err := guidString(make([]byte, n)); err == nil {
			t.Errorf("guidString of %d bytes: no error", n)
		}
	}
}

func FuzzGUID(f *testing.F) {
	b, _ := base64.StdEncoding.DecodeString("t52RM3loHkeQro/Vp/kUUw==")
	f.Add(b)
	f.Add([]byte{})
	f.Add(make([]byte, 17))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := guidString(b)
		if err != nil {
			return
		}
		if _, err := canonicalUUID(s); err != nil {
			t.Fatalf("guidString(%x) = %q, not a canonical UUID: %v", b, s, err)
		}
		back, err := guidBytes(s)
		if err != nil || string(back) != string(b) {
			t.Fatalf("round trip %x -> %s -> %x, %v", b, s, back, err)
		}
	})
}

func TestParseFileTime(t *testing.T) {
	cases := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"0", time.Time{}, false},
		{"9223372036854775807", time.Time{}, false},
		{"116444736000000000", time.Unix(0, 0).UTC(), false},
		{"133801632000000000", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"133801632000000001", time.Date(2025, 1, 1, 0, 0, 0, 100, time.UTC), false},
		{"-1", time.Time{}, true},
		{"", time.Time{}, true},
		{"12a", time.Time{}, true},
		{"9223372036854775808", time.Time{}, true},
	}
	for _, c := range cases {
		got, err := parseFileTime(c.in)
		if (err != nil) != c.err || !got.Equal(c.want) {
			t.Errorf("parseFileTime(%q) = %v, %v; want %v (error %v)", c.in, got, err, c.want, c.err)
		}
	}
}

func FuzzFileTime(f *testing.F) {
	for _, s := range []string{"0", "9223372036854775807", "133801632000000000", "-5", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseFileTime(s)
		if err != nil || got.IsZero() {
			return
		}
		n, _ := strconv.ParseInt(s, 10, 64)
		if n <= 0 || n == math.MaxInt64 {
			t.Fatalf("parseFileTime(%q) = %v, want never or an error", s, got)
		}
		if got.Before(fileTimeEpoch) || got.Year() > 30828 {
			t.Fatalf("parseFileTime(%q) = %v, outside FILETIME's range", s, got)
		}
		// Back to ticks: the same number.
		if ticks := (got.Unix()+11_644_473_600)*10_000_000 + int64(got.Nanosecond()/100); ticks != n {
			t.Fatalf("parseFileTime(%q) = %v = %d ticks", s, got, ticks)
		}
	})
}

func TestParseShadowExpire(t *testing.T) {
	if got, err := parseShadowExpire("-1"); err != nil || !got.IsZero() {
		t.Errorf("-1 = %v, %v; want never", got, err)
	}
	if got, err := parseShadowExpire("0"); err != nil || !got.Equal(time.Unix(0, 0)) {
		t.Errorf("0 = %v, %v; want 1970-01-01 (expired)", got, err)
	}
	if got, err := parseShadowExpire("20089"); err != nil || !got.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("20089 = %v, %v; want 2025-01-01", got, err)
	}
	for _, s := range []string{"", "x", "-2", "99999999999"} {
		if _, err := parseShadowExpire(s); err == nil {
			t.Errorf("parseShadowExpire(%q): no error", s)
		}
	}
}

func TestParseGeneralizedTime(t *testing.T) {
	cases := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"20250101120000Z", time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC), true},
		{"20250101120000.5Z", time.Date(2025, 1, 1, 12, 0, 0, 5e8, time.UTC), true},
		{"202501011200Z", time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC), true},
		{"2025010112Z", time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC), true},
		{"20250101120000+0100", time.Date(2025, 1, 1, 11, 0, 0, 0, time.UTC), true},
		{"20250101120000-02", time.Date(2025, 1, 1, 14, 0, 0, 0, time.UTC), true},
		{"000001010000Z", time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"20250231120000Z", time.Time{}, false},
		{"20251301120000Z", time.Time{}, false},
		{"20250101120000", time.Time{}, false},
		{"2025010112000Z", time.Time{}, false},
		{"20250101120000.Z", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, c := range cases {
		got, err := parseGeneralizedTime(c.in)
		if (err == nil) != c.ok || !got.Equal(c.want) {
			t.Errorf("parseGeneralizedTime(%q) = %v, %v; want %v (ok %v)", c.in, got, err, c.want, c.ok)
		}
	}
	lt, _ := parseGeneralizedTime("000001010000Z")
	if !lockedForGood(lt) {
		t.Error("000001010000Z is not read as locked for good")
	}
	lt, _ = parseGeneralizedTime("20250101120000Z")
	if lockedForGood(lt) {
		t.Error("a real lock time is read as locked for good")
	}
}

func FuzzGeneralizedTime(f *testing.F) {
	for _, s := range []string{"20250101120000Z", "000001010000Z", "20250101120000.123+0100", "2025010112Z", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseGeneralizedTime(s)
		if err != nil {
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("parseGeneralizedTime(%q) not in UTC", s)
		}
		if got.Year() < -1 || got.Year() > 10000 {
			t.Fatalf("parseGeneralizedTime(%q) = %v", s, got)
		}
	})
}

func TestParseRange(t *testing.T) {
	cases := []struct {
		in        string
		attr      string
		low, high int
		err       bool
		noRange   bool
	}{
		{"member;range=0-1499", "member", 0, 1499, false, false},
		{"member;range=1500-*", "member", 1500, -1, false, false},
		{"member;Range=3000-4499", "member", 3000, 4499, false, false},
		{"member", "member", 0, 0, false, true},
		{"member;binary", "member", 0, 0, false, true},
		{"member;range=5-1", "", 0, 0, true, false},
		{"member;range=-1-5", "", 0, 0, true, false},
		{"member;range=0", "", 0, 0, true, false},
		{"member;range=a-*", "", 0, 0, true, false},
		{"member;range=0-1;range=2-3", "", 0, 0, true, false},
	}
	for _, c := range cases {
		attr, low, high, err := parseRange(c.in)
		if c.noRange {
			if err != errNoRange || attr != c.attr {
				t.Errorf("parseRange(%q) = %q, %v; want %q and no range", c.in, attr, err, c.attr)
			}
			continue
		}
		if (err != nil) != c.err || attr != c.attr || low != c.low || high != c.high {
			t.Errorf("parseRange(%q) = %q %d %d %v", c.in, attr, low, high, err)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"member;range=0-1499", "member;range=1500-*", "member", "a;range=1-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, low, high, err := parseRange(s)
		if err != nil {
			return
		}
		if low < 0 || (high != -1 && high < low) {
			t.Fatalf("parseRange(%q) = %d-%d", s, low, high)
		}
	})
}

func TestSIDKeys(t *testing.T) {
	// S-1-5-21-1606522144-2450830409-3030834854-1103, as Samba sent it.
	group, _ := hex.DecodeString("0105000000000005150000002095c15f49b41492a6daa6b44f040000")
	gk, ok := groupSIDKey(group)
	if !ok || !strings.HasSuffix(gk, "/1103") {
		t.Fatalf("groupSIDKey = %q, %t; want …/1103", gk, ok)
	}
	// A person of the same domain (RID 1200) whose primary group is 1103.
	person, _ := hex.DecodeString("0105000000000005150000002095c15f49b41492a6daa6b4b0040000")
	if k, ok := primaryGroupKey(person, "1103"); !ok || k != gk {
		t.Errorf("primaryGroupKey = %q, %t; want %q", k, ok, gk)
	}
	// The same RID in another domain (one sub-authority differs) is
	// another group.
	other, _ := hex.DecodeString("0105000000000005150000002195c15f49b41492a6daa6b4b0040000")
	if k, ok := primaryGroupKey(other, "1103"); !ok || k == gk {
		t.Errorf("primaryGroupKey of another domain = %q, %t; must differ from %q", k, ok, gk)
	}
	for _, bad := range [][]byte{nil, group[:27], append(group, 0), {1, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0}} {
		if k, ok := groupSIDKey(bad); ok {
			t.Errorf("groupSIDKey(%x) = %q, want not ok", bad, k)
		}
	}
	for _, rid := range []string{"", "x", "-1", "4294967296"} {
		if k, ok := primaryGroupKey(person, rid); ok {
			t.Errorf("primaryGroupKey(%q) = %q, want not ok", rid, k)
		}
	}
}
