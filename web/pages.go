package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageNames are the pages, one template file each, all drawn in layout.html.
var pageNames = []string{"login", "key", "totp", "recovery", "password", "account", "error",
	"enroll", "enroll_choose", "enroll_key", "enroll_app", "enroll_added", "enroll_codes", "enroll_password", "enroll_done", "enroll_invalid", "account_factors", "email_confirm", "freeze",
	"register", "register_sent", "register_confirm", "register_invalid",
	"admin", "admin_people", "admin_person", "admin_audit", "admin_letters",
	"account_delete", "account_deleted", "recover"}

// view is what a page template sees.
type view struct {
	Page       string // template name, also the page's step ("key", "totp", …)
	Lang       string // "de" or "en"
	OtherLang  string // the language the switch leads to
	SwitchLang string // the current address with ?lang=OtherLang
	// LangPath, when set, is the GET address that shows this page again
	// with the same content (a page shown once after a form: the switch
	// must not lose it); the switch leads there.
	LangPath string
	Error    string // shown in the role=alert region
	Notice   string // shown in the role=status region
	HelpLine string // where the IT service is reached, "" if not configured
	Username string
	ReturnTo string
	NeedKey  bool // a tool asked for a key (step-up): the sign-in starts at the key
	Account  *accountView
	Enroll   *enrollView   // enrollment pages and /account/factors (enroll*.go)
	Admin    *adminView    // the IT console's pages (admin*.go)
	Register *registerView // the registration pages (register.go)
	// RegisterOpen: citizens may register; the sign-in page links to it.
	RegisterOpen bool
	// Next is, for a script, where to go after an error (JSON only).
	Next string
	// Legal are the links of every page's footer (render sets them).
	Legal LegalLinks

	Recover *recoverView // the recovery pages (recover.go)
	// OfferRecover: /login and the recovery-code page link to /recover.
	OfferRecover bool
	// Site is the city's name, logo and stylesheet (render sets it).
	Site siteView
}

// pages holds the parsed templates and the static files with their hashes.
type pages struct {
	tmpl   map[string]*template.Template
	static map[string]staticFile
	logo   string // the site's logo among static ("" for none: site.go)
}

type staticFile struct {
	body        []byte
	hash        string // hex SHA-256, first 16 characters: the ETag and ?v=
	contentType string
	csp         string // a Content-Security-Policy of its own ("": the pages')
}

// loadPages parses every template and hashes every static file.
func loadPages() (*pages, error) {
	p := &pages{tmpl: make(map[string]*template.Template), static: make(map[string]staticFile)}
	err := fs.WalkDir(staticFS, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}[path.Ext(name)]
		if ct == "" {
			ct = "application/octet-stream"
		}
		p.static[path.Base(name)] = staticFile{body: b, hash: hex.EncodeToString(sum[:8]), contentType: ct}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read static files: %w", err)
	}
	funcs := template.FuncMap{
		"t":      translate,
		"static": p.staticURL,
		"when":   formatTime,
		// personID is the id in an audit subject "user:<id>".
		"personID": func(subject string) string { return strings.TrimPrefix(subject, "user:") },
	}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		p.tmpl[name] = t
	}
	return p, nil
}

// translate returns the text under key in lang; an unknown key is an error,
// so a page with a typo fails instead of showing a blank.
func translate(lang, key string) (string, error) {
	m, ok := texts[key]
	if !ok {
		m, ok = enrollTexts[key]
	}
	if !ok {
		m, ok = adminTexts[key]
	}
	if !ok {
		m, ok = dataTexts[key]
		if !ok {
			m, ok = registerTexts[key]
		}
		if !ok {
			m, ok = recoverTexts[key]
		}
	}
	if !ok {
		return "", fmt.Errorf("no text %q", key)
	}
	return m.in(lang), nil
}

// staticURL returns the address of a static file with its content hash, so
// that it can be cached for a year and still change with each release.
func (p *pages) staticURL(name string) (string, error) {
	f, ok := p.static[name]
	if !ok {
		return "", fmt.Errorf("no static file %q", name)
	}
	return "/static/" + name + "?v=" + f.hash, nil
}

// formatTime writes t the way people read dates in lang.
func formatTime(lang string, t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	t = t.Local()
	if lang == "en" {
		return t.Format("2 Jan 2006, 15:04")
	}
	return t.Format("02.01.2006, 15:04") + " Uhr"
}

// render draws v as a complete page with status. The page is drawn into a
// buffer first, so a template error becomes a clean error, not half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, v *view) error {
	t, ok := s.pages.tmpl[v.Page]
	if !ok {
		return fmt.Errorf("render: no page %q", v.Page)
	}
	v.Lang = lang(r)
	v.OtherLang = map[string]string{"de": "en", "en": "de"}[v.Lang]
	v.SwitchLang = switchLangURL(r, v.OtherLang)
	v.HelpLine = s.helpLine(v.Lang)
	v.Legal = s.legal
	v.Site = s.site
	v.RegisterOpen = s.register
	v.OfferRecover = s.recoverOn
	if v.LangPath != "" {
		v.SwitchLang = v.LangPath + "?lang=" + v.OtherLang
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		return fmt.Errorf("render %s: %w", v.Page, err)
	}
	rememberLang(w, r)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Accept-Language, Cookie")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
	return nil
}

// page renders v with status 200, and fails with 500 when the template does.
func (s *Server) page(w http.ResponseWriter, r *http.Request, v *view) {
	if err := s.render(w, r, http.StatusOK, v); err != nil {
		s.fail(w, r, http.StatusInternalServerError, msgInternal, err)
	}
}

// switchLangURL is the current page's address (as a GET) with lang set.
// After a form was sent, it leads to the same page's GET address.
func switchLangURL(r *http.Request, lang string) string {
	q := url.Values{}
	if r.Method == http.MethodGet {
		q = r.URL.Query()
	}
	q.Set("lang", lang)
	return r.URL.EscapedPath() + "?" + q.Encode()
}

// staticFile serves an embedded file. With the current ?v= hash it may be
// cached for a year; otherwise the browser must revalidate (ETag).
func (s *Server) staticFile(w http.ResponseWriter, r *http.Request) {
	f, ok := s.pages.static[r.PathValue("name")]
	if !ok {
		s.fail(w, r, http.StatusNotFound, msgNotFound, nil)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	if f.csp != "" {
		h.Set("Content-Security-Policy", f.csp)
	}
	h.Set("ETag", `"`+f.hash+`"`)
	if r.URL.Query().Get("v") == f.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if strings.Contains(r.Header.Get("If-None-Match"), `"`+f.hash+`"`) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(f.body)
}
