package web

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// The site of the tests below: a city's name, its colour (5.6:1 against
// white) and an SVG logo.
const (
	testSiteName  = "Stadt Münster – Anmeldung"
	testSiteColor = "#a4161a"
	testLogoSVG   = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40" width="40" height="40">` +
		`<defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/></linearGradient></defs>` +
		`<circle cx="20" cy="20" r="18" fill="url(#g)"/></svg>`
)

func withTestSite(c *Config) {
	c.Site = Site{Name: testSiteName, PrimaryColor: testSiteColor, Logo: []byte(testLogoSVG)}
}

var (
	headerBrand = regexp.MustCompile(`(?s)<header class="top">.*?<span class="brand" id="site-name">(.*?)</span>`)
	pageTitle   = regexp.MustCompile(`<title>(.*?)</title>`)
	siteCSSLink = regexp.MustCompile(`<link rel="stylesheet" href="(/static/site\.css\?v=[0-9a-f]+)">`)
	logoImg     = regexp.MustCompile(`<img class="logo" id="site-logo" src="(/static/logo\.svg\?v=[0-9a-f]+)" alt="">`)
)

// TestSiteInEveryHeader: with site.* set, the sign-in page, the app code
// page, an error page and the IT console carry the city's name in the
// header and the title, its logo and its stylesheet; the pages' CSP stays
// as strict as without.
func TestSiteInEveryHeader(t *testing.T) {
	con := newConsole(t, withTestSite)
	f := con.f
	f.addUser("anna")
	c := f.client()
	pages := map[string]string{}
	_, pages["/login"] = c.get("/login")
	c.startAt("anna")
	res, body := c.form("/login/switch", url.Values{"to": {"totp"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("switch to the app: %d %s", res.StatusCode, body)
	}
	_, pages["/login/totp"] = c.get(res.Header.Get("Location"))
	res, pages["/nowhere"] = c.get("/nowhere")
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /nowhere: %d", res.StatusCode)
	}
	if got := res.Header.Get("Content-Security-Policy"); got != contentSecurityPolicy {
		t.Errorf("an error page's CSP: %q, want the pages' %q", got, contentSecurityPolicy)
	}
	res, pages["/admin"] = con.as(con.adam, authn.LevelPhrh, 0).get("/admin")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin: %d", res.StatusCode)
	}
	for path, body := range pages {
		m := headerBrand.FindStringSubmatch(body)
		if m == nil || !strings.HasSuffix(m[1], ">"+testSiteName) || !logoImg.MatchString(m[1]) {
			t.Errorf("%s: the header's brand %q, want the logo and %q", path, m, testSiteName)
		}
		if m := pageTitle.FindStringSubmatch(body); m == nil || !strings.HasSuffix(m[1], " – "+testSiteName) || strings.Contains(m[1], "Keyhall") {
			t.Errorf("%s: title %q, want it to end in the site's name", path, m)
		}
		if !siteCSSLink.MatchString(body) {
			t.Errorf("%s: no link to the site's stylesheet", path)
		}
	}
	if want := "Code für „" + testSiteName + "“ ein"; !strings.Contains(pages["/login/totp"], want) {
		t.Errorf("the app code page does not name the app's entry %q:\n%s", want, pages["/login/totp"])
	}

	// The stylesheet: the colour in place of Keyhall's blue, cached for a
	// year, CSP-strict like every page.
	css := siteCSSLink.FindStringSubmatch(pages["/login"])[1]
	res, body = c.get(css)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/css; charset=utf-8" ||
		!strings.Contains(res.Header.Get("Cache-Control"), "max-age=31536000") ||
		res.Header.Get("Content-Security-Policy") != contentSecurityPolicy {
		t.Errorf("GET %s: %d %v", css, res.StatusCode, res.Header)
	}
	if !strings.Contains(body, "--blue: "+testSiteColor+";") {
		t.Errorf("the site's stylesheet does not set --blue to %s:\n%s", testSiteColor, body)
	}
	// The footer's links stand on the grey ground: their colour reaches
	// 4.5:1 there too.
	dark := regexp.MustCompile(`--blue-dark:\s*(#[0-9a-f]{6})`).FindStringSubmatch(body)
	if dark == nil || contrast(t, dark[1], "#f1f3f5") < 4.5 || contrast(t, dark[1], "#ffffff") < 4.5 {
		t.Errorf("--blue-dark %q: less than 4.5:1 on the ground or on white", dark)
	}

	// The logo: an SVG, served as one, with a CSP that runs no script.
	logo := logoImg.FindStringSubmatch(pages["/login"])[1]
	res, body = c.get(logo)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/svg+xml" || body != testLogoSVG ||
		!strings.Contains(res.Header.Get("Cache-Control"), "immutable") || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("GET %s: %d %v", logo, res.StatusCode, res.Header)
	}
	if csp := res.Header.Get("Content-Security-Policy"); csp != logoSVGPolicy || strings.Contains(csp, "script-src") {
		t.Errorf("the logo's CSP: %q, want %q", csp, logoSVGPolicy)
	}
}

// TestSiteDefault: without site.* a page looks as Keyhall always did: its
// name in the header and the title, no logo, no second stylesheet, and
// there is none to fetch.
func TestSiteDefault(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	_, body := c.get("/login")
	if m := headerBrand.FindStringSubmatch(body); m == nil || m[1] != "Keyhall" {
		t.Errorf("the header's brand: %q, want Keyhall", m)
	}
	if m := pageTitle.FindStringSubmatch(body); m == nil || !strings.HasSuffix(m[1], " – Keyhall") {
		t.Errorf("title %q", m)
	}
	if strings.Contains(body, "site.css") || strings.Contains(body, "site-logo") {
		t.Error("a page without site.* links a site stylesheet or logo")
	}
	for _, name := range []string{"site.css", "logo.svg", "logo.png"} {
		if res, _ := c.get("/static/" + name); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET /static/%s: %d, want 404", name, res.StatusCode)
		}
	}
}

// TestSitePNGLogo: a PNG logo is served as image/png with the pages' CSP.
func TestSitePNGLogo(t *testing.T) {
	b := testPNG(t, 64, 32)
	f := newFixture(t, func(c *Config) { c.Site = Site{Logo: b} })
	c := f.client()
	_, body := c.get("/login")
	m := regexp.MustCompile(`id="site-logo" src="(/static/logo\.png\?v=[0-9a-f]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no PNG logo on the page:\n%s", body)
	}
	res, got := c.get(m[1])
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/png" || got != string(b) ||
		res.Header.Get("Content-Security-Policy") != contentSecurityPolicy {
		t.Errorf("GET %s: %d %v", m[1], res.StatusCode, res.Header)
	}
}

func testPNG(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(1, 1, color.RGBA{164, 22, 26, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSiteRefused: New refuses a colour with too little contrast and a
// logo that could run script, whoever calls it.
func TestSiteRefused(t *testing.T) {
	for _, s := range []Site{{PrimaryColor: "#777777"}, {PrimaryColor: "red"}, {Logo: []byte(`<svg><script>alert(1)</script></svg>`)}} {
		if _, err := New(Config{PublicURL: &url.URL{Scheme: "http", Host: "localhost:8080"}, Site: s}); err == nil {
			t.Errorf("New with site %+v: no error", s)
		}
	}
}

func TestCheckPrimaryColor(t *testing.T) {
	for _, tc := range []struct {
		in, err string
	}{
		{"", ""},
		{"#0b4f8a", ""}, // Keyhall's blue, 8.6:1
		{"#767676", ""}, // 4.54:1
		{"#0B4F8A", ""}, // either case
		{"#777777", "contrast of 4.47:1 against white; WCAG AA needs at least 4.5:1"},
		{"#ffffff", "1.00:1"},
		{"#0b4f8", "#RRGGBB"},
		{"0b4f8a", "#RRGGBB"},
		{"#0b4g8a", "#RRGGBB"},
		{"#0b4f8a ", "#RRGGBB"},
	} {
		err := CheckPrimaryColor(tc.in)
		if got := fmt.Sprint(err); (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(got, tc.err)) {
			t.Errorf("CheckPrimaryColor(%q) = %v, want %q", tc.in, err, tc.err)
		}
	}
}

func TestCheckLogo(t *testing.T) {
	png := testPNG(t, 10, 10)
	for _, tc := range []struct {
		name, in, want, err string
	}{
		{"png", string(png), "logo.png", ""},
		{"svg", testLogoSVG, "logo.svg", ""},
		{"svg with xml declaration", `<?xml version="1.0"?>` + "\n" + testLogoSVG, "logo.svg", ""},
		{"too big", string(png) + strings.Repeat("x", MaxLogoBytes), "", "at most 256 KiB"},
		{"broken png", string(png[:30]), "", "not a valid PNG"},
		{"text", "hello", "", "neither a PNG nor an SVG"},
		{"html", `<html><script>alert(1)</script></html>`, "", "neither a PNG nor an SVG"},
		{"script", `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`, "", "<script>"},
		{"SCRIPT", `<svg xmlns="http://www.w3.org/2000/svg"><SCRIPT>alert(1)</SCRIPT></svg>`, "", "<SCRIPT>"},
		{"onload", `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`, "", "event handler"},
		{"foreignObject", `<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><p>x</p></foreignObject></svg>`, "", "foreignObject"},
		{"javascript href", `<svg xmlns="http://www.w3.org/2000/svg" xmlns:x="http://www.w3.org/1999/xlink"><a x:href="javascript:alert(1)"><rect/></a></svg>`, "", "<a> element"},
		{"external image", `<svg xmlns="http://www.w3.org/2000/svg"><image href="https://evil.example/x.png"/></svg>`, "", "<image> element"},
		{"external style", `<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(https://evil.example/x.css);</style></svg>`, "", "at-rule"},
		{"entity", `<!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg"/>`, "", "DOCTYPE"},
		{"not closed", `<svg xmlns="http://www.w3.org/2000/svg"><g>`, "", "well-formed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CheckLogo([]byte(tc.in))
			if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("CheckLogo = %q, %v; want %q, %q", got, err, tc.want, tc.err)
			}
		})
	}
}

// FuzzParseColor: the colour parser never panics, accepts exactly
// "#RRGGBB", and gives back the colour it read; its contrast is within
// WCAG's 1 to 21.
func FuzzParseColor(f *testing.F) {
	for _, s := range []string{"#0b4f8a", "#FFFFFF", "#000000", "#12345", "#1234567", "0b4f8a#", "#gggggg", "#ｆｆｆｆｆｆ", ""} {
		f.Add(s)
	}
	valid := regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
	f.Fuzz(func(t *testing.T, s string) {
		r, g, b, err := ParseColor(s)
		if (err == nil) != valid.MatchString(s) {
			t.Fatalf("ParseColor(%q): %v", s, err)
		}
		if err != nil {
			return
		}
		if back := fmt.Sprintf("#%02x%02x%02x", r, g, b); back != strings.ToLower(s) {
			t.Fatalf("ParseColor(%q) read %s", s, back)
		}
		ratio, err := ContrastWithWhite(s)
		if err != nil || ratio < 1 || ratio > 21.0001 {
			t.Fatalf("ContrastWithWhite(%q) = %v, %v", s, ratio, err)
		}
		if (CheckPrimaryColor(s) == nil) != (ratio >= MinContrast) {
			t.Fatalf("CheckPrimaryColor(%q) disagrees with the ratio %v", s, ratio)
		}
		if _, err := siteCSS(s); err != nil {
			t.Fatalf("siteCSS(%q): %v", s, err)
		}
	})
}
