package main

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestCheckConfigCitizensReach: with citizens on, check-config names the
// tools citizens may use (a client or rule whose groups name
// citizens.group), and warns when there is none: a tool without groups is
// not for them.
func TestCheckConfigCitizensReach(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir) // the default key file and database would be here
	base := `public_url: https://login.stadt.example
listen: 127.0.0.1:0
citizens:
  enabled: true
mail:
  smtp_host: mail.stadt.example
  from: "Stadt Musterstadt <keyhall@stadt.example>"
legal:
  imprint_url: https://stadt.example/impressum
  privacy_url: https://stadt.example/datenschutz
oidc:
  clients:
    - id: wiki
      secret_sha256: ` + sumHex + `
      redirect_uris: [https://wiki.stadt.example/cb]
`
	portal := `    - id: portal
      native: true
      redirect_uris: [https://portal.stadt.example/cb]
      groups: [buerger]
forward_auth:
  rules:
    - host: intranet.stadt.example
    - host: antrag.stadt.example
      path_prefix: /buerger/
      groups: [buerger, rat]
`
	none := writeFile(t, dir, "none.yaml", base)
	some := writeFile(t, dir, "some.yaml", base+portal)
	off := writeFile(t, dir, "off.yaml", strings.Replace(base+portal, "enabled: true", "enabled: false", 1))

	code, out, errOut := runKeyhall(t, nil, "check-config", none)
	if want := "citizens.enabled: no oidc.clients[].groups and no forward_auth.rules[].groups names citizens.group buerger"; code != 0 || !strings.Contains(errOut, want) {
		t.Errorf("no tool for citizens: exit %d, stderr %q; want 0 and a warning %q", code, errOut, want)
	}
	if strings.Contains(out, "citizens (") {
		t.Errorf("no tool for citizens, yet check-config names some: %q", out)
	}

	code, out, errOut = runKeyhall(t, nil, "check-config", some)
	want := some + ": citizens (citizens.group buerger) may use oidc.clients[1] (portal), forward_auth.rules[1] (antrag.stadt.example/buerger/), and no tool without groups\n" +
		some + ": ok\n"
	if code != 0 || out != want || strings.Contains(errOut, "citizens") {
		t.Errorf("tools for citizens: exit %d, stdout %q, stderr %q; want 0, %q and no warning", code, out, errOut, want)
	}

	if code, out, errOut = runKeyhall(t, nil, "check-config", off); code != 0 || out != off+": ok\n" || errOut != "" {
		t.Errorf("citizens off: exit %d, stdout %q, stderr %q; want 0, only ok", code, out, errOut)
	}
}

// TestCheckConfigCitizensGroupInDatabase: check-config reads the database
// serve set up and compares the citizens' group with the people who
// registered themselves. With registration closed, the citizens who
// registered are still citizens: it names the tools they may use. A
// renamed citizens.group leaves them outside it, passing the staff's
// tools: it warns and says how to fix it; so it does for a directory group
// that bears the citizens' group's name when citizens were never on. Serve
// logs the same warnings at start.
func TestCheckConfigCitizensGroupInDatabase(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	ev := authn.AuditEvent{Time: now, Actor: "test", Action: "test"}
	conf := `public_url: https://login.stadt.example
listen: 127.0.0.1:0
citizens:
  group: GROUP
forward_auth:
  cookie_domain: stadt.example
  rules:
    - host: wiki.stadt.example
    - host: antrag.stadt.example
      groups: [buerger]
`
	// people makes a database with a member of group "buerger" (source
	// src), who registered herself or not.
	people := func(t *testing.T, src authn.Source, registered bool) string {
		url := "sqlite://" + filepath.Join(t.TempDir(), "keyhall.db")
		setUpDatabase(t, url)
		st := openTestStore(t, url)
		u := authn.User{ID: authn.NewID(), Username: "erika@example.org", Email: "erika@example.org",
			Status: authn.StatusActive, Source: src, CreatedAt: now, UpdatedAt: now}
		g := authn.Group{ID: authn.NewID(), Name: "buerger", Source: src, CreatedAt: now}
		if src == authn.SourceDirectory {
			u.ExternalID, g.ExternalID = "uid=erika", "cn=buerger"
		}
		for _, err := range []error{st.CreateUser(ctx, u, ev), st.CreateGroup(ctx, g, ev), st.AddMember(ctx, g.ID, u.ID, ev)} {
			if err != nil {
				t.Fatal(err)
			}
		}
		if registered {
			if err := st.(authn.RegistrationStore).CreateRegistration(ctx, authn.Registration{UserID: u.ID, Email: u.Email, CreatedAt: now, FinishedAt: now}); err != nil {
				t.Fatal(err)
			}
		}
		st.Close()
		return url
	}
	for _, tc := range []struct {
		name       string
		group      string
		src        authn.Source
		registered bool
		note, warn string
	}{
		{"registration closed", "buerger", authn.SourceLocal, true,
			"citizens (citizens.group buerger) may use forward_auth.rules[1] (antrag.stadt.example/), and no tool without groups", ""},
		{"citizens.group renamed", "einwohner", authn.SourceLocal, true,
			"", "citizens.group: 1 people who registered themselves are not members of einwohner (was citizens.group renamed?): " +
				"they pass every oidc client and forward_auth rule without groups, the staff's; move them into einwohner " +
				"(keyhall admin groups add-member einwohner USERNAME) or set citizens.group back to the group they are in"},
		{"a directory group of the same name", "buerger", authn.SourceDirectory, false,
			"citizens (citizens.group buerger) may use forward_auth.rules[1] (antrag.stadt.example/), and no tool without groups",
			"citizens.group: 1 of the 1 members of buerger did not register themselves (a directory group of the same name?): " +
				"as members of the citizens' group they use only the tools whose groups name buerger, none without groups; " +
				"if buerger is another group (e.g. sachkundige Bürger), rename it in the directory or set citizens.group to another name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			url := people(t, tc.src, tc.registered)
			file := writeFile(t, dir, "keyhall.yaml", strings.Replace(conf, "GROUP", tc.group, 1))
			code, out, errOut := runKeyhall(t, []string{"KEYHALL_STORAGE=" + url}, "check-config", file)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			if tc.note != "" && !strings.Contains(out, file+": "+tc.note+"\n") || tc.note == "" && strings.Contains(out, "citizens (") {
				t.Errorf("stdout %q; want the note %q", out, tc.note)
			}
			if tc.warn != "" && !strings.Contains(errOut, file+": warning: "+tc.warn+"\n") || tc.warn == "" && errOut != "" {
				t.Errorf("stderr %q; want the warning %q", errOut, tc.warn)
			}

			cfg, err := loadConfig(file, []string{"KEYHALL_STORAGE=" + url})
			if err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			warnCitizensGroup(ctx, openTestStore(t, url), cfg, slog.New(slog.NewTextHandler(&log, nil)))
			if tc.warn != "" && !strings.Contains(log.String(), "level=WARN") || tc.warn == "" && log.Len() > 0 {
				t.Errorf("serve's log at start: %q; want a warning: %v", log.String(), tc.warn != "")
			}
		})
	}
}
