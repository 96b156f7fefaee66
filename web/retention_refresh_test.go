package web

import (
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyhall/keyhall/authn"
)

// TestRefreshCountsAsUse: a tool that renews its tokens with a refresh
// token (the token endpoint's refresh grant) uses her account: retention
// (authn.RetentionStore.InactiveMembers, which the deletion of unused
// citizen accounts reads) sees the renewal as her last use. The tool is
// one for citizens: its groups name theirs.
func TestRefreshCountsAsUse(t *testing.T) {
	e := newOIDCEnv(t, wikiForCitizens)
	ctx := t.Context()
	start := e.clock.Now()
	ev := authn.AuditEvent{Time: start, Actor: "test", Action: "user.create", Subject: "erika"}
	erika := authn.User{ID: authn.NewID(), Username: "erika@example.org", DisplayName: "Erika", Email: "erika@example.org",
		Status: authn.StatusActive, Source: authn.SourceLocal, CreatedAt: start, UpdatedAt: start}
	g := authn.Group{ID: authn.NewID(), Name: "buerger", Source: authn.SourceLocal, CreatedAt: start}
	if err := e.st.CreateUser(ctx, erika, ev); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateGroup(ctx, g, ev); err != nil {
		t.Fatal(err)
	}
	if err := e.st.AddMember(ctx, g.ID, erika.ID, ev); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	e.signIn(b, erika, "phr", "hwk", "user")
	r := e.rp("wiki", e.secret, wikiRedirect, oidc.ScopeOfflineAccess)
	tok, err := r.conf.Exchange(ctx, e.code(b, r), oauth2.VerifierOption(r.verifier))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %+v, %v", tok, err)
	}
	e.clock.Add(7 * time.Hour) // her session is still on; the tool renews its tokens
	renewed := e.clock.Now()
	if _, err := r.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	list, err := e.st.InactiveMembers(ctx, g.ID, renewed.Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].User.ID != erika.ID {
		t.Fatalf("InactiveMembers = %+v, want erika", list)
	}
	if got := list[0].LastUsed; got.Before(renewed.Truncate(time.Microsecond)) {
		t.Errorf("her last use is %s (%s after the start), want the renewal at %s", got, got.Sub(start), renewed)
	}
}

// wikiForCitizens makes the OIDC test environment's wiki a tool for
// citizens: its groups name theirs ("buerger"), as a tool must for a
// citizen to use it (Server.admits).
func wikiForCitizens(c *OIDCConfig) {
	for i := range c.Clients {
		if c.Clients[i].ID == "wiki" {
			c.Clients[i].Groups = []string{"buerger"}
		}
	}
}
