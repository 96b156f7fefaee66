package web

import (
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/enroll"
)

// TestHomeLeadsToAccount: the bare address, printed at start, leads to the
// account (and from there to sign-in), not to a 404.
func TestHomeLeadsToAccount(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	res, body := c.get("/")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/account" {
		t.Fatalf("GET /: %d to %q, want 303 to /account\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	res, _ = c.get("/account")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") == "" {
		t.Errorf("GET /account not signed in: %d to %q, want the sign-in", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := c.get("/no-such-page"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /no-such-page: %d, want 404", res.StatusCode)
	}
}

// relativeLuminance of a #rrggbb colour (WCAG 2.2, "relative luminance").
func relativeLuminance(t *testing.T, hex string) float64 {
	t.Helper()
	if len(hex) != 7 || hex[0] != '#' {
		t.Fatalf("not a #rrggbb colour: %q", hex)
	}
	var l float64
	for i, w := range []float64{0.2126, 0.7152, 0.0722} {
		v, err := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		if err != nil {
			t.Fatal(err)
		}
		c := float64(v) / 255
		if c <= 0.04045 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		l += w * c
	}
	return l
}

func contrast(t *testing.T, a, b string) float64 {
	la, lb := relativeLuminance(t, a), relativeLuminance(t, b)
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
}

// TestFocusRingContrast reads the stylesheet as served: the focus ring has
// at least 3:1 against the backgrounds it is drawn on (WCAG 1.4.11), on the
// white card and the grey ground, and in the blue header.
func TestFocusRingContrast(t *testing.T) {
	f := newFixture(t)
	u, err := f.srv.pages.staticURL("keyhall.css")
	if err != nil {
		t.Fatal(err)
	}
	res, css := f.client().get(u)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("stylesheet: %d", res.StatusCode)
	}
	colour := func(name string) string {
		m := regexp.MustCompile(`--` + name + `:\s*(#[0-9a-fA-F]{6})`).FindStringSubmatch(css)
		if m == nil {
			t.Fatalf("no --%s in the stylesheet", name)
		}
		return m[1]
	}
	// The colour the ring is drawn in: var(--x) or a colour.
	ring := func(rule string) string {
		m := regexp.MustCompile(regexp.QuoteMeta(rule) + `\s*\{[^}]*outline(?:-color)?:[^;}]*?(#[0-9a-fA-F]{6}|var\(--([a-z-]+)\))`).FindStringSubmatch(css)
		if m == nil {
			t.Fatalf("no outline colour for %s", rule)
		}
		if m[2] != "" {
			return colour(m[2])
		}
		return m[1]
	}
	page := ring(":focus-visible")
	for _, bg := range []string{"paper", "ground"} {
		if c := contrast(t, page, colour(bg)); c < 3 {
			t.Errorf("focus ring %s on --%s %s: %.2f:1, want at least 3:1", page, bg, colour(bg), c)
		}
	}
	header := page
	if regexp.MustCompile(`\.top :focus-visible`).MatchString(css) {
		header = ring(".top :focus-visible")
	}
	if c := contrast(t, header, colour("blue")); c < 3 {
		t.Errorf("focus ring %s in the header on --blue: %.2f:1, want at least 3:1", header, c)
	}
}

// TestInvalidInvitationNamesITService: the page for an invitation that no
// longer works says how to reach the IT service (as the letter prints it).
func TestInvalidInvitationNamesITService(t *testing.T) {
	f := newFixture(t)
	f.withEnroll(enroll.Config{Notices: enroll.Notices{Sender: enroll.Sender{Name: "Stadt Münster",
		HelpPhone: "0251 492-1234", HelpEmail: "it-service@stadt.example"}}})
	res, body := f.client().get("/enroll/bm8tc3VjaC1pbnZpdGF0aW9uLWF0LWFsbC1oZXJlLXRvZGF5")
	if res.StatusCode < 400 || !strings.Contains(body, "enroll-invalid") && !strings.Contains(body, "invalid-help") {
		t.Fatalf("an unknown invitation link: %d\n%s", res.StatusCode, body)
	}
	for _, want := range []string{"0251 492-1234", "it-service@stadt.example"} {
		if !strings.Contains(body, want) {
			t.Errorf("the invalid-invitation page lacks %q:\n%s", want, body)
		}
	}
}

// TestOneTimePageLeftAlready: the switch on a page after the app was
// stored asks GET /enroll/app/confirm, which has no QR code to show again:
// the enrollment goes on at the key page, with no error.
func TestOneTimePageLeftAlready(t *testing.T) {
	f := newFixture(t)
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	anna := f.addUser("anna")
	inv := f.invite(anna)
	c := f.client()
	if res, body := c.form("/enroll", url.Values{"username": {"anna"}, "code": {inv.Code}}); res.StatusCode != http.StatusOK {
		t.Fatalf("redeem: %d %s", res.StatusCode, body)
	}
	res, body := c.get("/enroll/recovery?lang=en")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/enroll/key?lang=en" {
		t.Fatalf("GET /enroll/recovery before any codes: %d to %q\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	if res, body := c.get("/enroll/key?lang=en"); res.StatusCode != http.StatusOK || !strings.Contains(body, `id="register-key"`) {
		t.Errorf("the key page after it: %d\n%s", res.StatusCode, body)
	}
}
