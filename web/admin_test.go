package web

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/desk"
)

// console is a server with the IT console on: helga of the helpdesk, adam
// the administrator, nora without a role, and the councillor Renate Müller
// (directory person, group rat, which the policy protects).
type console struct {
	f                         *fixture
	helga, adam, nora, renate authn.User
	renateKey                 testKey
	renateToken               string // her open invitation's link
}

func deskConfig(c *Config) {
	councilPolicy(c)
	c.Desk = desk.Config{
		Roles:      map[desk.Role][]string{desk.RoleHelpdesk: {"it-helpdesk"}},
		AdminGroup: "admins", Protected: []string{"rat"}, Approval: []string{"rat"},
		Sender: enroll.Sender{Name: "Stadt Musterstadt", Address: []string{"IT-Service", "Markt 1", "48143 Musterstadt"},
			HelpPhone: "0251 492-0"},
	}
}

// newConsole starts the console; opts may change the Config after
// deskConfig.
func newConsole(t *testing.T, opts ...func(*Config)) *console {
	t.Helper()
	f := newFixture(t, append([]func(*Config){deskConfig}, opts...)...)
	c := &console{f: f, helga: f.addUser("helga"), adam: f.addUser("adam"), nora: f.addUser("nora")}
	// Her letters go to the address the city stored.
	if _, err := f.store.UpdateUser(context.Background(), c.nora.ID, func(u authn.User) (authn.User, error) {
		u.PostalAddress = []string{"Prinzipalmarkt 1", "48143 Münster"}
		return u, nil
	}, f.audit("user.set_address")); err != nil {
		t.Fatal(err)
	}
	f.addGroup(t, "it-helpdesk", c.helga)
	f.addGroup(t, "admins", c.adam)
	now := time.Now()
	c.renate = authn.User{ID: authn.NewID(), ExternalID: "guid-renate", Username: "rmueller", DisplayName: "Renate Müller",
		Email: "renate.mueller@stadt.example", Phone: "+49 251 492-1234", Status: authn.StatusActive,
		PostalAddress: []string{"Ratsweg 5", "48143 Musterstadt"},
		Source:        authn.SourceDirectory, Directory: "rathaus", CreatedAt: now, UpdatedAt: now}
	if err := f.store.CreateUser(context.Background(), c.renate, f.audit("user.create")); err != nil {
		t.Fatal(err)
	}
	f.addGroup(t, "rat", c.renate)
	c.renateKey = newTestKey(t)
	f.addKey(c.renate, &c.renateKey, 0)
	if f.srv.store.Load().desk == nil {
		t.Fatalf("the desk was not set up:\n%s", f.logs.String())
	}
	return c
}

// as returns a client signed in as u at level acr, authTime ago.
func (c *console) as(u authn.User, acr authn.Level, ago time.Duration) *client {
	cl := c.f.client()
	ck := c.f.sessionCookie(u, time.Now().Add(-ago), false)
	if acr != authn.LevelPhrh {
		c.f.setACR(ck, acr)
	}
	cl.cookies[SessionCookie] = ck.Value
	return cl
}

// send sends method path with the client's cookies and, for crossOrigin,
// the headers a browser sends with a form from another site.
func (cl *client) send(method, path string, form url.Values, crossOrigin bool) (*http.Response, string) {
	cl.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, cl.base+path, body)
	if err != nil {
		cl.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept-Language", "de-DE")
	if crossOrigin {
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", "https://evil.example")
	}
	for k, v := range cl.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	res, err := (&http.Transport{}).RoundTrip(req)
	if err != nil {
		cl.t.Fatal(err)
	}
	return res, readBody(cl.t, res)
}

// auditCount counts the audit events with action.
func (f *fixture) auditCount(action string) int {
	f.t.Helper()
	var n int
	if err := f.store.DB().QueryRow("SELECT COUNT(*) FROM audit_events WHERE action = $1", action).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *fixture) auditTotal() int {
	f.t.Helper()
	var n int
	if err := f.store.DB().QueryRow("SELECT COUNT(*) FROM audit_events").Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

func setsCookie(res *http.Response, name string) bool {
	for _, c := range res.Cookies() {
		if c.Name == name && c.Value != "" {
			return true
		}
	}
	return false
}

// samePage drops what a page says about its own address (the language
// switch's link), so that two answers can be compared.
func samePage(body string) string {
	return regexp.MustCompile(`href="[^"]*lang=en[^"]*"`).ReplaceAllString(body, `href="?lang=en"`)
}

// TestAdminAuthorisation tries every console route and action as anonymous,
// as a person without a role, as helpdesk and admin, with a stale sign-in,
// with a sign-in by app, and cross-origin: only the right cells reach the
// console; nobody without a role learns that it exists; each refusal of a
// signed-in person is audited; no GET writes.
func TestAdminAuthorisation(t *testing.T) {
	c := newConsole(t)
	f := c.f
	id := c.renate.ID
	form := url.Values{"reason": {"INC-4711"}, "check": {"callback"}, "delivery": {"desk"}, "credential": {c.renateKey.credID}}
	routes := []struct{ method, path string }{
		{"GET", "/admin"},
		{"GET", "/admin/people?q=muller"},
		{"GET", "/admin/people/" + id},
		{"GET", "/admin/audit?action=admin"},
		{"GET", "/admin/audit/export?format=csv"},
		{"GET", "/admin/letters"},
		{"POST", "/admin/letters"},
		{"POST", "/admin/notice-letters"},
		{"POST", "/admin/people/" + id + "/invite"},
		{"POST", "/admin/people/" + id + "/reset"},
		{"POST", "/admin/people/" + id + "/revoke"},
		{"POST", "/admin/people/" + id + "/end-sessions"},
		{"POST", "/admin/people/" + id + "/lift-throttle"},
		{"POST", "/admin/people/" + id + "/disable"},
		{"POST", "/admin/people/" + id + "/enable"},
		{"POST", "/admin/people/" + id + "/freeze"},
		{"POST", "/admin/people/" + id + "/unfreeze"},
		{"POST", "/admin/people/" + id + "/role"},
		{"POST", "/admin/approvals/nope/approve"},
	}
	adminOnlyGET := map[string]bool{"/admin/audit/export?format=csv": true}
	// What an unknown address answers, by method: the console's 404 must
	// not differ from it.
	anon := f.client()
	_, unknownGet := anon.send("GET", "/nothing-here", nil, false)
	_, unknownPost := anon.send("POST", "/nothing-here", form, false)
	unknownGet, unknownPost = samePage(unknownGet), samePage(unknownPost)

	type outcome int
	const (
		reached   outcome = iota // the console answered (the desk decides the action)
		notFound                 // 404 like any unknown address
		keySignIn                // 303 to the key sign-in
		crossSite                // 403 of the cross-origin protection
		plainKey                 // 403: the key just used is not attested as hardware
	)
	actors := []struct {
		name        string
		client      func() *client
		crossOrigin bool
		get, post   outcome
		audited     bool // refusals are audited
	}{
		{"anonymous", f.client, false, notFound, notFound, false},
		{"no role", func() *client { return c.as(c.nora, authn.LevelPhrh, 0) }, false, notFound, notFound, true},
		{"helpdesk", func() *client { return c.as(c.helga, authn.LevelPhrh, 0) }, false, reached, reached, false},
		{"admin", func() *client { return c.as(c.adam, authn.LevelPhrh, 0) }, false, reached, reached, false},
		{"helpdesk, signed in 11 minutes ago", func() *client { return c.as(c.helga, authn.LevelPhrh, 11*time.Minute) }, false, reached, keySignIn, true},
		{"helpdesk, signed in with an app", func() *client { return c.as(c.helga, authn.LevelMFA, 0) }, false, keySignIn, keySignIn, true},
		{"helpdesk, key but not hardware (phr)", func() *client { return c.as(c.helga, authn.LevelPhr, 0) }, false, plainKey, plainKey, true},
		{"helpdesk, key but not hardware (phr), 11 minutes ago", func() *client { return c.as(c.helga, authn.LevelPhr, 11*time.Minute) }, false, keySignIn, keySignIn, true},
		{"helpdesk, cross-origin", func() *client { return c.as(c.helga, authn.LevelPhrh, 0) }, true, reached, crossSite, true},
		{"no role, cross-origin", func() *client { return c.as(c.nora, authn.LevelPhrh, 0) }, true, notFound, crossSite, true},
	}
	for _, a := range actors {
		for _, rt := range routes {
			t.Run(a.name+"/"+rt.method+" "+rt.path, func(t *testing.T) {
				cl := a.client()
				want := a.get
				var fv url.Values
				if rt.method == "POST" {
					want, fv = a.post, form
				}
				// The export is a GET that audits itself: only from the
				// console's own page, like a POST.
				if strings.HasPrefix(rt.path, "/admin/audit/export") && a.crossOrigin && want == reached {
					want = crossSite
				}
				// Each cell is a new try (TestAdminRefusalsBounded holds the
				// bound on how many refusals of one person are audited).
				for _, u := range []authn.User{c.nora, c.helga, c.adam} {
					if err := f.store.ResetThrottle(context.Background(), "admin-refused:user:"+u.ID); err != nil {
						t.Fatal(err)
					}
				}
				refusedBefore, totalBefore, exportsBefore := f.auditCount("admin.refused"), f.auditTotal(), f.auditCount("audit.export")
				res, body := cl.send(rt.method, rt.path, fv, a.crossOrigin)
				body = samePage(body)
				loc := res.Header.Get("Location")
				var got outcome
				switch {
				case res.StatusCode == http.StatusNotFound && (body == unknownGet || body == unknownPost):
					got = notFound
				case res.StatusCode == http.StatusSeeOther && loc == "/login/key" && setsCookie(res, PendingCookie):
					got = keySignIn
				case res.StatusCode == http.StatusForbidden && strings.Contains(body, msgCrossOrigin.DE):
					got = crossSite
				case res.StatusCode == http.StatusForbidden && strings.Contains(body, msgConsoleKeyNotAttested.DE):
					got = plainKey
				default:
					got = reached
				}
				if got != want {
					t.Fatalf("%s %s as %s: %d %s, outcome %d, want %d\n%.400s", rt.method, rt.path, a.name, res.StatusCode, loc, got, want, body)
				}
				if got == notFound && body != map[string]string{"GET": unknownGet, "POST": unknownPost}[rt.method] {
					t.Errorf("the console's 404 differs from an unknown address's")
				}
				refused := f.auditCount("admin.refused") - refusedBefore
				if got != reached && a.audited && refused != 1 {
					t.Errorf("refusal audited %d times, want once", refused)
				}
				if !a.audited && refused != 0 {
					t.Errorf("%d refusals audited, want none", refused)
				}
				// The audit export is the one GET that writes: it audits itself.
				exported := f.auditCount("audit.export") - exportsBefore
				if rt.method == "GET" && f.auditTotal()-totalBefore != refused+exported {
					t.Errorf("a GET wrote %d audit events besides refusals", f.auditTotal()-totalBefore-refused)
				}
				wantStatus := http.StatusOK
				if adminOnlyGET[rt.path] && !strings.HasPrefix(a.name, "admin") {
					wantStatus = http.StatusForbidden // the desk's refusal: she has a role, not this one
				}
				if got == reached && rt.method == "GET" && res.StatusCode != wantStatus {
					t.Errorf("GET %s as %s: %d, want %d", rt.path, a.name, res.StatusCode, wantStatus)
				}
			})
		}
	}
}

// TestAdminAuthorisationRecoverySession: a session from a recovery code
// carries no role on the console.
func TestAdminAuthorisationRecoverySession(t *testing.T) {
	c := newConsole(t)
	cl := c.f.client()
	cl.cookies[SessionCookie] = c.f.sessionCookie(c.helga, time.Now(), true).Value
	if res, _ := cl.get("/admin"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /admin with a recovery-only session: %d, want 404", res.StatusCode)
	}
}

// TestAdminSearch: "muller", "müller", "mueller" and "MÜL" find Renate
// Müller; 50 a page with a link to the next.
func TestAdminSearch(t *testing.T) {
	c := newConsole(t)
	cl := c.as(c.helga, authn.LevelPhrh, 0)
	for _, q := range []string{"muller", "müller", "mueller", "MÜL", "renate", "rmue", "renate.mueller@stadt"} {
		res, body := cl.get("/admin/people?q=" + url.QueryEscape(q))
		if res.StatusCode != http.StatusOK || !strings.Contains(body, `href="/admin/people/`+c.renate.ID+`"`) ||
			!strings.Contains(body, "Renate Müller") {
			t.Errorf("search %q: %d, Renate Müller not found", q, res.StatusCode)
		}
	}
	if _, body := cl.get("/admin/people?q=schmidt"); strings.Contains(body, "Renate") || !strings.Contains(body, `id="no-results"`) {
		t.Errorf("search schmidt finds Renate or says nothing")
	}
	for i := range 55 {
		u := c.f.addUser(fmt.Sprintf("page%03d", i))
		_, err := c.f.store.UpdateUser(context.Background(), u.ID, func(u authn.User) (authn.User, error) {
			u.DisplayName = "Paula Pagemann"
			return u, nil
		}, c.f.audit("user.update"))
		if err != nil {
			t.Fatal(err)
		}
	}
	_, body := cl.get("/admin/people?q=pagemann")
	if n := strings.Count(body, "Paula Pagemann"); n != 50 || !strings.Contains(body, `id="next-page"`) {
		t.Fatalf("first page: %d people, next link %v; want 50 and a link", n, strings.Contains(body, `id="next-page"`))
	}
	m := regexp.MustCompile(`<a href="([^"]+)" id="next-page"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no next-page link")
	}
	next := strings.ReplaceAll(m[1], "&amp;", "&")
	_, body = cl.get(next)
	if n := strings.Count(body, "Paula Pagemann"); n != 5 || strings.Contains(body, `id="next-page"`) {
		t.Errorf("second page (%s): %d people; want 5 and no next link", next, n)
	}
}

// TestAdminPersonPage: everything the desk needs about Renate, and none of
// her secrets.
func TestAdminPersonPage(t *testing.T) {
	c := newConsole(t)
	f := c.f
	ctx := context.Background()
	// A YubiKey, flagged as cloned; an app; three recovery codes; an open
	// invitation; a session on her phone; a sign-in and a refusal.
	yk := newTestKey(t)
	model := enroll.YubiKeyModels()[0]
	cred := authn.Credential{ID: authn.NewID(), UserID: c.renate.ID, Kind: authn.KindWebAuthn, Nickname: "Schlüsselbund",
		CreatedAt: time.Now(), WebAuthnID: yk.id, PublicKey: yk.cose, AAGUID: model.AAGUID[:], AttestationFmt: "packed"}
	if err := f.store.CreateCredential(ctx, cred, f.audit("credential.create")); err != nil {
		t.Fatal(err)
	}
	if err := f.store.FlagCloned(ctx, cred.ID, f.audit("credential.cloned")); err != nil {
		t.Fatal(err)
	}
	secret := f.addTOTP(c.renate)
	f.addRecoveryCodes(c.renate, "code-one-1111", "code-two-2222", "code-three-33")
	inv := f.invite(c.renate)
	sessCk := f.sessionCookie(c.renate, time.Now(), false)
	sessID, _ := base64.RawURLEncoding.DecodeString(sessCk.Value)
	sessHash := authn.HashSessionID(sessID)
	if _, err := f.store.DB().Exec("UPDATE sessions SET user_agent = $1, client_addr = $2 WHERE user_id = $3",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1", "198.51.100.23", c.renate.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.store.AppendAudit(ctx,
		authn.AuditEvent{Time: time.Now(), Actor: "user:" + c.renate.ID, Action: "signin", Subject: "user:" + c.renate.ID,
			ClientAddr: "198.51.100.23", Details: map[string]string{"tool": "wiki"}},
		authn.AuditEvent{Time: time.Now(), Actor: "system", Action: "signin.refused", Subject: "user:" + c.renate.ID,
			ClientAddr: "203.0.113.9", Details: map[string]string{"reason": "cloned key"}}); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"de", "en"} {
		cl := c.as(c.helga, authn.LevelPhrh, 0)
		res, body := cl.get("/admin/people/" + c.renate.ID + "?lang=" + l)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("person page: %d\n%s", res.StatusCode, body)
		}
		for _, want := range []string{"Renate Müller", "rmueller", "251 492-1234", "rathaus", ">rat<", ">phrh<",
			"Schlüsselbund", model.Name, "198.51.100.23", "Safari · iOS", ">3<", "wiki", "cloned key", "203.0.113.9",
			`action="/admin/people/` + c.renate.ID + `/reset"`, `name="check" value="callback"`, `action="/admin/people/` + c.renate.ID + `/revoke"`,
			`value="` + cred.ID + `"`, `id="form-end-sessions"`, `id="form-lift-throttle"`, `id="form-invite"`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the person page lacks %q", l, want)
			}
		}
		if l == "de" && (!strings.Contains(body, "(möglicherweise geklont)") || !strings.Contains(body, "gültig bis")) {
			t.Errorf("de: the cloned flag or the open invitation is missing")
		}
		if strings.Contains(body, `id="form-disable"`) {
			t.Errorf("helpdesk is offered to disable")
		}
		token := inv.Link[strings.LastIndex(inv.Link, "/")+1:]
		for what, secret := range map[string]string{
			"the key's public key (base64url)": base64.RawURLEncoding.EncodeToString(yk.cose),
			"the key's public key (base64)":    base64.StdEncoding.EncodeToString(yk.cose),
			"the key's public key (hex)":       hex.EncodeToString(yk.cose),
			"the key's credential id":          base64.RawURLEncoding.EncodeToString(yk.id),
			"the app's secret (hex)":           hex.EncodeToString(secret),
			"a recovery code":                  "code-one-1111",
			"the session's id":                 sessCk.Value,
			"the session's hash":               hex.EncodeToString(sessHash[:]),
			"the invitation's token":           token,
			"the invitation's code":            inv.Code,
		} {
			if secret != "" && strings.Contains(body, secret) {
				t.Errorf("the person page shows %s", what)
			}
		}
	}
	// An admin is offered to disable her.
	if _, body := c.as(c.adam, authn.LevelPhrh, 0).get("/admin/people/" + c.renate.ID); !strings.Contains(body, `id="form-disable"`) {
		t.Errorf("admin is not offered to disable")
	}
	if res, _ := c.as(c.helga, authn.LevelPhrh, 0).get("/admin/people/nobody"); res.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown person's page: %d, want 404", res.StatusCode)
	}
}

// TestAdminOverview: factors per policy group, open invitations by age,
// refusals of the last day, the last sync, resets of the week.
func TestAdminOverview(t *testing.T) {
	c := newConsole(t)
	f := c.f
	ctx := context.Background()
	f.invite(c.nora)
	c.as(c.nora, authn.LevelPhrh, 0).get("/admin") // a refusal
	if err := f.store.AppendAudit(ctx,
		authn.AuditEvent{Time: time.Now().Add(-time.Hour), Actor: "system", Action: "directory.sync", Subject: "directory:rathaus"},
		authn.AuditEvent{Time: time.Now().Add(-2 * time.Hour), Actor: "cli:root", Action: "user.reset", Subject: "user:" + c.nora.ID,
			Reason: "INC-1", Details: map[string]string{"break_glass": "true"}},
		authn.AuditEvent{Time: time.Now().Add(-8 * 24 * time.Hour), Actor: "cli:root", Action: "user.reset", Subject: "user:old", Reason: "INC-0"}); err != nil {
		t.Fatal(err)
	}
	res, body := c.as(c.helga, authn.LevelPhrh, 0).get("/admin")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("overview: %d\n%s", res.StatusCode, body)
	}
	// All active people: renate has a key; helga, adam, nora nothing.
	for _, want := range []string{"<th scope=\"row\">Alle aktiven Personen</th><td>1</td><td>0</td><td>3</td>",
		"<th scope=\"row\">rat</th><td>1</td><td>0</td><td>0</td>", "<tbody><tr><td>1</td><td>0</td><td>0</td><td>0</td></tr></tbody>",
		"<dt>IT-Konsole</dt><dd>1</dd>", "erfolgreich", "INC-1", "Notfall-Zurücksetzung", `class="danger"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the overview lacks %q", want)
		}
	}
	if strings.Contains(body, "INC-0") {
		t.Errorf("the overview lists a reset older than 7 days")
	}
	if strings.Contains(body, ">it-helpdesk<") {
		t.Errorf("the overview counts a group the policy does not name")
	}
}

// TestAdminAudit: the audit page filters by person, actor, action and day.
func TestAdminAudit(t *testing.T) {
	c := newConsole(t)
	c.as(c.nora, authn.LevelPhrh, 0).get("/admin") // a refusal by nora
	if err := c.f.store.AppendAudit(context.Background(), authn.AuditEvent{Time: time.Now(), Actor: "user:" + c.renate.ID,
		Action: "signin", Subject: "user:" + c.renate.ID}); err != nil {
		t.Fatal(err)
	}
	cl := c.as(c.adam, authn.LevelPhrh, 0) // the whole log is an admin's
	today := time.Now().Format("2006-01-02")
	for _, tc := range []struct {
		q             string
		want, notWant string
	}{
		{"action=admin.refused", "user:" + c.nora.ID, "group.create"},
		{"actor=nora", "admin.refused", "group.create"},
		{"person=rmueller", "signin", "admin.refused"},
		{"action=admin&from=" + today + "&to=" + today, "admin.refused", "group.create"},
		{"action=admin&to=2000-01-01", "Keine Ereignisse", "admin.refused"},
	} {
		res, body := cl.get("/admin/audit?" + tc.q)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, tc.want) || strings.Contains(body, tc.notWant) {
			t.Errorf("audit?%s: %d, want %q and not %q", tc.q, res.StatusCode, tc.want, tc.notWant)
		}
	}
	// The helpdesk reads one person's log, not the whole (second review).
	helga := c.as(c.helga, authn.LevelPhrh, 0)
	if res, body := helga.get("/admin/audit?action=admin.refused"); res.StatusCode != http.StatusOK ||
		!strings.Contains(body, "Wählen Sie eine Person") || strings.Contains(body, "user:"+c.nora.ID) {
		t.Errorf("the helpdesk's whole log: %d, want the page asking for a person, without events\n%s", res.StatusCode, between(body, "<main", "</main>"))
	}
	if res, body := helga.get("/admin/audit?person=rmueller"); res.StatusCode != http.StatusOK || !strings.Contains(body, "signin") {
		t.Errorf("the helpdesk's log of one person: %d", res.StatusCode)
	}
	if res, _ := cl.get("/admin/audit?from=gestern"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("a day that is no date: %d, want 400", res.StatusCode)
	}
}

// TestAdminRefusalsBounded (review of #14): a signed-in person without a
// role who reloads /admin gets 404 every time, but only the first few
// refusals of a window are audited: she cannot fill the audit log.
func TestAdminRefusalsBounded(t *testing.T) {
	c := newConsole(t)
	cl := c.as(c.nora, authn.LevelPhrh, 0)
	before := c.f.auditCount("admin.refused")
	for range 12 {
		if res, _ := cl.send("GET", "/admin", nil, false); res.StatusCode != http.StatusNotFound {
			t.Fatalf("GET /admin without a role: %d", res.StatusCode)
		}
	}
	if n := c.f.auditCount("admin.refused") - before; n != 5 {
		t.Errorf("%d of 12 refusals audited, want 5", n)
	}
}

// TestAdminLetterDownload: a reset by letter answers with the letter as a
// download that is never cached.
func TestAdminLetterDownload(t *testing.T) {
	c := newConsole(t)
	c.f.withAddress(c.nora, "Marktstraße 3", "48143 Musterstadt")
	res, body := c.as(c.helga, authn.LevelPhrh, 0).send("POST", "/admin/people/"+c.nora.ID+"/reset",
		url.Values{"reason": {"INC-4711"}, "check": {"in_person"}, "delivery": {"letter"}}, false)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/pdf" ||
		!strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment") || res.Header.Get("Cache-Control") != "no-store" ||
		!strings.HasPrefix(body, "%PDF") {
		t.Errorf("reset by letter: %d %s %q %q", res.StatusCode, res.Header.Get("Content-Type"),
			res.Header.Get("Content-Disposition"), res.Header.Get("Cache-Control"))
	}
}

// withAddress stores u's postal address, as the directory sync does.
func (f *fixture) withAddress(u authn.User, lines ...string) {
	f.t.Helper()
	if _, err := f.store.UpdateUser(context.Background(), u.ID, func(u authn.User) (authn.User, error) {
		u.PostalAddress = lines
		return u, nil
	}, f.audit("user.update")); err != nil {
		f.t.Fatal(err)
	}
}

// adminTestViews are the console's pages for TestPagesRender.
func adminTestViews() map[string]*view {
	now := time.Now()
	a := desk.Actor{Role: desk.RoleAdmin}
	p := &desk.Person{User: authn.User{ID: "u1", Username: "rmueller", DisplayName: "Renate Müller", Phone: "+49 251 1",
		Email: "r@example.org", Status: authn.StatusActive, Directory: "rathaus"},
		Groups: []authn.Group{{Name: "rat"}}, Level: authn.LevelPhrh, RecoveryCodes: 2,
		Keys:       []desk.Factor{{ID: "k1", Nickname: "Schlüsselbund", Model: "YubiKey 5", CreatedAt: now, Cloned: true}},
		Apps:       []desk.Factor{{ID: "a1", Nickname: "App"}},
		Invitation: &desk.OpenInvitation{CreatedAt: now, ExpiresAt: now, CreatedBy: "cli:root"},
		Sessions:   []desk.SessionInfo{{Device: "Firefox", Addr: "192.0.2.1", CreatedAt: now}},
		SignIns:    []authn.AuditEvent{{Time: now, Action: "signin", Details: map[string]string{"tool": "wiki"}}},
		Suspended:  []desk.Factor{{ID: "k0", Kind: authn.KindWebAuthn, Nickname: "Alter Schlüssel", CreatedAt: now}},
		Pending: []desk.PendingReset{{Approval: desk.Approval{ID: "ap1", Reason: "INC-1", Check: desk.IdentityCheck{Method: desk.CheckCallback},
			Delivery: desk.DeliverLetter, CreatedAt: now, ExpiresAt: now}, MayApprove: true}},
	}
	o := &desk.Overview{Groups: []authn.FactorCount{{Key: 1}, {Group: "rat", None: 2}}, Invitations: []int{1, 2, 3, 4},
		Refusals: map[string]int{"admin.refused": 1}, LastSync: &authn.AuditEvent{Time: now, Action: "directory.sync.abort"},
		Resets: []authn.AuditEvent{{Time: now, Subject: "user:u1", Details: map[string]string{"break_glass": "true"}}},
		Approvals: []desk.PendingReset{{Approval: desk.Approval{ID: "ap1", UserID: "u1", Username: "rmueller", Reason: "INC-1",
			Kind: authn.ApprovalReset, Check: desk.IdentityCheck{Method: desk.CheckCallback}, Delivery: desk.DeliverLetter,
			RequesterName: "Helga Hahn (helga)"}, MayApprove: true},
			{Approval: desk.Approval{ID: "ap2", UserID: "u1", Username: "rmueller", Reason: "INC-2", Kind: authn.ApprovalReset,
				Check: desk.IdentityCheck{Method: desk.CheckCallback}, Delivery: desk.DeliverDesk, RequesterName: "Horst (horst)"},
				Refused: &desk.Error{De: "Wer den Reset beantragt hat, darf ihn nicht mehr beantragen.", En: "The requester may no longer ask for it."}}}}
	issued := &desk.Issued{Invitation: enroll.Invitation{Code: "K7XM-4RPQ", Link: "http://x/enroll/t", ExpiresAt: now}}
	return map[string]*view{
		"admin":         {Page: "admin", Admin: &adminView{Actor: a, Tab: "overview", Overview: o, InvAges: []ageCount{{"x", 1}}, Issued: issued}},
		"admin_people":  {Page: "admin_people", Admin: &adminView{Actor: a, Tab: "people", Query: "mü", People: []authn.User{p.User}, Next: "/admin/people?after=x"}},
		"admin_person":  {Page: "admin_person", Admin: &adminView{Actor: a, IsAdmin: true, Tab: "people", Person: p, Issued: issued}},
		"admin_letters": {Page: "admin_letters", Admin: &adminView{Actor: a, Tab: "letters", Letters: &lettersForm{Groups: []string{"rat", "bezirk"}, Group: "rat", All: true}}},
		"admin_audit": {Page: "admin_audit", Admin: &adminView{Actor: a, Tab: "audit", Events: []authn.AuditEvent{{Time: now, Action: "user.reset",
			Details: map[string]string{"check": "callback"}}}, NextEvents: "/admin/audit?before=1"}},
	}
}

// TestAdminEndSessions: ending a person's sessions on the console ends
// them at once and is audited with the actor, the reason and her address;
// without a reason the desk refuses in words and nothing ends.
func TestAdminEndSessions(t *testing.T) {
	c := newConsole(t)
	nora := c.as(c.nora, authn.LevelPhrh, 0)
	if res, _ := nora.get("/account"); res.StatusCode != http.StatusOK {
		t.Fatalf("nora's session: %d", res.StatusCode)
	}
	helga := c.as(c.helga, authn.LevelPhrh, 0)
	res, body := helga.send("POST", "/admin/people/"+c.nora.ID+"/end-sessions", url.Values{"reason": {""}}, false)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `role="alert"`) {
		t.Errorf("without a reason: %d, want 400 with the desk's words", res.StatusCode)
	}
	if res, _ := nora.get("/account"); res.StatusCode != http.StatusOK {
		t.Errorf("a refused action ended nora's session")
	}
	res, body = helga.send("POST", "/admin/people/"+c.nora.ID+"/end-sessions", url.Values{"reason": {"INC-4711"}}, false)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, msgAdminEnded.DE) {
		t.Fatalf("end sessions: %d\n%.400s", res.StatusCode, body)
	}
	if res, _ := nora.get("/account"); res.StatusCode == http.StatusOK {
		t.Errorf("nora's session still works")
	}
	evs, err := c.f.store.SearchAudit(context.Background(), authn.AuditQuery{Subject: "user:" + c.nora.ID, Actor: "user:" + c.helga.ID})
	// The desk records the console's client address in the event's
	// details, as it does for every desk event (also those enroll writes).
	if err != nil || len(evs) == 0 || evs[0].Action != "user.revoke_sessions" || evs[0].Reason != "INC-4711" ||
		evs[0].ClientAddr != "127.0.0.1" || evs[0].Details["via"] != "console" {
		t.Errorf("audit of the console's action: %+v, %v", evs, err)
	}
}
