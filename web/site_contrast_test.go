package web

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestSiteCSSContrastOnTints (review of #16): with a primary colour at
// the limit (4.5:1 on white), wherever it stands on a tinted background
// (a secondary button under the pointer, links in the notice, warning,
// alert and secret boxes) the generated site.css puts the darker shade,
// which reaches 4.5:1 on each of those backgrounds.
func TestSiteCSSContrastOnTints(t *testing.T) {
	base, err := os.ReadFile("static/keyhall.css")
	if err != nil {
		t.Fatal(err)
	}
	varRE := regexp.MustCompile(`--([a-z-]+):\s*(#[0-9a-f]{6})`)
	vars := map[string]string{}
	for _, m := range varRE.FindAllStringSubmatch(string(base), -1) {
		vars[m[1]] = m[2]
	}
	hover := regexp.MustCompile(`\.secondary:hover \{ background: (#[0-9a-f]{6}); \}`).FindStringSubmatch(string(base))
	if hover == nil {
		t.Fatal("keyhall.css has no .secondary:hover background")
	}
	// Where the primary colour stands on a tint: the selector that must
	// take the darker shade, and the tint.
	places := []struct{ selector, ground string }{
		{".secondary:hover", hover[1]},
		{".notice a", vars["green-ground"]},
		{".warning a", vars["amber-ground"]},
		{".alert a", vars["red-ground"]},
		{".secret a", vars["ground"]},
	}
	for _, color := range limitColours(t) {
		css, err := siteCSS(color)
		if err != nil {
			t.Fatal(err)
		}
		dark := regexp.MustCompile(`--blue-dark: (#[0-9a-f]{6})`).FindStringSubmatch(string(css))
		if dark == nil {
			t.Fatalf("site.css for %s has no --blue-dark:\n%s", color, css)
		}
		for _, p := range places {
			ground := mustRGB(t, p.ground)
			if r := contrastRatio(mustRGB(t, color), ground); r >= MinContrast {
				t.Logf("%s on %s is %.2f:1 already", color, p.ground, r)
			}
			if r := contrastRatio(mustRGB(t, dark[1]), ground); r < MinContrast {
				t.Errorf("primary %s: its darker shade %s on %s (%s) is %.2f:1, want %.1f:1", color, dark[1], p.ground, p.selector, r, MinContrast)
			}
			rule := regexp.MustCompile(`(?m)^[^{}]*` + regexp.QuoteMeta(p.selector) + `[^{}]*\{[^}]*color: var\(--blue-dark\)`)
			if !rule.Match(css) {
				t.Errorf("primary %s: site.css does not give %s the darker shade:\n%s", color, p.selector, css)
			}
		}
	}
}

// limitColours returns colours of several hues whose contrast with white
// is just at 4.5:1.
func limitColours(t *testing.T) []string {
	var out []string
	for _, hue := range [][3]float64{{1, 0.1, 0.1}, {0.1, 0.45, 1}, {0.1, 0.6, 0.2}, {0.5, 0.5, 0.5}, {0.7, 0.2, 0.9}} {
		for f := 1.0; f > 0; f -= 0.001 {
			c := fmt.Sprintf("#%02x%02x%02x", uint8(255*hue[0]*f), uint8(255*hue[1]*f), uint8(255*hue[2]*f))
			if r, _ := ContrastWithWhite(c); r >= MinContrast {
				out = append(out, c)
				break
			}
		}
	}
	if len(out) < 5 {
		t.Fatalf("found %v", out)
	}
	return out
}

func mustRGB(t *testing.T, s string) rgb {
	t.Helper()
	r, g, b, err := ParseColor(strings.TrimSpace(s))
	if err != nil {
		t.Fatal(err)
	}
	return rgb{r, g, b}
}
