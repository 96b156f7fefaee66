package web

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/keyhall/keyhall/authn"
)

// TestOIDCCitizensOnlyWhereNamed: with citizens on, anyone may register
// and join citizens.group ("buerger"). Such a citizen gets no code for a
// client without groups ("wiki", "vote": a staff tool written for
// "everyone"), only for one that names her group ("portal"); the city's
// staff keep every client without groups, and do not get into the portal
// by it.
func TestOIDCCitizensOnlyWhereNamed(t *testing.T) {
	const portalCB = "http://127.0.0.1/portal"
	e := newOIDCEnvOn(t, "sqlite://"+filepath.Join(t.TempDir(), "k.db"), func(c *OIDCConfig) {
		c.Clients = append(c.Clients, OIDCClient{ID: "portal", Native: true, RedirectURIs: []string{portalCB}, Groups: []string{"buerger"}})
	}, withCitizens)
	citizen := newBrowser(t)
	e.signIn(citizen, e.mkUser("erika@example.org", "buerger"), "phr", "swk", "user")
	staff := newBrowser(t)
	e.signIn(staff, e.anna, "phrh", "hwk")

	for _, tc := range []struct {
		b      *oidcBrowser
		who    string
		client string
		cb     string
		ok     bool
	}{
		{citizen, "a citizen", "wiki", wikiRedirect, false},
		{citizen, "a citizen", "vote", "https://vote.example/cb", false},
		{citizen, "a citizen", "portal", portalCB, true},
		{staff, "staff", "wiki", wikiRedirect, true},
		{staff, "staff", "vote", "https://vote.example/cb", true},
		{staff, "staff", "portal", portalCB, false},
	} {
		secret := e.secret
		if tc.client == "portal" {
			secret = ""
		}
		r := e.rp(tc.client, secret, tc.cb)
		_, cont := tc.b.get(e.issuer, r.authURL())
		status, loc := tc.b.get(e.issuer, cont)
		switch got := status == http.StatusFound && strings.Contains(loc, "code="); {
		case got != tc.ok:
			t.Errorf("%s at %s: %d to %q; want a code: %v", tc.who, tc.client, status, loc, tc.ok)
		case !tc.ok && status != http.StatusForbidden:
			t.Errorf("%s at %s: %d, want 403 (the page that says she may not use it)", tc.who, tc.client, status)
		}
		if !tc.ok { // prompt=none: the tool is told, with no page
			if q := e.authorize(tc.b, r.authURL(oauth2.SetAuthURLParam("prompt", "none"))); q.Get("error") != "access_denied" {
				t.Errorf("%s at %s with prompt=none: %v, want access_denied", tc.who, tc.client, q)
			}
		}
	}
}

// TestForwardAuthCitizensOnlyWhereNamed: forward-auth as the OIDC clients
// above: with citizens on, a rule without groups admits staff and not a
// citizen; a rule naming citizens.group admits her.
func TestForwardAuthCitizensOnlyWhereNamed(t *testing.T) {
	f := newFwdFixtureAt(t, "sqlite://"+filepath.Join(t.TempDir(), "k.db"), withCitizens, func(c *Config) {
		c.ForwardAuth.Rules = append(c.ForwardAuth.Rules, ForwardAuthRule{Host: "portal.stadt.example", Groups: []string{"buerger"}})
	})
	ctx := context.Background()
	now := time.Now().UTC()
	ev := authn.AuditEvent{Time: now, Actor: "test", Action: "test"}
	erika := authn.User{ID: authn.NewID(), Username: "erika@example.org", Email: "erika@example.org",
		Status: authn.StatusActive, Source: authn.SourceLocal, CreatedAt: now, UpdatedAt: now}
	buerger := authn.Group{ID: authn.NewID(), Name: "buerger", Source: authn.SourceLocal, CreatedAt: now}
	if err := f.st.CreateUser(ctx, erika, ev); err != nil {
		t.Fatal(err)
	}
	if err := f.st.CreateGroup(ctx, buerger, ev); err != nil {
		t.Fatal(err)
	}
	if err := f.st.AddMember(ctx, buerger.ID, erika.ID, ev); err != nil {
		t.Fatal(err)
	}
	citizen, _ := f.session(t, erika, authn.LevelPhr)
	staff, _ := f.session(t, f.bob, authn.LevelPhr) // in no group
	for _, tc := range []struct {
		who, cookie, url string
		want             int
	}{
		{"a citizen", citizen, "https://wiki.stadt.example/", http.StatusForbidden},
		{"a citizen", citizen, "https://portal.stadt.example/antrag", http.StatusOK},
		{"staff", staff, "https://wiki.stadt.example/", http.StatusOK},
		{"staff", staff, "https://portal.stadt.example/antrag", http.StatusForbidden},
	} {
		if rec := f.verify(nginxHeaders(tc.url), tc.cookie); rec.Code != tc.want {
			t.Errorf("%s at %s: %d, want %d", tc.who, tc.url, rec.Code, tc.want)
		}
	}
}

// TestForwardAuthCitizensStayCitizensWithRegistrationClosed: a city ran
// with citizens on, and Erika registered into "buerger". It then closes
// registration (citizens.enabled: false: a spam wave, the end of a pilot).
// Her account and passkey stay and she still signs in; she stays a
// citizen: the staff wiki (a rule without groups) stays closed to her,
// and open to staff.
func TestForwardAuthCitizensStayCitizensWithRegistrationClosed(t *testing.T) {
	f := newFwdFixtureAt(t, "sqlite://"+filepath.Join(t.TempDir(), "k.db")) // citizens.enabled: false
	ctx := context.Background()
	now := time.Now().UTC()
	ev := authn.AuditEvent{Time: now, Actor: "test", Action: "test"}
	erika := authn.User{ID: authn.NewID(), Username: "erika@example.org", Email: "erika@example.org",
		Status: authn.StatusActive, Source: authn.SourceLocal, CreatedAt: now, UpdatedAt: now}
	buerger := authn.Group{ID: authn.NewID(), Name: "buerger", Source: authn.SourceLocal, CreatedAt: now}
	for _, err := range []error{f.st.CreateUser(ctx, erika, ev), f.st.CreateGroup(ctx, buerger, ev), f.st.AddMember(ctx, buerger.ID, erika.ID, ev)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	citizen, _ := f.session(t, erika, authn.LevelPhr)
	staff, _ := f.session(t, f.bob, authn.LevelPhr)
	if rec := f.verify(nginxHeaders("https://wiki.stadt.example/"), citizen); rec.Code != http.StatusForbidden {
		t.Errorf("a registered citizen at the staff wiki after registration was closed: %d, want 403", rec.Code)
	}
	if rec := f.verify(nginxHeaders("https://wiki.stadt.example/"), staff); rec.Code != http.StatusOK {
		t.Errorf("staff at the wiki with registration closed: %d, want 200", rec.Code)
	}
}
