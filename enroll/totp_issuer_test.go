package enroll_test

import (
	"bytes"
	"image/png"
	"testing"

	"github.com/pquerna/otp"

	"github.com/keyhall/keyhall/enroll"
)

// TestTOTPIssuerAnySiteName (review of #16): the app's entry is named
// exactly site.name, whatever characters it holds (a ':' would split the
// label, '&' and '#' end or cut the issuer parameter, '+' turns into a
// space, '%' breaks decoding), and the account name stays hers.
func TestTOTPIssuerAnySiteName(t *testing.T) {
	for _, name := range []string{
		"Stadt Münster – Anmeldung",
		"Stadt Münster: Anmeldung",
		"Rat & Verwaltung",
		"Bürger+Rat",
		"Amt #3",
		"100% Münster",
		"a:b&c=d+e#f%g?h/i j",
		"Ölmühle Süd",
	} {
		f := newFixture(t)
		f.cfg.Issuer = name
		f.svc = f.serviceOn(t, f.store)
		ctx := t.Context()
		anna := f.user(t, "anna.müller@example.org")
		inv, err := f.svc.Issue(ctx, anna.ID, 0, "cli:root", "")
		must(t, err)
		pr, err := f.svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link)})
		must(t, err)
		setup, _, err := f.svc.BeginTOTP(ctx, pr.ID)
		must(t, err)
		key, err := otp.NewKeyFromURL(setup.URI)
		if err != nil {
			t.Errorf("site.name %q: %q does not parse: %v", name, setup.URI, err)
			continue
		}
		if key.Issuer() != name || key.AccountName() != anna.Username || key.Period() != 30 || key.Digits() != otp.DigitsSix {
			t.Errorf("site.name %q: the app shows issuer %q, account %q (period %d, digits %v) from %q",
				name, key.Issuer(), key.AccountName(), key.Period(), key.Digits(), setup.URI)
		}
		if got := enroll.FormatCode(key.Secret()); got != setup.Secret {
			t.Errorf("site.name %q: the URI's secret %q, the page's %q", name, got, setup.Secret)
		}
		img, err := png.Decode(bytes.NewReader(setup.QRPNG))
		if err != nil || img.Bounds().Dx() < 200 {
			t.Errorf("site.name %q: QR code: %v", name, err)
		}
	}
}
