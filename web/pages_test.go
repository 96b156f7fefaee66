package web

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

// inlineCode finds what a strict CSP (script-src 'self'; style-src 'self')
// would block: a script without src, a style element or attribute, an
// event-handler attribute, a javascript: address.
var inlineCode = regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|<script(?:(?:\s(?:defer|async|type="[^"]*"))*)>|<style|\sstyle=|\son[a-z]+=|javascript:`)

func TestPagesRender(t *testing.T) {
	s := newTestServer(t, "http://localhost:8080")
	s.legal = testLegal // every page links the city's legal pages (legal_test.go)
	views := map[string]*view{
		"login":    {Page: "login", ReturnTo: "/account", Notice: "x"},
		"key":      {Page: "key", Username: "anna"},
		"totp":     {Page: "totp", Username: "anna", Error: "falsch"},
		"recovery": {Page: "recovery", Username: "anna"},
		"password": {Page: "password", Username: "anna"},
		"error":    {Page: "error", Error: "kaputt"},
		"account": {Page: "account", Account: &accountView{
			Username: "anna", DisplayName: "Anna Müller", AuthTime: time.Now(), Method: "Sicherheitsschlüssel und Passwort", ACR: "c",
			Factors: []factorRow{{ID: "k1", Name: "YubiKey 5 NFC"}, {ID: "a1", App: true}}, CodesLeft: 3,
			RecoveryOnly: true, Sessions: []sessionRow{{Device: "Chrome · Linux", Current: true}, {Device: "Safari · iPadOS", Handle: "0123456789abcdef"}},
			SignIns: []signInRow{{Time: time.Now(), ClientAddr: "192.0.2.7", ACR: "Schlüssel", RecoveryOnly: true}},
		}},
		"email_confirm": {Page: "email_confirm"},
		"freeze":        {Page: "freeze", Username: "anna"},
	}
	maps.Copy(views, enrollTestViews())
	maps.Copy(views, adminTestViews())
	maps.Copy(views, dataTestViews())
	maps.Copy(views, registerTestViews())
	maps.Copy(views, recoverTestViews())
	if len(views) != len(pageNames) {
		t.Fatalf("test covers %d pages, there are %d", len(views), len(pageNames))
	}
	for name, v := range views {
		for _, l := range []string{"de", "en"} {
			t.Run(name+"/"+l, func(t *testing.T) {
				r := httptest.NewRequest("GET", "/login?lang="+l, nil)
				rec := httptest.NewRecorder()
				if err := s.render(rec, r, http.StatusOK, v); err != nil {
					t.Fatal(err)
				}
				body := rec.Body.String()
				if m := inlineCode.FindString(body); m != "" {
					t.Errorf("page has inline code the CSP blocks: %q", m)
				}
				if !strings.Contains(body, `<html lang="`+l+`">`) {
					t.Errorf("page is not marked as %s", l)
				}
				if !strings.Contains(body, `role="alert"`) && name != "account" {
					t.Errorf("page has no alert region")
				}
				if m := legalLinksMissing(body); m != "" {
					t.Errorf("page's footer lacks %s", m)
				}
				if rec.Header().Get("Cache-Control") != "no-store" {
					t.Errorf("page may be cached")
				}
				for _, in := range regexp.MustCompile(`<input [^>]*>`).FindAllString(body, -1) {
					if strings.Contains(in, `type="hidden"`) || strings.Contains(in, " hidden") {
						continue
					}
					id := regexp.MustCompile(`id="([^"]+)"`).FindStringSubmatch(in)
					if id == nil || !strings.Contains(body, `<label for="`+id[1]+`"`) {
						t.Errorf("input without a label: %s", in)
					}
				}
			})
		}
	}
}

func TestInlineCodePattern(t *testing.T) {
	for _, bad := range []string{`<script>alert(1)</script>`, `<p style="x">`, `<a onclick="x">`, `<style>p{}</style>`, `<script defer>x</script>`} {
		if !inlineCode.MatchString(bad) {
			t.Errorf("pattern misses %q", bad)
		}
	}
	if inlineCode.MatchString(`<script src="/static/webauthn.js?v=1" defer></script>`) {
		t.Error("pattern flags an external script")
	}
}

func TestStaticFiles(t *testing.T) {
	s := newTestServer(t, "http://localhost:8080")
	for _, name := range []string{"keyhall.css", "webauthn.js"} {
		u, err := s.pages.staticURL(name)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", u, nil))
		if rec.Code != 200 || !strings.Contains(rec.Header().Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s: %d, Cache-Control %q", u, rec.Code, rec.Header().Get("Cache-Control"))
		}
		etag := rec.Header().Get("ETag")
		req := httptest.NewRequest("GET", "/static/"+name, nil)
		req.Header.Set("If-None-Match", etag)
		rec = httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotModified || rec.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("GET /static/%s with its ETag: %d, Cache-Control %q", name, rec.Code, rec.Header().Get("Cache-Control"))
		}
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/static/nothing.js", nil))
	if rec.Code != 404 {
		t.Errorf("unknown static file: %d", rec.Code)
	}
}

func TestLanguageSwitch(t *testing.T) {
	s := newTestServer(t, "http://localhost:8080")
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/login?return_to=%2Fx&lang=en", nil)
	req.Header.Set("Accept-Language", "de")
	s.ServeHTTP(rec, req)
	body := rec.Body.String()
	if !strings.Contains(body, "Sign in") || !strings.Contains(body, `hreflang="de"`) {
		t.Fatalf("?lang=en did not give the English page:\n%s", body)
	}
	var lang *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == langCookie {
			lang = c
		}
	}
	if lang == nil || lang.Value != "en" || strings.HasPrefix(lang.Name, "__Host-") {
		t.Fatalf("lang cookie %+v", lang)
	}
	if !strings.Contains(body, "return_to=%2Fx") {
		t.Errorf("the switch loses the page's query: %s", regexp.MustCompile(`href="[^"]*lang=de[^"]*"`).FindString(body))
	}
	req = httptest.NewRequest("GET", "/login", nil)
	req.Header.Set("Accept-Language", "de")
	req.AddCookie(lang)
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if !strings.Contains(rec.Body.String(), `<html lang="en">`) {
		t.Errorf("the lang cookie does not win over Accept-Language")
	}
}
