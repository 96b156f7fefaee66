package authn

import (
	"bytes"
	"reflect"
	"testing"
)

// TestFakeCredentialIDs: 1 or 2 ids of the length asked (16 at least),
// the same each time for a name, others for another name.
func TestFakeCredentialIDs(t *testing.T) {
	key := []byte("0123456789abcdef")
	for _, n := range []int{10, 16, 32, 64, 100} {
		a, b := fakeCredentialIDs(key, "anna", n), fakeCredentialIDs(key, "anna", n)
		want := max(n, 16)
		if len(a) < 1 || len(a) > 2 || !reflect.DeepEqual(a, b) {
			t.Fatalf("n=%d: %x then %x; want 1–2 ids, the same twice", n, a, b)
		}
		for _, id := range a {
			if len(id) != want {
				t.Errorf("n=%d: id of %d bytes, want %d", n, len(id), want)
			}
		}
		if other := fakeCredentialIDs(key, "bert", n); bytes.Equal(other[0], a[0]) {
			t.Errorf("n=%d: anna and bert get the same fake id", n)
		}
	}
}
