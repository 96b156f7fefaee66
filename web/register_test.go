package web

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/enroll/citizens"
)

// withCitizens turns self-registration on (citizens.enabled).
func withCitizens(c *Config) { c.Citizens, c.Register = citizens.Config{Group: "buerger"}, true }

// newRegisterFixture is a server with citizens on, mailing to a real SMTP
// server in the test process.
func newRegisterFixture(t testing.TB, opts ...func(*Config)) (*fixture, *mailbox) {
	t.Helper()
	f := newFixture(t, append([]func(*Config){withCitizens}, opts...)...)
	mb := startMailbox(t)
	f.withMail(t, mb)
	if f.srv.Citizens() == nil {
		t.Fatalf("citizens could not be set up:\n%s", f.logs.String())
	}
	return f, mb
}

var registerLinkRE = regexp.MustCompile(`http://localhost:\d+(/register/confirm/[A-Za-z0-9_-]+)`)

// registrationLink waits for the mail to email and returns the path of
// its link ("" when the mail has none: the address has an account).
func registrationLink(t *testing.T, mb *mailbox, email string) (path, body string) {
	t.Helper()
	heads, bodies := mb.wait(1)
	if len(heads) != 1 {
		t.Fatalf("%d mails, want 1", len(heads))
	}
	if to := heads[0].Header.Get("To"); !strings.Contains(to, email) {
		t.Fatalf("mail to %q, want %s", to, email)
	}
	m := registerLinkRE.FindStringSubmatch(bodies[0])
	if m == nil {
		return "", bodies[0]
	}
	return m[1], bodies[0]
}

// startRegistration loads /register in c and posts the form.
func startRegistration(t *testing.T, c *client, email, name string) (*http.Response, string) {
	t.Helper()
	if res, body := c.get("/register"); res.StatusCode != http.StatusOK || !strings.Contains(body, `name="email"`) {
		t.Fatalf("GET /register: %d\n%s", res.StatusCode, body)
	}
	return c.form("/register", url.Values{"email": {email}, "name": {name}})
}

func TestRegisterOffWhenCitizensAreOff(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	for _, p := range []string{"/register", "/register/confirm/abc"} {
		if res, _ := c.get(p); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s with citizens off: %d, want 404", p, res.StatusCode)
		}
	}
	if _, body := c.get("/login"); strings.Contains(body, `href="/register"`) {
		t.Error("/login links to /register with citizens off")
	}
}

func TestRegisterHTTP(t *testing.T) {
	f, mb := newRegisterFixture(t)
	c := f.client()
	if _, body := c.get("/login"); !strings.Contains(body, `href="/register"`) {
		t.Error("/login does not link to /register")
	}
	res, body := startRegistration(t, c, "Anna.Mueller@Example.org", "Anna Müller")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Bitte prüfen Sie Ihr Postfach") {
		t.Fatalf("POST /register: %d\n%s", res.StatusCode, body)
	}
	link, mail := registrationLink(t, mb, "anna.mueller@example.org")
	if link == "" {
		t.Fatalf("no link in the mail:\n%s", mail)
	}
	// Another browser: a clear page, nothing created.
	other := f.client()
	res, body = other.get(link)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "in dem Browser, in dem Sie sich registriert haben") {
		t.Errorf("the link in another browser: %d\n%s", res.StatusCode, body)
	}
	res, _ = other.form(link, nil)
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("POST of the link from another browser: %d", res.StatusCode)
	}
	// Malformed.
	if res, body := c.get("/register/confirm/AAAA"); res.StatusCode != http.StatusNotFound || !strings.Contains(body, "ungültig") {
		t.Errorf("a malformed link: %d\n%s", res.StatusCode, body)
	}
	if n, _ := f.store.CountUsers(context.Background()); n != 0 {
		t.Fatalf("%d people before the link was used", n)
	}
	// Her browser: the page, then the button, then the enrollment.
	if res, body := c.get(link); res.StatusCode != http.StatusOK || !strings.Contains(body, `id="register-confirm"`) {
		t.Fatalf("GET the link: %d\n%s", res.StatusCode, body)
	}
	res, body = c.form(link, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `id="choose-key"`) || c.cookies[EnrollCookie] == "" {
		t.Fatalf("POST the link: %d\n%s", res.StatusCode, body)
	}
	u, err := f.store.GetUserByUsername(context.Background(), "anna.mueller@example.org")
	if err != nil || !u.EmailVerified() || u.DisplayName != "Anna Müller" {
		t.Errorf("the citizen: %+v, %v", u, err)
	}
	// Used twice.
	if res, body := c.form(link, nil); res.StatusCode != http.StatusGone || !strings.Contains(body, "bereits verwendet") {
		t.Errorf("the link used twice: %d\n%s", res.StatusCode, body)
	}
	if n, _ := f.store.CountUsers(context.Background()); n != 1 {
		t.Errorf("%d people, want 1", n)
	}
	// A cross-site POST is refused like any other form's.
	req, _ := http.NewRequest("POST", f.base+"/register", strings.NewReader("email=x%40example.org&name=X"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if res, err := http.DefaultTransport.RoundTrip(req); err != nil || res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST /register: %v, %v", res.StatusCode, err)
	}
}

// normalized is a /register answer without what differs by design
// between any two answers (the date, the cookie's value).
func normalized(t *testing.T, res *http.Response, body string) string {
	t.Helper()
	var keys []string
	for k := range res.Header {
		if k != "Date" && k != "Set-Cookie" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", res.StatusCode)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(res.Header[k], ", "))
	}
	var cookies []string
	for _, ck := range res.Cookies() {
		cookies = append(cookies, fmt.Sprintf("%s MaxAge=%d Secure=%t HttpOnly=%t SameSite=%v Path=%s",
			ck.Name, ck.MaxAge, ck.Secure, ck.HttpOnly, ck.SameSite, ck.Path))
	}
	fmt.Fprintf(&b, "cookies: %s\n\n%s", strings.Join(cookies, "; "), body)
	return b.String()
}

// TestRegisterAnswerSameForKnownAddress: nobody learns from /register
// whether an address has an account. The answers for a new and a known
// address are equal byte for byte (but for the date and the cookie's
// value); only the mail differs.
func TestRegisterAnswerSameForKnownAddress(t *testing.T) {
	f, mb := newRegisterFixture(t)
	known := f.addUser("bert@example.org")
	f.withEmail(known, "bert@example.org")
	var answers []string
	for _, email := range []string{"new@example.org", "bert@example.org"} {
		c := f.client()
		res, body := startRegistration(t, c, email, "Jemand")
		answers = append(answers, normalized(t, res, body))
	}
	if answers[0] != answers[1] {
		t.Errorf("the answers differ:\n--- new address ---\n%s\n--- known address ---\n%s", answers[0], answers[1])
	}
	heads, bodies := mb.wait(2)
	if len(heads) != 2 {
		t.Fatalf("%d mails, want 2", len(heads))
	}
	for i, h := range heads {
		to := h.Header.Get("To")
		link := registerLinkRE.MatchString(bodies[i])
		switch {
		case strings.Contains(to, "new@example.org") && !link:
			t.Errorf("the new address got no link:\n%s", bodies[i])
		case strings.Contains(to, "bert@example.org") && (link || !strings.Contains(bodies[i], "/login")):
			t.Errorf("the known address got:\n%s", bodies[i])
		}
	}
}

// TestRegisterTiming: the time /register takes does not tell whether an
// address has an account: over 200 tries each, alternating, the medians
// are within 10 %. Slow (400 requests and their mail), so it runs with
// KEYHALL_LOAD=1.
func TestRegisterTiming(t *testing.T) {
	if os.Getenv("KEYHALL_LOAD") != "1" {
		t.Skip("timing test: set KEYHALL_LOAD=1")
	}
	const tries = 200
	f, mb := newRegisterFixture(t, trustLoopback)
	for i := range tries {
		f.withEmail(f.addUser(fmt.Sprintf("known%d@example.org", i)), fmt.Sprintf("known%d@example.org", i))
	}
	c := f.client()
	c.get("/register")
	durations := map[string][]time.Duration{}
	send := func(i int, kind string) {
		// Each from a network of its own, as many people would: the
		// throttle of one network is not what is measured.
		v := url.Values{"email": {fmt.Sprintf("%s%d@example.org", kind, i)}, "name": {"Jemand"}}
		req, _ := http.NewRequest("POST", f.base+"/register", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.1", i/256, i%256))
		if kind == "known" {
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.1", 100+i/256, i%256))
		}
		req.AddCookie(&http.Cookie{Name: registerCookie, Value: c.cookies[registerCookie]})
		start := time.Now()
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, res)
		durations[kind] = append(durations[kind], time.Since(start))
		if res.StatusCode != http.StatusOK {
			t.Fatalf("try %d (%s): %d\n%s", i, kind, res.StatusCode, body)
		}
	}
	for i := range tries {
		if i%2 == 0 {
			send(i, "new")
			send(i, "known")
		} else {
			send(i, "known")
			send(i, "new")
		}
	}
	if heads, _ := mb.wait(2 * tries); len(heads) != 2*tries {
		t.Errorf("%d mails, want %d", len(heads), 2*tries)
	}
	med := func(d []time.Duration) time.Duration {
		d = slices.Clone(d)
		slices.Sort(d)
		return d[len(d)/2]
	}
	mn, mk := med(durations["new"]), med(durations["known"])
	t.Logf("median of %d POST /register: new address %v, known address %v", tries, mn, mk)
	if diff := float64(mn-mk) / float64(min(mn, mk)); diff > 0.10 || diff < -0.10 {
		t.Errorf("medians differ by %.1f %%: new %v, known %v", 100*diff, mn, mk)
	}
}

// trustLoopback makes the test's own address a trusted proxy, so that
// X-Forwarded-For names the client.
func trustLoopback(c *Config) {
	c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
}

// registerTestViews are the registration pages for TestPagesRender.
func registerTestViews() map[string]*view {
	return map[string]*view{
		"register":         {Page: "register", Register: &registerView{Email: "anna@example.org", Name: "Anna", MaxName: 64}, Error: "x"},
		"register_sent":    {Page: "register_sent"},
		"register_confirm": {Page: "register_confirm", Register: &registerView{Token: "abc"}},
		"register_invalid": {Page: "register_invalid", Error: "x"},
	}
}
