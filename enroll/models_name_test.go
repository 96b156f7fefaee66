package enroll_test

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/mds"
	"github.com/keyhall/keyhall/enroll/mds/mdstest"
)

// TestModelNameAsNickname: a model name from the imported MDS blob that is
// long and holds a bidi override (U+202E) and a line separator (U+2028)
// becomes a key's default nickname at most MaxNicknameLength characters
// long, cut on a character, without format or control characters, and one
// CheckNickname takes (so she can rename the key to it again).
func TestModelNameAsNickname(t *testing.T) {
	f := newFixture(t)
	model := uuid.MustParse("f7c558a0-f465-11e8-b568-0800200c9a67")
	name := "Schlüssel\u202eevil\u2028x " + strings.Repeat("äöü", 40)
	p := mdstest.NewPKI(t, mdstest.Options{})
	p.Trust(t)
	blob := p.Sign(t, mdstest.Payload(5, time.Now().AddDate(0, 1, 0), mdstest.Entry(model.String(), name, "FIDO_CERTIFIED_L1")))
	if _, err := mds.Import(t.Context(), f.store, blob, mds.Options{Now: time.Now()}, "test"); err != nil {
		t.Fatal(err)
	}
	key, _, err := f.register(t, f.redeemOn(t, f.svc, f.user(t, "otto")).ID, keyReg{aaguid: model, fmt: "none"})
	must(t, err)
	n := key.Credential.Nickname
	if utf8.RuneCountInString(n) > enroll.MaxNicknameLength || !utf8.ValidString(n) || !strings.HasPrefix(n, "Schlüsselevilx äöü") {
		t.Errorf("nickname %q (%d characters)", n, utf8.RuneCountInString(n))
	}
	for _, s := range []string{n, key.Model} {
		if strings.IndexFunc(s, func(r rune) bool { return unicode.In(r, unicode.Cf, unicode.Cc, unicode.Zl, unicode.Zp) }) >= 0 {
			t.Errorf("%q keeps a format or control character", s)
		}
	}
	if _, err := enroll.CheckNickname(n); err != nil {
		t.Errorf("CheckNickname(%q): %v", n, err)
	}
}
