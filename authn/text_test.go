package authn_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keyhall/keyhall/authn"
)

func TestCheckText(t *testing.T) {
	for _, tc := range []struct {
		kind authn.TextKind
		s    string
		want string // part of the error; "" for none
	}{
		{authn.TextDisplayName, "", ""},
		{authn.TextDisplayName, "Anna Müller", ""},
		{authn.TextDisplayName, strings.Repeat("ä", 200), ""},
		{authn.TextDisplayName, strings.Repeat("ä", 201), "display name is too long: at most 200 characters"},
		{authn.TextDisplayName, strings.Repeat("x", 100_000), "too long"},
		{authn.TextDisplayName, "Anna \xe4", "display name is not valid UTF-8"},
		{authn.TextDisplayName, "Anna\nMüller", "control character (U+000A)"},
		{authn.TextDisplayName, "Anna\x00", "control character (U+0000)"},
		{authn.TextNickname, strings.Repeat("k", 65), "nickname is too long"},
		{authn.TextReason, "lost\non the train\r\n\tticket 4711", ""},
		{authn.TextReason, "lost\x1b[31m", "control character (U+001B)"},
		{authn.TextAddressLine, strings.Repeat("s", 61), "at most 60"},
	} {
		err := authn.CheckText(tc.kind, tc.s)
		var te *authn.TextError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckText(%s, %.20q): %v", tc.kind.Name, tc.s, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckText(%s, %.20q) = %v; want %q", tc.kind.Name, tc.s, err, tc.want)
		case err != nil && (!errors.As(err, &te) || te.Kind != tc.kind):
			t.Errorf("CheckText(%s, %.20q) = %#v; want a *TextError of the kind", tc.kind.Name, tc.s, err)
		}
	}
}

func TestCleanTransports(t *testing.T) {
	many := make([]string, 0, 5000)
	for i := range 5000 {
		many = append(many, []string{"usb", "nfc", "x-" + strings.Repeat("z", i%50), "internal"}[i%4])
	}
	for _, tc := range []struct{ in, want []string }{
		{nil, nil},
		{[]string{"usb", "nfc"}, []string{"usb", "nfc"}},
		{[]string{"hybrid", "internal", "usb", "usb", "cable", "", "USB"}, []string{"hybrid", "internal", "usb"}},
		{many, []string{"usb", "nfc", "internal"}},
	} {
		if got := authn.CleanTransports(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("CleanTransports(%.5q…) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzCheckText: CheckText never panics, and what it lets through is valid
// UTF-8, within the bound and free of control characters (but line breaks
// and tabs in a multi-line kind).
func FuzzCheckText(f *testing.F) {
	for _, s := range []string{"", "Anna Müller", "Anna \xe4", "a\nb", "\x00", strings.Repeat("ä", 65), "\uFFFD"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, multiline bool) {
		k := authn.TextKind{Name: "text", MaxChars: 64, Multiline: multiline}
		if authn.CheckText(k, s) != nil {
			return
		}
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > k.MaxChars {
			t.Fatalf("accepted %q", s)
		}
		for _, r := range s {
			if unicode.IsControl(r) && !(multiline && strings.ContainsRune("\n\r\t", r)) {
				t.Fatalf("accepted %q with %U", s, r)
			}
		}
	})
}

// FuzzCleanTransports: whatever a browser reports, at most the six known
// transports remain, each once.
func FuzzCleanTransports(f *testing.F) {
	f.Add("usb nfc usb x")
	f.Fuzz(func(t *testing.T, s string) {
		got := authn.CleanTransports(strings.Fields(s))
		if len(got) > 6 {
			t.Fatalf("%d transports: %q", len(got), got)
		}
		for i, tr := range got {
			if slices.Contains(got[:i], tr) || !slices.Contains([]string{"usb", "nfc", "ble", "smart-card", "hybrid", "internal"}, tr) {
				t.Fatalf("kept %q in %q", tr, got)
			}
		}
	})
}

// TestSignInTransportsOfOldKey (#17): a key stored before transports were
// checked, with 5,000 of them, is offered at sign-in without them (the
// options name no transports, #11), not with 100 KB of them.
func TestSignInTransportsOfOldKey(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	many := make([]string, 5000)
	for i := range many {
		many[i] = []string{"usb", "x-" + strings.Repeat("y", i%40), "nfc"}[i%3]
	}
	e.addKeyAs(anna, false, true, 0, func(c *authn.Credential) { c.Transports = many })
	opts, _ := e.beginKey(e.start("anna", authn.StepKey))
	if strings.Contains(string(opts), `"transports"`) || len(opts) > 2000 {
		t.Errorf("options offer the key with transports: %.300s", opts)
	}
}

// FuzzAuditSeal: whatever text an event holds, the event as the store keeps
// it (the texts Seal returns, the details decoded from the JSON it returns)
// hashes to the Hash Seal set, and every text in it is valid UTF-8.
func FuzzAuditSeal(f *testing.F) {
	f.Add("cli:root", "Grund", "display_name", "Anna \xe4", "k\xff")
	f.Add("", "", "", "", "")
	f.Fuzz(func(t *testing.T, actor, reason, key, value, key2 string) {
		e := authn.AuditEvent{Time: time.Unix(1, 1234567), Actor: actor, Action: "user.create", Reason: reason,
			Details: map[string]string{key: value, key2: reason}}
		sealed, details, err := e.Seal(7, [32]byte{1})
		if err != nil {
			t.Fatal(err)
		}
		stored := sealed
		stored.Details = nil
		if err := json.Unmarshal(details, &stored.Details); err != nil {
			t.Fatalf("details %q: %v", details, err)
		}
		if stored.ChainHash([32]byte{1}) != sealed.Hash || sealed.Seq != 7 || sealed.PrevHash != [32]byte{1} {
			t.Fatalf("the stored event does not hash to its Hash: %+v", stored)
		}
		if !utf8.ValidString(stored.Actor) || !utf8.ValidString(stored.Reason) || !utf8.Valid(details) {
			t.Fatalf("stored text is not UTF-8: %+v %q", stored, details)
		}
	})
}
