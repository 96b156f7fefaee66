package web

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/desk"
)

// Each action of the console through HTTP, as a browser's form sends it:
// what it changes, what it refuses in words (nothing changed), and the
// audit event it writes with actor, subject, reason, identity check and
// client address.

// lastEvent is the newest audit event action about u.
func (c *console) lastEvent(t *testing.T, u authn.User, action string) authn.AuditEvent {
	t.Helper()
	evs, err := c.f.store.SearchAudit(context.Background(), authn.AuditQuery{Subject: "user:" + u.ID, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Action == action {
			return e
		}
	}
	t.Fatalf("no audit event %s about %s", action, u.Username)
	return authn.AuditEvent{}
}

// consoleEvent checks that e was written by actor on the console from the
// test's address with reason.
func consoleEvent(t *testing.T, e authn.AuditEvent, actor, subject authn.User, reason string) {
	t.Helper()
	if e.Actor != "user:"+actor.ID || e.Subject != "user:"+subject.ID || e.Reason != reason ||
		e.ClientAddr != "127.0.0.1" || e.Details["via"] != "console" {
		t.Errorf("%s: actor %q subject %q reason %q details %v; want %s about %s, reason %q, from 127.0.0.1 via console",
			e.Action, e.Actor, e.Subject, e.Reason, e.Details, actor.Username, subject.Username, reason)
	}
}

// live reports whether the session cookie still opens her account page.
func (c *console) live(session string) bool {
	cl := c.f.client()
	cl.cookies[SessionCookie] = session
	res, _ := cl.get("/account")
	return res.StatusCode == http.StatusOK
}

func (c *console) keys(t *testing.T, u authn.User) int {
	t.Helper()
	creds, err := c.f.store.ListCredentials(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return len(creds)
}

// TestAdminResetNeedsReasonAndCheck: without a reason, without an identity
// check, with "other" and no description, with a delivery by mail, the
// reset is refused in clear words, German or English, and nothing changes;
// with them it ends her session, suspends her key, leaves her an invitation
// to read out (10 minutes), and is audited with the check.
func TestAdminResetNeedsReasonAndCheck(t *testing.T) {
	c := newConsole(t)
	f := c.f
	k := newTestKey(t)
	f.addKey(c.nora, &k, 0)
	session := f.sessionCookie(c.nora, time.Now(), false).Value
	helga := c.as(c.helga, authn.LevelPhrh, 0)
	path := "/admin/people/" + c.nora.ID + "/reset"
	for _, tc := range []struct {
		name   string
		form   url.Values
		de, en string
	}{
		{"no reason", url.Values{"check": {"callback"}, "delivery": {"desk"}}, "Bitte geben Sie einen Grund an", "Please give a reason"},
		{"blank reason", url.Values{"reason": {"  "}, "check": {"callback"}, "delivery": {"desk"}}, "Bitte geben Sie einen Grund an", "Please give a reason"},
		{"no identity check", url.Values{"reason": {"INC-1"}, "delivery": {"desk"}}, "wie Sie ihre Identität geprüft haben", "how you checked her identity"},
		{"unknown check", url.Values{"reason": {"INC-1"}, "check": {"caller says so"}, "delivery": {"desk"}}, "Diese Art der Identitätsprüfung gibt es nicht", "There is no identity check"},
		{"other without words", url.Values{"reason": {"INC-1"}, "check": {"other"}, "check_text": {" "}, "delivery": {"desk"}}, "beschreiben Sie", "Please say how"},
		{"by mail", url.Values{"reason": {"INC-1"}, "check": {"callback"}, "delivery": {"mail"}}, "nicht per E-Mail", "not mailed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			total := f.auditTotal()
			for _, l := range []string{"de", "en"} {
				res, body := helga.send("POST", path+"?lang="+l, tc.form, false)
				want := map[string]string{"de": tc.de, "en": tc.en}[l]
				if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `role="alert"`) || !strings.Contains(body, want) {
					t.Errorf("%s: %d, want 400 saying %q\n%.300s", l, res.StatusCode, want, body)
				}
				if !strings.Contains(body, `id="form-reset"`) {
					t.Errorf("%s: the refusal does not show her page with the form again", l)
				}
			}
			if !c.live(session) || c.keys(t, c.nora) != 1 || f.auditTotal() != total {
				t.Errorf("a refused reset changed something: session %v, %d keys, %d audit events",
					c.live(session), c.keys(t, c.nora), f.auditTotal()-total)
			}
			if inv, err := f.store.LatestInvitation(context.Background(), c.nora.ID); err == nil {
				t.Errorf("a refused reset left an invitation %+v", inv)
			}
		})
	}

	res, body := helga.send("POST", path, url.Values{"reason": {"INC-4711"}, "check": {"other"},
		"check_text": {"Dienstausweis per Video gezeigt"}, "delivery": {"desk"}}, false)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, msgAdminReset.DE) || !strings.Contains(body, `id="issued"`) {
		t.Fatalf("reset: %d\n%.600s", res.StatusCode, body)
	}
	if c.live(session) || c.keys(t, c.nora) != 0 {
		t.Errorf("after the reset: session live %v, %d keys usable", c.live(session), c.keys(t, c.nora))
	}
	// The test server mails nothing (no SMTP server): the page says that
	// she was not told, instead of hiding it.
	if !strings.Contains(body, msgAdminNoNotice.DE) {
		t.Errorf("the reset's page does not say that she was not told:\n%.600s", body)
	}
	e := c.lastEvent(t, c.nora, "user.reset")
	consoleEvent(t, e, c.helga, c.nora, "INC-4711")
	if e.Details["identity_check"] != "other" || e.Details["identity_check_text"] != "Dienstausweis per Video gezeigt" ||
		e.Details["delivery"] != "desk" {
		t.Errorf("user.reset details %v lack the identity check or the delivery", e.Details)
	}
	inv, err := f.store.LatestInvitation(context.Background(), c.nora.ID)
	if err != nil || inv.ExpiresAt.Sub(inv.CreatedAt) != desk.DeskValidity {
		t.Errorf("the desk's invitation: %+v, %v; want valid 10 minutes", inv, err)
	}
	// Her page says what the reset did: the key suspended (not a secret of
	// it), the invitation and its age; the code is not shown again.
	code := regexp.MustCompile(`<code[^>]*>([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})</code>`).FindStringSubmatch(body)
	if code == nil {
		t.Fatalf("the reset's page shows no code to read out:\n%s", body)
	}
	_, page := helga.get("/admin/people/" + c.nora.ID)
	for _, want := range []string{`id="suspended"`, "ausgesetzt", "YubiKey", "vor 0 Minuten", "gültig bis"} {
		if !strings.Contains(page, want) {
			t.Errorf("her page after the reset lacks %q", want)
		}
	}
	for what, secret := range map[string]string{
		"the code":                                code[1],
		"the suspended key's public key":          base64.RawURLEncoding.EncodeToString(k.cose),
		"the suspended key's credential id":       base64.RawURLEncoding.EncodeToString(k.id),
		"the suspended key's credential id (std)": base64.StdEncoding.EncodeToString(k.id),
	} {
		if strings.Contains(page, secret) {
			t.Errorf("her page shows %s", what)
		}
	}
	if strings.Contains(page, "aus dem Verzeichnis)") {
		t.Error("the page of a local person says her phone number is from the directory")
	}
	if _, en := helga.get("/admin/people/" + c.nora.ID + "?lang=en"); !strings.Contains(en, "suspended") || !strings.Contains(en, "0 minutes ago") {
		t.Errorf("the English page lacks the suspended flag or the invitation's age")
	}
}

// TestAdminRevokeFactor: one key of two goes, audited with its id; an
// unknown one is refused.
func TestAdminRevokeFactor(t *testing.T) {
	c := newConsole(t)
	one, two := newTestKey(t), newTestKey(t)
	c.f.addKey(c.nora, &one, 0)
	c.f.addKey(c.nora, &two, 0)
	helga := c.as(c.helga, authn.LevelPhrh, 0)
	path := "/admin/people/" + c.nora.ID + "/revoke"
	if res, body := helga.send("POST", path, url.Values{"reason": {"INC-5"}, "credential": {"nope"}}, false); res.StatusCode != http.StatusNotFound ||
		!strings.Contains(body, "Diesen Schlüssel oder diese App hat sie nicht") {
		t.Errorf("an unknown factor: %d", res.StatusCode)
	}
	if res, _ := helga.send("POST", path, url.Values{"credential": {one.credID}}, false); res.StatusCode != http.StatusBadRequest || c.keys(t, c.nora) != 2 {
		t.Errorf("without a reason: %d, %d keys left", res.StatusCode, c.keys(t, c.nora))
	}
	res, body := helga.send("POST", path, url.Values{"reason": {"INC-5"}, "credential": {one.credID}}, false)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, msgAdminRevoked.DE) {
		t.Fatalf("revoke: %d\n%.400s", res.StatusCode, body)
	}
	creds, _ := c.f.store.ListCredentials(context.Background(), c.nora.ID)
	if len(creds) != 1 || creds[0].ID != two.credID {
		t.Errorf("after revoking one key: %+v", creds)
	}
	e := c.lastEvent(t, c.nora, "credential.revoke")
	consoleEvent(t, e, c.helga, c.nora, "INC-5")
	if e.Details["credential_id"] != one.credID {
		t.Errorf("credential.revoke names %q", e.Details["credential_id"])
	}
}

// TestAdminEndSessionsForwardAuth: ending her sessions stops forward-auth
// at once, on the process that ended them.
func TestAdminEndSessionsForwardAuth(t *testing.T) {
	c, _ := toolsConsole(t)
	session := c.f.sessionCookie(c.renate, time.Now(), false).Value
	target := "https://rat.stadt.example/"
	if got := c.f.verifyAt(t, target, session); got != http.StatusOK {
		t.Fatalf("forward-auth before: %d", got)
	}
	res, _ := c.as(c.helga, authn.LevelPhrh, 0).send("POST", "/admin/people/"+c.renate.ID+"/end-sessions", url.Values{"reason": {"INC-6"}}, false)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("end sessions: %d", res.StatusCode)
	}
	if got := c.f.verifyAt(t, target, session); got != http.StatusUnauthorized {
		t.Errorf("forward-auth after her sessions ended: %d, want 401 at once", got)
	}
	consoleEvent(t, c.lastEvent(t, c.renate, "user.revoke_sessions"), c.helga, c.renate, "INC-6")
}

// TestAdminLiftThrottle: the counters of her failed attempts are cleared.
func TestAdminLiftThrottle(t *testing.T) {
	c := newConsole(t)
	ctx := context.Background()
	key := authn.ThrottleKeys("nora")[0]
	for range 3 {
		if _, err := c.f.store.HitThrottle(ctx, key, time.Now(), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	res, body := c.as(c.helga, authn.LevelPhrh, 0).send("POST", "/admin/people/"+c.nora.ID+"/lift-throttle", url.Values{"reason": {"INC-7"}}, false)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, msgAdminLifted.DE) {
		t.Fatalf("lift: %d", res.StatusCode)
	}
	if n, err := c.f.store.ThrottleCount(ctx, key, time.Now(), time.Hour); err != nil || n != 0 {
		t.Errorf("throttle after lifting: %d, %v", n, err)
	}
	consoleEvent(t, c.lastEvent(t, c.nora, "user.lift_throttle"), c.helga, c.nora, "INC-7")
}

// TestAdminInvite: at the desk the link and code are shown once, valid 10
// minutes; by letter the answer is the PDF, never cached.
func TestAdminInvite(t *testing.T) {
	c := newConsole(t)
	helga := c.as(c.helga, authn.LevelPhrh, 0)
	path := "/admin/people/" + c.nora.ID + "/invite"
	res, body := helga.send("POST", path, url.Values{"reason": {"INC-8"}, "delivery": {"desk"}}, false)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, msgAdminIssued.DE) {
		t.Fatalf("invite at the desk: %d\n%.400s", res.StatusCode, body)
	}
	inv, err := c.f.store.LatestInvitation(context.Background(), c.nora.ID)
	if err != nil || inv.ExpiresAt.Sub(inv.CreatedAt) != desk.DeskValidity {
		t.Fatalf("invitation %+v, %v; want valid 10 minutes", inv, err)
	}
	code := regexp.MustCompile(`[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}`).FindString(body)
	link := regexp.MustCompile(regexp.QuoteMeta(c.f.base) + `/enroll/[A-Za-z0-9_-]+`).FindString(body)
	if code == "" || link == "" || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("the page shows code %q, link %q, Cache-Control %q", code, link, res.Header.Get("Cache-Control"))
	}
	if _, again := helga.get("/admin/people/" + c.nora.ID); strings.Contains(again, code) || strings.Contains(again, link) {
		t.Error("the code or link is shown again")
	}
	consoleEvent(t, c.lastEvent(t, c.nora, "invitation.create"), c.helga, c.nora, "INC-8")

	c.f.withAddress(c.nora, "Marktstraße 3", "48143 Musterstadt")
	res, body = helga.send("POST", path, url.Values{"reason": {"INC-9"}, "delivery": {"letter"}}, false)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/pdf" ||
		!strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment") || res.Header.Get("Cache-Control") != "no-store" ||
		!strings.HasPrefix(body, "%PDF") {
		t.Errorf("invite by letter: %d %q %q %q", res.StatusCode, res.Header.Get("Content-Type"),
			res.Header.Get("Content-Disposition"), res.Header.Get("Cache-Control"))
	}
	inv, _ = c.f.store.LatestInvitation(context.Background(), c.nora.ID)
	if d := inv.ExpiresAt.Sub(inv.CreatedAt); d != desk.ConsoleLetterDefault {
		t.Errorf("the letter's invitation is valid %v, want %v", d, desk.ConsoleLetterDefault)
	}
	consoleEvent(t, c.lastEvent(t, c.nora, "invitation.create"), c.helga, c.nora, "INC-9")
}

// TestAdminDisableEnable: only an admin disables and enables; disabling
// ends her sessions.
func TestAdminDisableEnable(t *testing.T) {
	c := newConsole(t)
	session := c.f.sessionCookie(c.nora, time.Now(), false).Value
	for _, action := range []string{"disable", "enable"} {
		total := c.f.auditCount("desk.refused")
		res, body := c.as(c.helga, authn.LevelPhrh, 0).send("POST", "/admin/people/"+c.nora.ID+"/"+action, url.Values{"reason": {"INC-10"}}, false)
		if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "Das dürfen nur Administratorinnen und Administratoren") {
			t.Errorf("%s by helpdesk: %d", action, res.StatusCode)
		}
		if c.f.auditCount("desk.refused") != total+1 {
			t.Errorf("the refused %s is not audited", action)
		}
	}
	if !c.live(session) {
		t.Fatal("a refused disable ended her session")
	}
	adam := c.as(c.adam, authn.LevelPhrh, 0)
	res, body := adam.send("POST", "/admin/people/"+c.nora.ID+"/disable", url.Values{"reason": {"INC-10"}}, false)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, msgAdminDisabled.DE) || !strings.Contains(body, `id="form-enable"`) {
		t.Fatalf("disable: %d", res.StatusCode)
	}
	if c.live(session) {
		t.Error("her session works after she was disabled")
	}
	consoleEvent(t, c.lastEvent(t, c.nora, "user.disable"), c.adam, c.nora, "INC-10")
	res, body = adam.send("POST", "/admin/people/"+c.nora.ID+"/enable", url.Values{"reason": {"INC-11"}}, false)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, msgAdminEnabled.DE) {
		t.Fatalf("enable: %d", res.StatusCode)
	}
	if u, _ := c.f.store.GetUser(context.Background(), c.nora.ID); u.Status != authn.StatusActive {
		t.Errorf("after enabling: %s", u.Status)
	}
	consoleEvent(t, c.lastEvent(t, c.nora, "user.enable"), c.adam, c.nora, "INC-11")
}

// TestAdminFreezeUnfreeze: only an admin freezes; the page says frozen
// plainly; her session and forward-auth stop at once; lifting the freeze
// with "restore" gives back the keys a reset suspended.
func TestAdminFreezeUnfreeze(t *testing.T) {
	c, _ := toolsConsole(t)
	f := c.f
	k := newTestKey(t)
	f.addKey(c.nora, &k, 0)
	session := f.sessionCookie(c.nora, time.Now(), false).Value
	helga, adam := c.as(c.helga, authn.LevelPhrh, 0), c.as(c.adam, authn.LevelPhrh, 0)
	if _, page := helga.get("/admin/people/" + c.nora.ID); strings.Contains(page, `id="form-freeze"`) {
		t.Error("helpdesk is offered to freeze")
	}
	for _, action := range []string{"freeze", "unfreeze"} {
		if res, body := helga.send("POST", "/admin/people/"+c.nora.ID+"/"+action, url.Values{"reason": {"INC-12"}}, false); res.StatusCode != http.StatusForbidden ||
			!strings.Contains(body, "Das dürfen nur Administratorinnen") {
			t.Errorf("%s by helpdesk: %d", action, res.StatusCode)
		}
	}
	if !c.live(session) {
		t.Fatal("a refused freeze ended her session")
	}
	// A reset (by Helga) suspends her key; then the freeze.
	if res, _ := helga.send("POST", "/admin/people/"+c.nora.ID+"/reset", url.Values{"reason": {"INC-12"}, "check": {"video"},
		"delivery": {"desk"}}, false); res.StatusCode != http.StatusOK {
		t.Fatalf("reset: %d", res.StatusCode)
	}
	session = f.sessionCookie(c.nora, time.Now(), false).Value
	if got := f.verifyAt(t, "https://wiki.stadt.example/", session); got != http.StatusOK {
		t.Fatalf("forward-auth before the freeze: %d", got)
	}
	if res, _ := adam.send("POST", "/admin/people/"+c.nora.ID+"/freeze", url.Values{}, false); res.StatusCode != http.StatusBadRequest {
		t.Errorf("freeze without a reason: %d", res.StatusCode)
	}
	res, body := adam.send("POST", "/admin/people/"+c.nora.ID+"/freeze", url.Values{"reason": {"INC-13"}}, false)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, msgAdminFrozen.DE) {
		t.Fatalf("freeze: %d\n%.400s", res.StatusCode, body)
	}
	if c.live(session) || f.verifyAt(t, "https://wiki.stadt.example/", session) != http.StatusUnauthorized {
		t.Error("her session or forward-auth works after the freeze")
	}
	consoleEvent(t, c.lastEvent(t, c.nora, "user.frozen"), c.adam, c.nora, "INC-13")
	_, page := adam.get("/admin/people/" + c.nora.ID)
	for _, want := range []string{`<strong class="warning">eingefroren</strong>`, `id="form-unfreeze"`, `name="restore"`, "ausgesetzt"} {
		if !strings.Contains(page, want) {
			t.Errorf("the frozen person's page lacks %q", want)
		}
	}
	if strings.Contains(page, `id="form-freeze"`) || strings.Contains(page, `id="form-enable"`) {
		t.Error("a frozen person's page offers to freeze or enable her")
	}
	_, list := adam.get("/admin/people?q=nora")
	if !strings.Contains(list, "eingefroren") {
		t.Error("the search does not say she is frozen")
	}
	res, body = adam.send("POST", "/admin/people/"+c.nora.ID+"/unfreeze", url.Values{"reason": {"INC-14"}, "restore": {"yes"}}, false)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "1 Anmeldemittel sind zurückgegeben") {
		t.Fatalf("unfreeze: %d\n%.400s", res.StatusCode, body)
	}
	if u, _ := f.store.GetUser(context.Background(), c.nora.ID); u.Status != authn.StatusActive || c.keys(t, c.nora) != 1 {
		t.Errorf("after unfreezing with restore: %s, %d keys", u.Status, c.keys(t, c.nora))
	}
	consoleEvent(t, c.lastEvent(t, c.nora, "user.unfrozen"), c.adam, c.nora, "INC-14")
	consoleEvent(t, c.lastEvent(t, c.nora, "credential.restore"), c.adam, c.nora, "INC-14")
}

// TestAdminTiers: a helpdesk person resetting an admin or a member of a
// protected group is refused in words (audited, nothing changed); an admin
// resetting a member of a group with reset_approval is told it waits.
func TestAdminTiers(t *testing.T) {
	c := newConsole(t)
	f := c.f
	renateSession := f.sessionCookie(c.renate, time.Now(), false).Value
	adamSession := f.sessionCookie(c.adam, time.Now(), false).Value
	form := url.Values{"reason": {"INC-15"}, "check": {"callback"}, "delivery": {"desk"}}
	helga := c.as(c.helga, authn.LevelPhrh, 0)
	for _, tc := range []struct {
		who  authn.User
		de   string
		why  string
		live string
	}{
		{c.adam, "Bei Personen mit einer Rolle am IT-Schalter handelt nur eine Administratorin", "subject has role admin", adamSession},
		{c.renate, "geschützten Gruppe", "protected group", renateSession},
		{c.helga, "Am eigenen Zugang", "herself", ""},
	} {
		res, body := helga.send("POST", "/admin/people/"+tc.who.ID+"/reset", form, false)
		if res.StatusCode != http.StatusForbidden || !strings.Contains(body, tc.de) {
			t.Errorf("helpdesk resets %s: %d, want 403 saying %q", tc.who.Username, res.StatusCode, tc.de)
		}
		e := c.lastEvent(t, tc.who, "desk.refused")
		if e.Details["why"] != tc.why || e.Details["tried"] != "reset" || e.Actor != "user:"+c.helga.ID || e.ClientAddr != "127.0.0.1" {
			t.Errorf("refusal of resetting %s audited as %+v", tc.who.Username, e)
		}
		if tc.live != "" && !c.live(tc.live) {
			t.Errorf("the refused reset ended %s's session", tc.who.Username)
		}
	}
	res, body := c.as(c.adam, authn.LevelPhrh, 0).send("POST", "/admin/people/"+c.renate.ID+"/reset", form, false)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, msgAdminPending.DE) || !strings.Contains(body, `id="pending"`) {
		t.Fatalf("admin resets a councillor: %d\n%.400s", res.StatusCode, body)
	}
	if !c.live(renateSession) || c.keys(t, c.renate) != 1 {
		t.Error("a reset waiting for approval changed something")
	}
	e := c.lastEvent(t, c.renate, "reset.requested")
	consoleEvent(t, e, c.adam, c.renate, "INC-15")
	if e.Details["identity_check"] != "callback" {
		t.Errorf("reset.requested lacks the identity check: %v", e.Details)
	}
}

// TestAdminPendingOnPersonPage: her page shows the reset waiting for her,
// with an approve button for another eligible person only; approving there
// carries out the reset.
func TestAdminPendingOnPersonPage(t *testing.T) {
	c, _ := toolsConsole(t)
	heike := c.f.addUser("heike")
	c.f.join(t, "it-helpdesk", heike)
	session := c.f.sessionCookie(c.renate, time.Now(), false).Value
	helga := c.as(c.helga, authn.LevelPhrh, 0)
	if res, _ := helga.send("POST", "/admin/people/"+c.renate.ID+"/reset", url.Values{"reason": {"INC-16"}, "check": {"in_person"},
		"delivery": {"desk"}}, false); res.StatusCode != http.StatusOK {
		t.Fatalf("reset: %d", res.StatusCode)
	}
	aps, err := c.f.store.PendingApprovals(context.Background(), time.Now())
	if err != nil || len(aps) != 1 {
		t.Fatalf("approvals %v, %v", aps, err)
	}
	button := `action="/admin/approvals/` + aps[0].ID + `/approve"`
	if _, page := helga.get("/admin/people/" + c.renate.ID); !strings.Contains(page, "INC-16") || strings.Contains(page, button) {
		t.Error("the requester's view: the pending reset missing, or an approve button")
	}
	// The overview: who asked, by name; the identity check and delivery;
	// an approve button for a second person only.
	asked := "angefragt von " + c.helga.DisplayName + " (" + c.helga.Username + ")"
	for _, v := range []struct {
		cl     *client
		button bool
	}{{helga, false}, {c.as(heike, authn.LevelPhrh, 0), true}} {
		_, page := v.cl.get("/admin")
		if !strings.Contains(page, "INC-16") || !strings.Contains(page, asked) || strings.Contains(page, "user:"+c.helga.ID) ||
			!strings.Contains(page, "Persönlich mit Ausweis") || !strings.Contains(page, "Am Schalter vorlesen") ||
			strings.Contains(page, button) != v.button {
			t.Errorf("overview (approve button %v): want the reset asked by %q with its check and delivery:\n%s", v.button, asked, page)
		}
	}
	if _, page := c.as(c.nora, authn.LevelPhrh, 0).get("/admin/people/" + c.renate.ID); strings.Contains(page, "INC-16") {
		t.Error("a person without a role sees the pending reset")
	}
	heikeCl := c.as(heike, authn.LevelPhrh, 0)
	_, page := heikeCl.get("/admin/people/" + c.renate.ID)
	if !strings.Contains(page, button) || !strings.Contains(page, "Persönlich mit Ausweis") {
		t.Fatalf("a second helpdesk person is not offered to approve:\n%s", page)
	}
	res, body := heikeCl.send("POST", "/admin/approvals/"+aps[0].ID+"/approve", url.Values{}, false)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, msgAdminReset.DE) {
		t.Fatalf("approve: %d\n%.400s", res.StatusCode, body)
	}
	if c.live(session) {
		t.Error("her session works after the approved reset")
	}
	consoleEvent(t, c.lastEvent(t, c.renate, "reset.approved"), heike, c.renate, "INC-16")
	if _, page := heikeCl.get("/admin/people/" + c.renate.ID); strings.Contains(page, `id="pending"`) {
		t.Error("a decided reset is still shown as pending")
	}
}

// TestAdminPendingRequesterGone: a reset whose requester may no longer ask
// for it (here: disabled) is not offered for approval on the overview nor
// on her page, which say why instead.
func TestAdminPendingRequesterGone(t *testing.T) {
	c, _ := toolsConsole(t)
	heike := c.f.addUser("heike")
	c.f.join(t, "it-helpdesk", heike)
	helga := c.as(c.helga, authn.LevelPhrh, 0)
	if res, _ := helga.send("POST", "/admin/people/"+c.renate.ID+"/reset", url.Values{"reason": {"INC-17"}, "check": {"in_person"},
		"delivery": {"desk"}}, false); res.StatusCode != http.StatusOK {
		t.Fatalf("reset: %d", res.StatusCode)
	}
	aps, err := c.f.store.PendingApprovals(context.Background(), time.Now())
	if err != nil || len(aps) != 1 {
		t.Fatalf("approvals %v, %v", aps, err)
	}
	if _, err := c.f.store.DisableUser(context.Background(), c.helga.ID, time.Now(),
		authn.AuditEvent{Time: time.Now(), Actor: "cli:root", Action: "user.disable", Subject: "user:" + c.helga.ID}); err != nil {
		t.Fatal(err)
	}
	button := `action="/admin/approvals/` + aps[0].ID + `/approve"`
	heikeCl := c.as(heike, authn.LevelPhrh, 0)
	for _, path := range []string{"/admin", "/admin/people/" + c.renate.ID} {
		if _, page := heikeCl.get(path); !strings.Contains(page, "INC-17") || strings.Contains(page, button) ||
			!strings.Contains(page, "darf ihn nicht mehr beantragen") {
			t.Errorf("%s: want the pending reset without an approve button, saying why:\n%s", path, page)
		}
	}
}
