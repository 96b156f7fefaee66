package enroll_test

import (
	"encoding/base32"
	"slices"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// TestNewFactorText (#17): the nickname typed for a new key or app is
// checked as a rename's is (valid UTF-8, at most 64 characters, no control
// characters), and the enrollment stays open for another try; the
// transports a browser reports for a key are kept only as WebAuthn defines
// them, each once (5,000 entries were stored).
func TestNewFactorText(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	anna := f.user(t, "anna")
	inv, err := f.svc.Issue(ctx, anna.ID, 0, "cli:root", "")
	must(t, err)
	pr, err := f.svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link)})
	must(t, err)
	for _, bad := range []string{"Schl\xfcssel", strings.Repeat("k", 10_000), "a\x1bb"} {
		_, pr, err = f.registerNamed(t, pr.ID, keyReg{fmt: "none"}, bad)
		wantReason(t, "key nickname "+bad[:min(len(bad), 12)], err, enroll.ReasonNickname)
	}
	many := make([]string, 5000)
	for i := range many {
		many[i] = []string{"usb", "nfc", strings.Repeat("x", i%100), "internal", "USB"}[i%5]
	}
	_, pr, err = f.registerNamed(t, pr.ID, keyReg{fmt: "none", transports: many}, " Büro ")
	must(t, err)

	setup, pr, err := f.svc.BeginTOTP(ctx, pr.ID)
	must(t, err)
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(setup.Secret, "-", ""))
	must(t, err)
	code, err := authn.TOTPCode(secret, f.clock.now())
	must(t, err)
	pr, err = f.svc.ConfirmTOTP(ctx, pr.ID, code, "Handy \xe4")
	wantReason(t, "app nickname", err, enroll.ReasonNickname)
	_, err = f.svc.ConfirmTOTP(ctx, pr.ID, code, "")
	must(t, err)

	creds, err := f.store.ListCredentials(ctx, anna.ID)
	must(t, err)
	if len(creds) != 2 {
		t.Fatalf("%d credentials, want the key and the app", len(creds))
	}
	for _, c := range creds {
		switch c.Kind {
		case authn.KindWebAuthn:
			if c.Nickname != "Büro" || !slices.Equal(c.Transports, []string{"usb", "nfc", "internal"}) {
				t.Errorf("key stored as %q with transports %.10q", c.Nickname, c.Transports)
			}
		case authn.KindTOTP:
			if c.Nickname != "Authenticator-App" {
				t.Errorf("app stored as %q", c.Nickname)
			}
		}
	}
}

// TestFactorLabel: a key or app named in mails and by the CLI by its
// nickname and model, but a nickname that only names the method (given
// when she named none) is not repeated: no "Sicherheitsschlüssel
// (Sicherheitsschlüssel / security key)".
func TestFactorLabel(t *testing.T) {
	yubi := enroll.YubiKeyAAGUIDs()[0]
	for _, tt := range []struct {
		c    authn.Credential
		want string
	}{
		{authn.Credential{Kind: authn.KindWebAuthn, Nickname: "Sicherheitsschlüssel", AAGUID: make([]byte, 16)}, "Sicherheitsschlüssel / security key"},
		{authn.Credential{Kind: authn.KindWebAuthn, Nickname: "Sicherheitsschlüssel", AAGUID: yubi[:]}, enroll.ModelName(yubi)},
		{authn.Credential{Kind: authn.KindWebAuthn, Nickname: enroll.ModelName(yubi), AAGUID: yubi[:]}, enroll.ModelName(yubi)},
		{authn.Credential{Kind: authn.KindWebAuthn, Nickname: "Büro", AAGUID: yubi[:]}, "Büro (" + enroll.ModelName(yubi) + ")"},
		{authn.Credential{Kind: authn.KindTOTP, Nickname: "Authenticator-App"}, "Authenticator-App"},
		{authn.Credential{Kind: authn.KindTOTP, Nickname: "Tablet"}, "Tablet (Authenticator-App)"},
	} {
		if got := enroll.FactorLabel(tt.c); got != tt.want {
			t.Errorf("FactorLabel(%q) = %q, want %q", tt.c.Nickname, got, tt.want)
		}
	}
}
