package authn

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCanonicalName(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "anna", want: "anna"},
		{in: "  Anna.Müller ", want: "anna.müller"},
		{in: "ANNA.MÜLLER", want: "anna.müller"},
		{in: "Anna.Mu\u0308ller", want: "anna.müller"}, // combining diaeresis → NFKC
		{in: "Straße", want: "strasse"},                // full case folding
		{in: "ＡＮＮＡ", want: "anna"},                     // fullwidth → NFKC
		{in: "ﬁsch", want: "fisch"},                    // ligature → NFKC
		{in: "a@stadt.example", want: "a@stadt.example"},
		{in: "", wantErr: true},
		{in: "   ", wantErr: true},
		{in: "anna müller", wantErr: true},
		{in: "anna\tx", wantErr: true},
		{in: "anna\u200bx", wantErr: true}, // zero-width space (Cf)
		{in: "anna\x00", wantErr: true},
		{in: "\xff\xfe", wantErr: true},
		{in: strings.Repeat("a", MaxNameLength), want: strings.Repeat("a", MaxNameLength)},
		{in: strings.Repeat("a", MaxNameLength+1), wantErr: true},
	}
	for _, tt := range tests {
		got, err := CanonicalName(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("CanonicalName(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("CanonicalName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzCanonicalName(f *testing.F) {
	for _, s := range []string{"anna", "Anna.Mu\u0308ller", "ﬁ", "İstanbul", "\u0345"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := CanonicalName(s)
		if err != nil {
			return
		}
		if !utf8.ValidString(c) || c == "" || utf8.RuneCountInString(c) > MaxNameLength {
			t.Fatalf("CanonicalName(%q) = %q: not a valid name", s, c)
		}
		// Canonical means stable: the canonical form of a canonical name is itself.
		if c2, err := CanonicalName(c); err != nil || c2 != c {
			t.Fatalf("CanonicalName(%q) = %q, but CanonicalName(%q) = %q, %v", s, c, c, c2, err)
		}
	})
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if len(id) != 26 || strings.ToLower(id) != id {
			t.Fatalf("NewID() = %q: want 26 lower-case characters", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}
