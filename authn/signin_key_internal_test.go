package authn

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
)

// TestFakeCredentialIDs: as many ids as asked, of the one length there is
// (16 at least, 1023 at most), the same each time for a name, others for
// another name.
func TestFakeCredentialIDs(t *testing.T) {
	key := []byte("0123456789abcdef")
	for _, n := range []int{10, 16, 32, 64, 2000} {
		lengths := spread{{value: n, count: 3}}
		a, b := fakeCredentialIDs(key, "anna", lengths, 3), fakeCredentialIDs(key, "anna", lengths, 3)
		want := min(max(n, 16), 1023)
		if len(a) != 3 || !reflect.DeepEqual(a, b) {
			t.Fatalf("n=%d: %x then %x; want 3 ids, the same twice", n, a, b)
		}
		for _, id := range a {
			if len(id) != want {
				t.Errorf("n=%d: id of %d bytes, want %d", n, len(id), want)
			}
		}
		if bytes.Equal(a[0], a[1]) || bytes.Equal(a[1], a[2]) {
			t.Errorf("n=%d: the same fake id twice in one list", n)
		}
		if other := fakeCredentialIDs(key, "bert", lengths, 1); bytes.Equal(other[0], a[0]) {
			t.Errorf("n=%d: anna and bert get the same fake id", n)
		}
	}
}

// TestFakeCredentialIDLengths: over many names, the fake ids' lengths
// follow the installation's keys (here a quarter 16 bytes, three quarters
// 64), so that a real key of the rarer length among fake ones does not
// stand out.
func TestFakeCredentialIDLengths(t *testing.T) {
	key := []byte("0123456789abcdef")
	lengths := spread{{value: 16, count: 10}, {value: 64, count: 30}}
	got := map[int]int{}
	for i := range 1000 {
		for _, id := range fakeCredentialIDs(key, fmt.Sprintf("niemand%d", i), lengths, allowListLen) {
			got[len(id)]++
		}
	}
	if n := got[16] + got[64]; n != 1000*allowListLen {
		t.Fatalf("fake id lengths %v: want only 16 and 64", got)
	}
	if share := float64(got[16]) / float64(1000*allowListLen); share < 0.22 || share > 0.28 {
		t.Errorf("fake id lengths %v: 16 bytes in %.3f of them, want about 0.25", got, share)
	}
}

// TestFakeLengthDrawIsStable: when the keys' spread changes, the fake ids'
// lengths change for no more of the names than the shares moved (here the
// share of 16-byte ids from 6/32 to 10/40, about 6 %), not for almost
// every name, so asking again after keys were registered does not tell an
// unknown name from a real one.
func TestFakeLengthDrawIsStable(t *testing.T) {
	key := []byte("0123456789abcdef")
	before := spread{{value: 16, count: 6}, {value: 64, count: 26}}
	after := spread{{value: 16, count: 10}, {value: 64, count: 30}}
	const names = 4000
	changed := 0
	for i := range names {
		name := fmt.Sprintf("niemand%d", i)
		a, b := before.draw(key, "length", name, 1, 32), after.draw(key, "length", name, 1, 32)
		switch {
		case a == b:
		case a == 64 && b == 16:
			changed++
		default:
			t.Fatalf("%s: %d bytes, then %d: a length whose share shrank was drawn anew", name, a, b)
		}
	}
	if share := float64(changed) / names; share > 0.08 {
		t.Errorf("%d of %d names changed length (%.3f); want about 0.0625", changed, names, share)
	}
}
