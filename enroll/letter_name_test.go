package enroll_test

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// siteNames returns names as site.name accepts them (one line, at most
// 64 bytes) of every length from 40 to 64 bytes, made of words and of
// one long word, with umlauts and dashes.
func siteNames() []string {
	bases := []string{
		"Stadt Münster – Anmeldung für den Rat und die Bürgerinnen und Bürger der Stadt",
		"Oberbürgermeisterinnenbüro–Stadtverwaltungsanmeldungsdienstleistungsportal",
		"WWWWWWWWWW WWWWWWWWWW WWWWWWWWWW WWWWWWWWWW WWWWWWWWWW WWWWWWWWWW",
	}
	var out []string
	for _, b := range bases {
		for n := 40; n <= 64; n += 3 {
			s := b
			for len(s) > n {
				_, size := utf8.DecodeLastRuneInString(s)
				s = s[:len(s)-size]
			}
			s = strings.TrimSpace(s)
			if len(s) < n-3 { // a cut at a multi-byte rune or a space: near enough
				continue
			}
			out = append(out, s)
		}
	}
	return out
}

// TestLetterFitsAnySiteName (review of #16): every kind of letter, with
// the three-line sender address of testLetter and the longest recipient
// address, fits on one page for any site.name the config accepts.
func TestLetterFitsAnySiteName(t *testing.T) {
	kinds := map[string]func(*enroll.Letter){
		"first":           func(l *enroll.Letter) {},
		"password":        func(l *enroll.Letter) { l.Password = true },
		"choose password": func(l *enroll.Letter) { l.ChoosePassword = true },
		"require password": func(l *enroll.Letter) {
			l.ChoosePassword, l.RequirePassword = true, true
		},
		"no codes":             func(l *enroll.Letter) { l.NoRecoveryCodes = true },
		"reset":                func(l *enroll.Letter) { l.Reset = true },
		"reset password":       func(l *enroll.Letter) { l.Reset, l.Password = true, true },
		"reset choose":         func(l *enroll.Letter) { l.Reset, l.ChoosePassword, l.RequirePassword = true, true, true },
		"reset choose no help": func(l *enroll.Letter) { l.Reset, l.ChoosePassword = true, true },
	}
	for kind, set := range kinds {
		t.Run(kind, func(t *testing.T) {
			for _, name := range siteNames() {
				l := testLetter()
				l.Address = []string{"Frau", "c/o Bürgerbüro Hiltrup", "Große Straße 17", "Hinterhaus, 3. Etage", "48143 Münster"}[:enroll.MaxAddressLines]
				l.Sender.Service = name
				set(&l)
				var buf bytes.Buffer
				if err := enroll.WriteLetter(&buf, l); err != nil {
					t.Errorf("site.name %q (%d bytes): %v", name, len(name), err)
				}
			}
		})
	}
	for _, kind := range []string{authn.NoticeReset, authn.NoticeFactorAdded} {
		t.Run("notice "+kind, func(t *testing.T) {
			l := testLetter()
			for _, name := range siteNames() {
				l.Sender.Service = name
				n := enroll.NoticeLetter{User: l.Invitation.User, Address: []string{"Frau", "c/o Bürgerbüro Hiltrup", "Große Straße 17", "Hinterhaus, 3. Etage", "48143 Münster"},
					Kind: kind, Factor: "Büro (YubiKey 5 NFC)", At: l.Date, Sender: l.Sender, Date: l.Date, Location: l.Location,
					FreezeLink: "https://login.stadt.example/freeze/K7XM-4RPQ-9TWD-3HNA-2BCD-EFGH-JKMN-PQRS-TUVW-XYZ2-3456-789A-BCDE"}
				var buf bytes.Buffer
				if err := enroll.WriteNoticeLetters(&buf, []enroll.NoticeLetter{n}); err != nil {
					t.Errorf("site.name %q (%d bytes): %v", name, len(name), err)
				}
			}
		})
	}
}
