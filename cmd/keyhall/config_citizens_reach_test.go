package main

import (
	"strings"
	"testing"
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
