package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/ldapsync"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

// TestDirectoryLeaverEndsEverywhere: a person of a real directory (slapd)
// synced into Keyhall, signed in, with a refresh token of the tool "wiki"
// and forward-auth access, is locked for good in the directory. Within a
// second of the sync (the syncer as serve runs it: OnDisabled calls
// OIDCUserSignedOut) her session no longer passes /auth/verify, her
// refresh token is refused at the token endpoint, and wiki has had its
// back-channel logout.
func TestDirectoryLeaverEndsEverywhere(t *testing.T) {
	same, none := func(uid string) string { return uid }, func(string) string { return "" }
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: peopleLDIF(same, none, "lena", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9")})
	e := newOIDCEnvOn(t, "sqlite://"+filepath.Join(t.TempDir(), "k.db"), nil, func(c *Config) {
		c.ForwardAuth = ForwardAuthConfig{CookieDomain: "stadt.example", Rules: []ForwardAuthRule{{Host: "wiki.stadt.example"}}}
	})
	syncer, err := ldapsync.NewSyncer(ldapsync.SyncConfig{
		Store: e.st, Logger: slog.New(slog.DiscardHandler), Now: e.clock.Now,
		Directory: stadtDirectory(s),
		OnDisabled: func(ctx context.Context, ids []string) { // as cmd/keyhall's serve does
			for _, id := range ids {
				if err := e.srv.OIDCUserSignedOut(ctx, id); err != nil {
					t.Errorf("OIDCUserSignedOut: %v", err)
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := syncer.Run(t.Context(), ldapsync.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	lena, err := e.st.GetUserByUsername(t.Context(), "lena")
	if err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t)
	h := e.signIn(b, lena, "phrh", "hwk", "user", "mfa")
	r := e.rp("wiki", e.secret, wikiRedirect, oidc.ScopeOfflineAccess)
	tok, err := r.conf.Exchange(t.Context(), e.code(b, r), oauth2.VerifierOption(r.verifier))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v, refresh token %q", err, tok.RefreshToken)
	}
	verify := func() int {
		req := httptest.NewRequest("GET", "http://localhost:8080/auth/verify", nil)
		req.Header.Set("X-Original-URL", "https://wiki.stadt.example/seite")
		req.Header.Set("Cookie", ForwardAuthCookie+"="+e.srv.sealForwardCookie(h))
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		return rec.Code
	}
	if c := verify(); c != http.StatusOK {
		t.Fatalf("/auth/verify before she left: %d", c)
	}

	s.Modify(t, "uid=lena,ou=people,dc=example,dc=org", map[string][]string{"pwdAccountLockedTime": {"000001010000Z"}})
	res, err := syncer.Run(t.Context(), ldapsync.RunOptions{})
	if err != nil || len(res.Disabled) != 1 || res.Disabled[0].ID != lena.ID {
		t.Fatalf("sync: %v, disabled %+v", err, res.Disabled)
	}
	synced := time.Now()
	if c := verify(); c != http.StatusUnauthorized {
		t.Errorf("/auth/verify after the sync: %d, want 401", c)
	}
	if _, err := r.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("her refresh token still gives tokens after the sync")
	}
	select {
	case form := <-e.logouts:
		if form.Get("logout_token") == "" {
			t.Errorf("back-channel logout without a token: %v", form)
		}
		if d := time.Since(synced); d > time.Second {
			t.Errorf("the back-channel logout came %v after the sync", d)
		}
	case <-time.After(time.Second):
		t.Error("wiki got no back-channel logout within a second of the sync")
	}
	if u, _ := e.st.GetUser(t.Context(), lena.ID); u.Status != authn.StatusDisabled {
		t.Errorf("lena is %s", u.Status)
	}
}

// TestDirectoryGroupLeaverForwardAuth: a person taken out of a mapped group
// in a real directory (slapd) loses, within a second of the next sync, her
// forward-auth access to the tool of that group, and keeps that to the
// others; put back, she has it again.
func TestDirectoryGroupLeaverForwardAuth(t *testing.T) {
	same, none := func(uid string) string { return uid }, func(string) string { return "" }
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: peopleLDIF(same, none, "lena", "s0", "s1") +
		"dn: cn=Rat,ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: Rat\nmember: uid=s0,ou=people,dc=example,dc=org\nmember: uid=lena,ou=people,dc=example,dc=org\n"})
	e := newOIDCEnvOn(t, "sqlite://"+filepath.Join(t.TempDir(), "k.db"), nil, func(c *Config) {
		c.ForwardAuth = ForwardAuthConfig{CookieDomain: "stadt.example", Rules: []ForwardAuthRule{
			{Host: "wiki.stadt.example"}, {Host: "ris.stadt.example", Groups: []string{"rat"}}}}
	})
	syncer, err := ldapsync.NewSyncer(ldapsync.SyncConfig{
		Store: e.st, Logger: slog.New(slog.DiscardHandler),
		Directory: func() ldapsync.Config {
			c := stadtDirectory(s, ldaptest.SlapdPeopleDN, ldaptest.SlapdGroupsDN)
			c.Groups = []ldapsync.GroupMapping{{DN: "cn=Rat,ou=groups,dc=example,dc=org", Name: "rat"}}
			return c
		}(),
	})
	if err != nil {
		t.Fatal(err)
	}
	sync := func() {
		t.Helper()
		if _, err := syncer.Run(t.Context(), ldapsync.RunOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	sync()
	lena, err := e.st.GetUserByUsername(t.Context(), "lena")
	if err != nil {
		t.Fatal(err)
	}
	h := e.signIn(newBrowser(t), lena, "phrh", "hwk", "user", "mfa")
	verify := func(host string) int {
		req := httptest.NewRequest("GET", "http://localhost:8080/auth/verify", nil)
		req.Header.Set("X-Original-URL", "https://"+host+"/")
		req.Header.Set("Cookie", ForwardAuthCookie+"="+e.srv.sealForwardCookie(h))
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		return rec.Code
	}
	if w, r := verify("wiki.stadt.example"), verify("ris.stadt.example"); w != 200 || r != 200 {
		t.Fatalf("in the council: wiki %d, ris %d; want 200 and 200", w, r)
	}
	// A change to her groups reaches forward-auth within a second (the
	// person cache's identityTTL).
	within := func(what, host string, want int) {
		t.Helper()
		start := time.Now()
		for verify(host) != want {
			if time.Since(start) > time.Second {
				t.Fatalf("%s: %s still answers %d after a second, want %d", what, host, verify(host), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	s.Modify(t, "cn=Rat,ou=groups,dc=example,dc=org", map[string][]string{"member": {"uid=s0,ou=people,dc=example,dc=org"}})
	sync()
	within("out of the council", "ris.stadt.example", http.StatusForbidden)
	if w := verify("wiki.stadt.example"); w != 200 {
		t.Errorf("out of the council: wiki %d, want 200", w)
	}
	s.Modify(t, "cn=Rat,ou=groups,dc=example,dc=org", map[string][]string{"member": {"uid=s0,ou=people,dc=example,dc=org", "uid=lena,ou=people,dc=example,dc=org"}})
	sync()
	within("back in the council", "ris.stadt.example", 200)
}
