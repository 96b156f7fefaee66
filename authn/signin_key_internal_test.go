package authn

import (
	"bytes"
	"reflect"
	"testing"
)

// TestFakeCredentialIDs: as many ids as asked, of the length asked (16 at
// least), the same each time for a name, others for another name.
func TestFakeCredentialIDs(t *testing.T) {
	key := []byte("0123456789abcdef")
	for _, n := range []int{10, 16, 32, 64, 100} {
		a, b := fakeCredentialIDs(key, "anna", n, 3), fakeCredentialIDs(key, "anna", n, 3)
		want := max(n, 16)
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
		if other := fakeCredentialIDs(key, "bert", n, 1); bytes.Equal(other[0], a[0]) {
			t.Errorf("n=%d: anna and bert get the same fake id", n)
		}
	}
}
