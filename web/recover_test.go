package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/citizens"
)

// offsetClock is the real clock moved forward by what a test adds: times
// taken from it and from time.Now stay in order.
type offsetClock struct {
	mu  sync.Mutex // guards off
	off time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *offsetClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

// recoverFixture is a server whose group "buerger" allows recovery by
// e-mail and "rat" does not, mailing to mb, on clock; opts change its
// Config further.
func recoverFixture(t *testing.T, opts ...func(*Config)) (*fixture, *mailbox, *offsetClock) {
	t.Helper()
	clock := &offsetClock{}
	f := newFixture(t, append([]func(*Config){func(c *Config) {
		c.Now = clock.Now
		// as cmd wires citizens.enabled: the citizens sign in with an app code alone
		c.SignIn.Policy = authn.Policy{Groups: map[string]authn.GroupPolicy{"buerger": {AllowTOTP: true, NoPassword: true}}}
		c.RecoverByEmail = true
		c.Citizens = citizens.Config{EmailRecovery: func(groups []string) bool {
			// as cmd's rule: every group with a policy must allow it
			allowed := false
			for _, g := range groups {
				switch g {
				case "rat":
					return false
				case "buerger":
					allowed = true
				}
			}
			return allowed
		}}
	}}, opts...)...)
	mb := startMailbox(t)
	f.withMail(t, mb)
	return f, mb, clock
}

// addCitizen makes a local person with a verified address (her username)
// in the named groups.
func (f *fixture) addCitizen(email string, verified bool, groups ...string) authn.User {
	f.t.Helper()
	ctx := context.Background()
	u := f.addUser(email)
	u, err := f.store.UpdateUser(ctx, u.ID, func(u authn.User) (authn.User, error) {
		u.Email = email
		if verified {
			u.VerifiedEmail = email
		}
		return u, nil
	}, f.audit("user.update"))
	if err != nil {
		f.t.Fatal(err)
	}
	for _, name := range groups {
		g, err := f.store.GetGroupByName(ctx, name)
		if err != nil {
			g = authn.Group{ID: authn.NewID(), Name: name, Source: authn.SourceLocal, CreatedAt: time.Now()}
			if err := f.store.CreateGroup(ctx, g, f.audit("group.create")); err != nil {
				f.t.Fatal(err)
			}
		}
		if err := f.store.AddMember(ctx, g.ID, u.ID, f.audit("group.add")); err != nil {
			f.t.Fatal(err)
		}
	}
	return u
}

var (
	recoverLinkRE = regexp.MustCompile(`http://localhost:\d+/recover/[A-Za-z0-9_-]{43}`)
	cancelLinkRE  = regexp.MustCompile(`http://localhost:\d+/recover/cancel/[A-Za-z0-9_-]{43}`)
)

// askRecovery posts the address at /recover from c and waits until its
// lookup is done.
func (f *fixture) askRecovery(c *client, email string) (*http.Response, string) {
	f.t.Helper()
	res, body := c.form("/recover", url.Values{"email": {email}})
	f.srv.Citizens().WaitRecoveries()
	return res, body
}

// TestRecoverSameAnswer: an unknown address, one of a group without
// email_recovery, an unverified one and one that may recover get the same
// page; only the last gets mail, a link. Nothing is looked up before the
// answer.
func TestRecoverSameAnswer(t *testing.T) {
	f, mb, _ := recoverFixture(t)
	f.addCitizen("anna@example.org", true, "buerger")
	f.addCitizen("rita@example.org", true, "buerger", "rat")
	f.addCitizen("udo@example.org", false, "buerger")
	f.addCitizen("otto@example.org", true) // no group with a policy
	bodies := map[string]string{}
	for _, email := range []string{"nobody@example.org", "rita@example.org", "udo@example.org", "otto@example.org", "Anna@Example.org"} {
		c := f.client()
		res, body := f.askRecovery(c, email)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, `id="recover-sent"`) {
			t.Fatalf("POST /recover %s: %d\n%s", email, res.StatusCode, body)
		}
		bodies[email] = body
	}
	for email, b := range bodies {
		if b != bodies["nobody@example.org"] {
			t.Errorf("the answer for %s differs from the one for an unknown address", email)
		}
	}
	_, mails := mb.wait(1)
	time.Sleep(200 * time.Millisecond)
	_, more := mb.take()
	mails = append(mails, more...)
	if len(mails) != 1 {
		t.Fatalf("%d mails, want one (to anna):\n%s", len(mails), strings.Join(mails, "\n----\n"))
	}
	if !recoverLinkRE.MatchString(mails[0]) || !strings.Contains(mails[0], "Test anna@example.org") {
		t.Errorf("the mail has no recovery link for anna:\n%s", mails[0])
	}
}

// TestRecoverLinkRules: the link works once, for 30 minutes, in the
// browser that asked; a bad address and too many requests are refused.
func TestRecoverLinkRules(t *testing.T) {
	f, mb, clock := recoverFixture(t)
	f.addCitizen("anna@example.org", true, "buerger")
	link := func(c *client) string {
		t.Helper()
		if res, body := f.askRecovery(c, "anna@example.org"); res.StatusCode != http.StatusOK {
			t.Fatalf("POST /recover: %d\n%s", res.StatusCode, body)
		}
		_, mails := mb.wait(1)
		if len(mails) != 1 {
			t.Fatalf("%d mails, want 1", len(mails))
		}
		return strings.TrimPrefix(recoverLinkRE.FindString(mails[0]), f.base)
	}

	asker := f.client()
	path := link(asker)
	other := f.client()
	if res, body := other.get(path); res.StatusCode != http.StatusForbidden || !strings.Contains(body, "im selben Browser") && !strings.Contains(body, "in dem Browser") {
		t.Errorf("the link in another browser: %d\n%s", res.StatusCode, body)
	}
	if res, _ := other.form(path, url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Errorf("the link used in another browser: %d, want 403", res.StatusCode)
	}
	if res, body := asker.get(path); res.StatusCode != http.StatusOK || !strings.Contains(body, `id="recover-start"`) {
		t.Fatalf("the link in the browser that asked: %d\n%s", res.StatusCode, body)
	}
	res, body := asker.form(path, url.Values{})
	if res.StatusCode != http.StatusOK || asker.cookies[EnrollCookie] == "" {
		t.Fatalf("using the link: %d, enroll cookie %q\n%s", res.StatusCode, asker.cookies[EnrollCookie], body)
	}
	if _, mails := mb.wait(1); len(mails) != 1 || !cancelLinkRE.MatchString(mails[0]) {
		t.Errorf("the notice with a cancel link: %q", mails)
	}
	if res, _ := asker.form(path, url.Values{}); res.StatusCode != http.StatusGone {
		t.Errorf("the link used twice: %d, want 410", res.StatusCode)
	}

	// Expired: 30 minutes.
	asker = f.client()
	path = link(asker)
	clock.Add(citizens.LinkValidity)
	if res, body := asker.form(path, url.Values{}); res.StatusCode != http.StatusGone || !strings.Contains(body, "abgelaufen") {
		t.Errorf("an expired link: %d\n%s", res.StatusCode, body)
	}
	if res, _ := asker.get("/recover/not-a-token"); res.StatusCode != http.StatusNotFound {
		t.Errorf("a wrong link: %d, want 404", res.StatusCode)
	}
	if res, _ := asker.form("/recover", url.Values{"email": {"anna"}}); res.StatusCode != http.StatusBadRequest {
		t.Errorf("not an address: %d, want 400", res.StatusCode)
	}
	// Three a hour for one address (two asked above).
	c := f.client()
	if res, _ := f.askRecovery(c, "anna@example.org"); res.StatusCode != http.StatusOK {
		t.Errorf("the third request: %d", res.StatusCode)
	}
	if res, _ := f.askRecovery(c, "anna@example.org"); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the fourth request within the hour: %d, want 429", res.StatusCode)
	}
}

// TestRecoverOff: without citizens and without a group that allows it,
// /recover does not exist and /login does not link to it.
func TestRecoverOff(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"/recover", "/recover/cancel/x"} {
		if res, _ := f.client().get(p); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, res.StatusCode)
		}
	}
	if res, _ := f.client().form("/recover", url.Values{"email": {"anna@example.org"}}); res.StatusCode != http.StatusNotFound {
		t.Errorf("POST /recover: %d, want 404", res.StatusCode)
	}
	if _, body := f.client().get("/login"); strings.Contains(body, `href="/recover"`) {
		t.Error("/login links to /recover, which is off")
	}
	g, _, _ := recoverFixture(t)
	if _, body := g.client().get("/login"); !strings.Contains(body, `href="/recover"`) {
		t.Error("/login does not link to /recover")
	}
}

// recoverTestViews are the recovery pages for TestPagesRender.
func recoverTestViews() map[string]*view {
	return map[string]*view{"recover": {Page: "recover", Recover: &recoverView{Mode: "link", Token: "t", Name: "Anna"}}}
}

// TestRecoverTiming: the answer for an address that gets a link takes as
// long as the one for an unknown address (medians of 100 tries each,
// alternating, within 25 % on this shared machine): the lookup, the stored link and the mail
// come after the answer.
func TestRecoverTiming(t *testing.T) {
	if testing.Short() {
		t.Skip("timing: not in -short")
	}
	f, mb, clock := recoverFixture(t)
	f.addCitizen("anna@example.org", true, "buerger")
	const tries = 100
	var known, unknown []time.Duration
	for i := range 2 * tries {
		if i%6 == 0 {
			clock.Add(time.Hour) // past the throttle's window
		}
		email := "nobody@example.org"
		if (i+i/2)%2 == 0 { // known, unknown, unknown, known, …: neither always follows the other
			email = "anna@example.org"
		}
		c := f.client()
		start := time.Now()
		res, _ := c.form("/recover", url.Values{"email": {email}})
		took := time.Since(start)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("try %d: %d", i, res.StatusCode)
		}
		f.srv.Citizens().WaitRecoveries()
		time.Sleep(5 * time.Millisecond) // the mail server's side of the last mail ends too
		if email == "anna@example.org" {
			known = append(known, took)
		} else {
			unknown = append(unknown, took)
		}
	}
	if _, mails := mb.wait(tries); len(mails) != tries {
		t.Fatalf("%d mails, want %d", len(mails), tries)
	}
	median := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	k, u := median(known), median(unknown)
	t.Logf("median answer: %v for an address that gets a link, %v for an unknown one", k, u)
	if diff := float64(k-u) / float64(min(k, u)); diff > 0.25 || diff < -0.25 {
		t.Errorf("medians differ by %.0f %%: %v and %v", 100*diff, k, u)
	}
}

// TestRecoverHoldsOldFactors: while a recovery is pending, nobody signed
// in removes her old key or app or changes her password (a thief of her
// mailbox would take her account over before the 72 hours are up); the
// recovery's own new key may go.
func TestRecoverHoldsOldFactors(t *testing.T) {
	f, mb, _ := recoverFixture(t)
	anna := f.addCitizen("anna@example.org", true, "buerger")
	var oldKey, newKey testKey = newTestKey(t), newTestKey(t)
	f.addKey(anna, &oldKey, 0)
	f.addTOTP(anna)
	f.setPassword(anna, testPassword)
	asker := f.client()
	f.askRecovery(asker, "anna@example.org")
	_, mails := mb.wait(1)
	if len(mails) != 1 {
		t.Fatalf("%d mails", len(mails))
	}
	if res, body := asker.form(strings.TrimPrefix(recoverLinkRE.FindString(mails[0]), f.base), url.Values{}); res.StatusCode != http.StatusOK {
		t.Fatalf("start: %d\n%s", res.StatusCode, body)
	}
	time.Sleep(2 * time.Millisecond) // the new key is made after the cut
	f.addKey(anna, &newKey, 0)
	b := f.browser(f.sessionCookie(anna, time.Now(), false))
	if res, body := b.form("/account/factors/remove", url.Values{"id": {oldKey.credID}, "confirm": {"yes"}}); res.StatusCode != http.StatusConflict || !strings.Contains(body, "wiederhergestellt") {
		t.Errorf("removing her old key during the recovery: %d\n%s", res.StatusCode, body)
	}
	if res, _ := b.form("/account/password", url.Values{"password": {"ein ganz neues Passwort"}, "password2": {"ein ganz neues Passwort"}}); res.StatusCode != http.StatusConflict {
		t.Errorf("a new password during the recovery: %d, want 409", res.StatusCode)
	}
	if got := keyNames(t, f, anna.ID); got != "YubiKey, App, YubiKey" {
		t.Errorf("she has %q, want her old key and app and the new key", got)
	}
	if res, body := b.form("/account/factors/remove", url.Values{"id": {newKey.credID}, "confirm": {"yes"}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("removing the recovery's new key: %d\n%s", res.StatusCode, body)
	}
}

// TestRecoverCrossSite: the recovery's forms refuse a cross-site POST, as
// every form does, and change nothing.
func TestRecoverCrossSite(t *testing.T) {
	f, mb, _ := recoverFixture(t)
	f.addCitizen("anna@example.org", true, "buerger")
	for _, p := range []string{"/recover", "/recover/" + citizens.NewRecoveryToken(), "/recover/cancel/" + citizens.NewRecoveryToken(), "/account/recovery/cancel"} {
		req, _ := http.NewRequest("POST", f.base+p, strings.NewReader("email=anna%40example.org"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", "https://evil.example")
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s: %d, want 403", p, res.StatusCode)
		}
	}
	f.srv.Citizens().WaitRecoveries()
	time.Sleep(100 * time.Millisecond)
	if _, mails := mb.take(); len(mails) != 0 {
		t.Errorf("a cross-site request mailed %d links", len(mails))
	}
}
