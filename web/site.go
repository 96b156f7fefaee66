package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"math"
)

// Site is the city's own name, logo and colour, shown in the header of
// every page instead of Keyhall's (site.* in the configuration). The zero
// Site looks as Keyhall does out of the box.
type Site struct {
	// Name is the header's text and every page title's suffix; "" =
	// DefaultSiteName.
	Name string
	// Logo is a PNG or SVG image shown before the name (CheckLogo has
	// checked it); nil: none.
	Logo []byte
	// PrimaryColor ("#RRGGBB") colours the header, buttons and links; ""
	// keeps Keyhall's blue. It must reach MinContrast against white
	// (CheckPrimaryColor).
	PrimaryColor string
}

// DefaultSiteName is the name pages show when site.name is not set.
const DefaultSiteName = "Keyhall"

// MinContrast is WCAG 2.x's AA minimum for normal text (success criterion
// 1.4.3): the primary colour carries white text (header, buttons) and is
// the colour of links on white.
const MinContrast = 4.5

// MaxLogoBytes is the largest logo file Keyhall accepts.
const MaxLogoBytes = 256 << 10

// The paths the site's files are served under (GET /static/{name}), with
// the content hash as ?v= so that they may be cached for a year.
const (
	siteCSSName = "site.css"
	logoPNGName = "logo.png"
	logoSVGName = "logo.svg"
)

// logoSVGPolicy is the Content-Security-Policy the SVG logo is served
// with: opened on its own, it can run no script, load nothing and is
// sandboxed. On the pages it is an <img>, where a browser runs no script
// of an SVG anyway.
const logoSVGPolicy = "default-src 'none'; style-src 'unsafe-inline'; sandbox"

// ground is the pages' background (--ground in keyhall.css), on which the
// footer's links stand.
var ground = rgb{0xf1, 0xf3, 0xf5}

// tints are the backgrounds of keyhall.css on which the primary colour
// stands besides white: the pages' ground (footer, .secret), a secondary
// button under the pointer, and the notice, warning and alert boxes
// (--green-ground, --amber-ground, --red-ground).
var tints = []rgb{ground, {0xee, 0xf4, 0xfa}, {0xe8, 0xf4, 0xec}, {0xff, 0xf4, 0xdc}, {0xfd, 0xec, 0xec}}

type rgb struct{ r, g, b uint8 }

// ParseColor reads a colour written "#RRGGBB" (hex digits in either
// case), as site.primary_color is.
func ParseColor(s string) (r, g, b uint8, err error) {
	if len(s) != 7 || s[0] != '#' {
		return 0, 0, 0, fmt.Errorf("%q is not a colour written #RRGGBB, such as #0b4f8a", s)
	}
	var v [3]uint8
	for i := range v {
		hi, ok1 := hexDigit(s[1+2*i])
		lo, ok2 := hexDigit(s[2+2*i])
		if !ok1 || !ok2 {
			return 0, 0, 0, fmt.Errorf("%q is not a colour written #RRGGBB, such as #0b4f8a", s)
		}
		v[i] = hi<<4 | lo
	}
	return v[0], v[1], v[2], nil
}

func hexDigit(c byte) (uint8, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// luminance is the colour's relative luminance (WCAG 2.x, "relative
// luminance", sRGB).
func (c rgb) luminance() float64 {
	ch := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(c.r) + 0.7152*ch(c.g) + 0.0722*ch(c.b)
}

// contrastRatio is the contrast ratio of a and b (WCAG 2.x, "contrast ratio"):
// from 1 to 21.
func contrastRatio(a, b rgb) float64 {
	la, lb := a.luminance(), b.luminance()
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// ContrastWithWhite is the contrast ratio of "#RRGGBB" against white.
func ContrastWithWhite(s string) (float64, error) {
	r, g, b, err := ParseColor(s)
	if err != nil {
		return 0, err
	}
	return contrastRatio(rgb{r, g, b}, rgb{255, 255, 255}), nil
}

// CheckPrimaryColor checks site.primary_color: "#RRGGBB" with at least
// MinContrast against white, or "" for Keyhall's blue.
func CheckPrimaryColor(s string) error {
	if s == "" {
		return nil
	}
	ratio, err := ContrastWithWhite(s)
	if err != nil {
		return err
	}
	// Compared as WCAG rounds nothing: 4.49 fails.
	if ratio < MinContrast {
		return fmt.Errorf("%s has a contrast of %.2f:1 against white; WCAG AA needs at least %.1f:1 for the white text "+
			"of the header and buttons and for links: choose a darker colour", s, math.Floor(ratio*100)/100, MinContrast)
	}
	return nil
}

// darker is c mixed with black until it reaches MinContrast on each of
// the tints (and at least a fifth darker): the hover colour, and the
// colour wherever the primary colour stands on a tint rather than white
// (siteCSS): a colour at 4.5:1 on white is less on them (review of #16).
func (c rgb) darker() rgb {
	for f := 0.8; ; f -= 0.05 {
		d := rgb{uint8(float64(c.r) * f), uint8(float64(c.g) * f), uint8(float64(c.b) * f)}
		ok := true
		for _, t := range tints {
			ok = ok && contrastRatio(d, t) >= MinContrast
		}
		if ok || f <= 0 {
			return d
		}
	}
}

func (c rgb) String() string { return fmt.Sprintf("#%02x%02x%02x", c.r, c.g, c.b) }

// siteCSS is the stylesheet that puts the primary colour in place of
// Keyhall's blue, served as a file of its own after keyhall.css (no
// inline style: CSP style-src 'self').
func siteCSS(color string) ([]byte, error) {
	r, g, b, err := ParseColor(color)
	if err != nil {
		return nil, err
	}
	c := rgb{r, g, b}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "/* site.primary_color */\n:root {\n  --blue: %s;\n  --blue-dark: %s;\n  --focus-on-blue: #ffffff;\n}\n", c, c.darker())
	// On a tint the primary colour may fall below 4.5:1: the darker shade.
	buf.WriteString(".legal a, .notice a, .warning a, .alert a, .secret a,\n" +
		".notice button.link, .warning button.link, .alert button.link, .secret button.link { color: var(--blue-dark); }\n")
	buf.WriteString(".secondary:hover { color: var(--blue-dark); border-color: var(--blue-dark); }\n")
	return buf.Bytes(), nil
}

// CheckLogo checks a logo file's content: at most MaxLogoBytes, and a PNG
// that decodes or an SVG of allowed elements and attributes only, without
// references outside itself (checkSVG). It returns the file name Keyhall serves
// it under (logo.png or logo.svg).
func CheckLogo(b []byte) (string, error) {
	if len(b) > MaxLogoBytes {
		return "", fmt.Errorf("is %d KiB; at most %d KiB are allowed", (len(b)+1023)/1024, MaxLogoBytes/1024)
	}
	if bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			return "", fmt.Errorf("is not a valid PNG image: %w", err)
		}
		if cfg.Width > 4096 || cfg.Height > 4096 {
			return "", fmt.Errorf("is %d × %d pixels; at most 4096 × 4096 are allowed", cfg.Width, cfg.Height)
		}
		return logoPNGName, nil
	}
	if err := checkSVG(b); err != nil {
		return "", err
	}
	return logoSVGName, nil
}

// errNotImage says what a logo must be.
var errNotImage = errors.New("is neither a PNG nor an SVG image")

// siteFiles adds the site's stylesheet and logo to the static files.
func (p *pages) addSiteFiles(site Site) error {
	add := func(name string, body []byte, contentType, csp string) {
		sum := sha256.Sum256(body)
		p.static[name] = staticFile{body: body, hash: hex.EncodeToString(sum[:8]), contentType: contentType, csp: csp}
	}
	if site.PrimaryColor != "" {
		if err := CheckPrimaryColor(site.PrimaryColor); err != nil {
			return fmt.Errorf("site primary colour: %w", err)
		}
		css, err := siteCSS(site.PrimaryColor)
		if err != nil {
			return err
		}
		add(siteCSSName, css, "text/css; charset=utf-8", "")
	}
	if site.Logo != nil {
		name, err := CheckLogo(site.Logo)
		if err != nil {
			return fmt.Errorf("site logo: %w", err)
		}
		if name == logoSVGName {
			add(name, site.Logo, "image/svg+xml", logoSVGPolicy)
		} else {
			add(name, site.Logo, "image/png", "")
		}
		p.logo = name
	}
	return nil
}

// siteView is what every page shows of the site: its name, and the
// addresses of its logo and stylesheet ("" for none).
type siteView struct {
	Name string
	Logo string
	CSS  string
}

// Called is the site's name as a sentence names it: Keyhall as it is,
// a city's name in quotation marks of lang ("Code für „Stadt Münster“").
func (v siteView) Called(lang string) string {
	if v.Name == DefaultSiteName {
		return v.Name
	}
	if lang == "en" {
		return "“" + v.Name + "”"
	}
	return "„" + v.Name + "“"
}

// newSiteView is the siteView of site for pages p.
func newSiteView(site Site, p *pages) siteView {
	v := siteView{Name: site.Name}
	if v.Name == "" {
		v.Name = DefaultSiteName
	}
	if p.logo != "" {
		v.Logo, _ = p.staticURL(p.logo)
	}
	if _, ok := p.static[siteCSSName]; ok {
		v.CSS, _ = p.staticURL(siteCSSName)
	}
	return v
}
