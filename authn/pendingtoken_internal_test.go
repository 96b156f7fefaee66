package authn

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"
)

func testSignIn(t testing.TB) *SignIn {
	aead, err := newPendingAEAD([32]byte{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	return &SignIn{pendingAEAD: aead}
}

var tokenTime = time.Date(2026, 11, 26, 9, 0, 0, 123456000, time.UTC)

// TestPendingToken: a pending sign-in comes back from its id as it was;
// an id with any byte changed, cut short or sealed under another key is not
// one; an expired one is refused as expired.
func TestPendingToken(t *testing.T) {
	s := testSignIn(t)
	p := Pending{
		UserID: NewID(), Username: "anna.müller", AMR: []string{"hwk", "user"}, Ceremony: []byte(`{"session":{}}`),
		Next: StepPassword, RecoveryOnly: true, ReturnTo: "/authorize/callback?id=x",
		CreatedAt: tokenTime, ExpiresAt: tokenTime.Add(PendingLifetime),
	}
	id, err := s.sealPending(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.openPending(id, tokenTime)
	if err != nil {
		t.Fatal(err)
	}
	p.Hash = HashPendingID(id)
	if !reflect.DeepEqual(got, p) {
		t.Errorf("openPending = %+v, want %+v", got, p)
	}
	if again, _ := s.sealPending(p); bytes.Equal(again, id) {
		t.Error("two seals of one pending sign-in gave the same id")
	}
	if _, err := s.openPending(id, p.ExpiresAt); !errors.Is(err, ErrExpired) {
		t.Errorf("openPending at its expiry: %v, want ErrExpired", err)
	}
	for i := range id {
		bad := bytes.Clone(id)
		bad[i] ^= 0x40
		if _, err := s.openPending(bad, tokenTime); !errors.Is(err, ErrNotFound) {
			t.Fatalf("byte %d changed: %v, want ErrNotFound", i, err)
		}
	}
	for _, bad := range [][]byte{nil, id[:10], id[:len(id)-1], append(bytes.Clone(id), 0), make([]byte, MaxPendingIDLen+1)} {
		if _, err := s.openPending(bad, tokenTime); !errors.Is(err, ErrNotFound) {
			t.Errorf("id of %d bytes: %v, want ErrNotFound", len(bad), err)
		}
	}
	other, _ := newPendingAEAD([32]byte{9})
	if _, err := (&SignIn{pendingAEAD: other}).openPending(id, tokenTime); !errors.Is(err, ErrNotFound) {
		t.Errorf("another installation's key opened the id: %v", err)
	}
	big := p
	big.Ceremony = make([]byte, MaxPendingIDLen)
	if _, err := s.sealPending(big); err == nil {
		t.Error("sealed a pending sign-in longer than MaxPendingIDLen")
	}
	// An unknown username's pending sign-in is as long as a known one's.
	unknown := p
	unknown.UserID = ""
	if a, b := len(encodePending(p)), len(encodePending(unknown)); a != b {
		t.Errorf("encoded with a user id %d bytes, without %d", a, b)
	}
	if got, err := decodePending(encodePending(unknown)); err != nil || got.UserID != "" {
		t.Errorf("decode without a user id: %+v, %v", got, err)
	}
}

// FuzzDecodePending: decoding arbitrary bytes never panics, and what
// decodes comes back the same through encodePending.
func FuzzDecodePending(f *testing.F) {
	f.Add(encodePending(Pending{UserID: NewID(), Username: "anna", AMR: []string{"otp"}, Next: StepPassword,
		CreatedAt: tokenTime, ExpiresAt: tokenTime.Add(time.Minute)}))
	f.Add(encodePending(Pending{Next: StepKey, Ceremony: []byte("{}")}))
	f.Add([]byte{pendingVersion})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePending(b)
		if err != nil {
			return
		}
		again, err := decodePending(encodePending(p))
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Errorf("decode, encode, decode: %+v, %v; want %+v", again, err, p)
		}
	})
}
