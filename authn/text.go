package authn

import (
	"fmt"
	"slices"
	"unicode"
	"unicode/utf8"
)

// TextKind is a kind of free text that Keyhall stores and shows again (in
// pages, headers, letters and the audit log), with its bounds. Every
// entrance (command-line arguments, the config, forms, JSON, the directory)
// checks such text with CheckText before it goes anywhere.
type TextKind struct {
	Name      string // what it is, for messages: "display name"
	MaxChars  int    // at most this many characters (code points)
	Multiline bool   // line breaks and tabs are allowed; other control characters never are
}

// The kinds of text Keyhall keeps. MaxNameLength bounds usernames and group
// names, which CanonicalName checks.
var (
	TextDisplayName = TextKind{Name: "display name", MaxChars: 200}
	TextNickname    = TextKind{Name: "nickname", MaxChars: 64}
	TextAddressLine = TextKind{Name: "address line", MaxChars: 60} // a DIN-lang envelope's window
	TextEmail       = TextKind{Name: "e-mail address", MaxChars: 254}
	TextReason      = TextKind{Name: "reason", MaxChars: 1000, Multiline: true}
	TextSetting     = TextKind{Name: "value", MaxChars: 65536, Multiline: true} // of any setting in the config
)

// TextError says what is wrong with a text: Kind.Name and Problem, e.g.
// "display name is not valid UTF-8".
type TextError struct {
	Kind    TextKind
	Problem string
}

func (e *TextError) Error() string { return e.Kind.Name + " " + e.Problem }

// CheckText returns a *TextError when s is not valid UTF-8, has more than
// k.MaxChars characters, or holds a control character (Unicode Cc; line
// breaks and tabs are allowed in a Multiline kind). The empty text passes:
// whether a text is required is the caller's rule. CheckText does not trim;
// callers trim first where surrounding space does not count.
func CheckText(k TextKind, s string) error {
	if !utf8.ValidString(s) {
		return &TextError{k, "is not valid UTF-8"}
	}
	// Count no further than needed: a 100 KB text costs no more than a short one.
	n := 0
	for _, r := range s {
		if n++; n > k.MaxChars {
			return &TextError{k, fmt.Sprintf("is too long: at most %d characters are allowed", k.MaxChars)}
		}
		if unicode.IsControl(r) && !(k.Multiline && (r == '\n' || r == '\r' || r == '\t')) {
			return &TextError{k, fmt.Sprintf("contains a control character (%U)", r)}
		}
	}
	return nil
}

// The transports of WebAuthn L3 §5.8.4 (enum AuthenticatorTransport).
var knownTransports = []string{"usb", "nfc", "ble", "smart-card", "hybrid", "internal"}

// CleanTransports returns the transports a browser reported for a new key
// (WebAuthn L3 §5.2.1.1 getTransports()) as Keyhall keeps them: only the
// values WebAuthn defines, each once, in the order given. The spec tells a
// relying party to ignore values it does not know (§5.8.4), so they are
// dropped rather than refused; at most len(knownTransports) remain.
func CleanTransports(ts []string) []string {
	var out []string
	for _, t := range ts {
		if slices.Contains(knownTransports, t) && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}
