package citizens

import (
	"testing"
	"time"
)

// FuzzOpenLink feeds openLink any token: it never panics, and opens only
// what this installation sealed, unchanged.
func FuzzOpenLink(f *testing.F) {
	s := &Service{cfg: Config{EncryptionKey: [32]byte{7}}}
	want := link{Email: "anna@example.org", Name: "Anna Müller", Binding: bindingHash(browserA), Expires: time.Unix(1893456000, 0).UTC()}
	good, err := s.sealLink(want)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{good, "", "AAAA", good[:len(good)-1], good + "A", "not a token", string(make([]byte, 2000))} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		l, _, err := s.openLink(token)
		if err != nil {
			return
		}
		if l != want {
			t.Fatalf("opened %q as %+v, which was never sealed", token, l)
		}
	})
}

// FuzzDecodeLink feeds the decoder of a link's content any bytes: it
// never panics, and what it accepts seals and decodes to itself.
func FuzzDecodeLink(f *testing.F) {
	s := &Service{cfg: Config{EncryptionKey: [32]byte{7}}}
	f.Add([]byte{linkVersion, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 1, 'a', 'B'})
	f.Add([]byte{linkVersion})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := decodeLink(b)
		if err != nil {
			return
		}
		token, err := s.sealLink(l)
		if err != nil {
			t.Fatal(err)
		}
		back, _, err := s.openLink(token)
		if err != nil || back != l {
			t.Fatalf("%+v sealed and opened is %+v, %v", l, back, err)
		}
	})
}
