package enroll

import (
	"bytes"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestLetterLeavesFontsAlone: fpdf writes into the font bytes it is given
// while it cuts a subset (an append onto a slice of them), so letters
// printed at the same moment raced on the embedded fonts and each letter
// changed them for the next. Every letter gets its own copy: the embedded
// fonts stay as built, and under -race letters printed at once race on
// nothing. (fpdf writes the fonts in map order, so only the lengths of
// two printings of one letter agree, not their bytes.)
func TestLetterLeavesFontsAlone(t *testing.T) {
	sums := func() [3][32]byte {
		return [3][32]byte{sha256.Sum256(fontSans), sha256.Sum256(fontSansBold), sha256.Sum256(fontMono)}
	}
	before := sums()
	l := Letter{
		Invitation: Invitation{
			Link: "https://login.stadt.example/enroll/K7XM", Code: "K7XM-4RPQ-9TWD-3HNA",
			ExpiresAt: time.Date(2026, 3, 26, 13, 30, 0, 0, time.UTC),
			User:      authn.User{Username: "anna.müller", DisplayName: "Anna Müller"},
		},
		Address: []string{"Große Straße 17", "48143 Münster"},
		Sender:  Sender{Name: "Stadt Münster", Address: []string{"Klemensstraße 10", "48143 Münster"}, HelpPhone: "0251 492-1234"},
		CodeURL: "https://login.stadt.example/enroll",
		Date:    time.Date(2026, 3, 12, 9, 0, 0, 0, time.UTC),
	}
	var first bytes.Buffer
	if err := WriteLetter(&first, l); err != nil {
		t.Fatal(err)
	}
	if sums() != before {
		t.Fatal("printing a letter changed the embedded fonts")
	}
	var wg sync.WaitGroup
	out := make([]bytes.Buffer, 4)
	for i := range out {
		wg.Go(func() {
			if err := WriteLetter(&out[i], l); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range out {
		if out[i].Len() != first.Len() {
			t.Errorf("letter %d printed at the same moment as others has %d bytes, the first %d", i, out[i].Len(), first.Len())
		}
	}
	if sums() != before {
		t.Error("printing letters at once changed the embedded fonts")
	}
}
