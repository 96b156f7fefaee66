package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/keyhall/keyhall/enroll"
)

// TestKeyPolicyConfig: "group rat must use a YubiKey" is written in the
// configuration and reaches enrollment as Yubico's roots and models.
func TestKeyPolicyConfig(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "keyhall.yaml", `policy:
  groups:
    rat:
      level: phrh
      attestation: yubico
      aaguids: [yubikey, 2fc0579f-8113-47ea-b116-bb5a8db9202a]
`)
	cfg, err := loadConfig(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	kp := enrollPolicy(cfg).Groups["rat"]
	if len(kp.TrustedRoots) != len(enroll.YubicoRoots()) || !kp.RefuseSynced || !strings.Contains(kp.NeedDE, "YubiKey") {
		t.Errorf("rat's key policy: %d roots, refuse synced %v, need %q; want Yubico's roots", len(kp.TrustedRoots), kp.RefuseSynced, kp.NeedDE)
	}
	extra := uuid.MustParse("2fc0579f-8113-47ea-b116-bb5a8db9202a")
	if len(kp.AAGUIDs) != len(enroll.YubiKeyAAGUIDs())+1 || !slices.Contains(kp.AAGUIDs, extra) {
		t.Errorf("rat's models: %d AAGUIDs, want every YubiKey and the one listed", len(kp.AAGUIDs))
	}
	if other := enrollPolicy(cfg).Default; other.TrustedRoots != nil || other.AAGUIDs != nil {
		t.Error("the default policy asks for attestation")
	}

	bad := writeFile(t, dir, "bad.yaml", `policy:
  groups:
    rat:
      attestation: notYubiKey
      aaguids: [yubikey, nonsense]
`)
	_, err = loadConfig(bad, nil)
	for _, want := range []string{"bad.yaml:4: policy.groups.rat.attestation", "bad.yaml:5: policy.groups.rat.aaguids[1]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("loadConfig = %v; want a problem at %q", err, want)
		}
	}
}

// TestCheckConfigWarnsUnreachablePhrh: only a key attested by a trusted root
// (Yubico's) signs in at phrh, so where a rule, a client or a group needs
// phrh of people whose group admits no YubiKey model, check-config warns;
// it still accepts the file. A group that admits YubiKeys, or no list at
// all, raises no warning.
func TestCheckConfigWarnsUnreachablePhrh(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	notYubiKey := "12ded745-4bed-47d4-abaa-e713f51d6393"
	// A port of its own: check-config checks that the address is free, and
	// 8080 may be taken by a Keyhall the developer runs beside the tests.
	file := writeFile(t, dir, "keyhall.yaml", `public_url: https://login.stadt.example
listen: 127.0.0.1:0
policy:
  groups:
    ausschuss:
      level: phrh
      allow_totp: false
      aaguids: [`+notYubiKey+`]
    rat:
      level: phr
      allow_totp: false
      aaguids: [yubikey]
    kantine:
      aaguids: [`+notYubiKey+`]
forward_auth:
  cookie_domain: stadt.example
  rules:
    - host: geheim.stadt.example
      groups: [ausschuss, kantine]
      level: phrh
    - host: rat.stadt.example
      groups: [ausschuss, rat]
      level: phrh
    - host: alle.stadt.example
      level: phrh
oidc:
  clients:
    - id: ris
      secret_sha256: `+sumHex+`
      redirect_uris: [https://ris.stadt.example/cb]
      groups: [kantine]
      level: phrh
    - id: ris2
      secret_sha256: `+sumHex+`
      redirect_uris: [https://ris2.stadt.example/cb]
      groups: [rat]
      level: phrh
`)
	cfg, err := loadConfig(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"policy.groups.ausschuss.level: phrh needs a key attested by Yubico's roots, but policy.groups.ausschuss.aaguids admits no YubiKey model: no member can sign in",
		"forward_auth.rules[0].level: phrh, but no key of a member of ausschuss, kantine can reach it (" + phrhHint + ")",
		"oidc.clients[0].level: phrh, but no key of a member of kantine can reach it (" + phrhHint + ")",
	}
	if got := cfg.Warnings(); !slices.Equal(got, want) {
		t.Errorf("Warnings() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	code, out, errOut := runKeyhall(t, nil, "check-config", file)
	if code != 0 || out != file+": ok\n" || !strings.Contains(errOut, file+": warning: "+want[1]+"\n") {
		t.Errorf("check-config: exit %d, stdout %q, stderr %q; want 0, ok and the warnings", code, out, errOut)
	}
}

// TestCheckConfigWarnsAppAtPhrh: an app signs in at mfa, so a group at phr
// or phrh that allows one (allow_totp is true unless set) gets a warning:
// its members are not offered an app. The file is still accepted.
func TestCheckConfigWarnsAppAtPhrh(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	// A port of its own: check-config checks that the address is free, and
	// 8080 may be taken by a Keyhall the developer runs beside the tests.
	file := writeFile(t, dir, "keyhall.yaml", `public_url: https://login.stadt.example
listen: 127.0.0.1:0
policy:
  groups:
    rat:
      level: phrh
      allow_totp: true
    ausschuss:
      level: phr
    verwaltung:
      level: mfa
    kantine:
      level: phrh
      allow_totp: false
`)
	cfg, err := loadConfig(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"policy.groups.ausschuss.allow_totp: true (the default) with level phr: an app signs in at mfa, below phr, so members are not offered one; set allow_totp: false",
		"policy.groups.rat.allow_totp: true (the default) with level phrh: an app signs in at mfa, below phrh, so members are not offered one; set allow_totp: false",
	}
	if got := cfg.Warnings(); !slices.Equal(got, want) {
		t.Errorf("Warnings() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	code, out, errOut := runKeyhall(t, nil, "check-config", file)
	if code != 0 || out != file+": ok\n" || !strings.Contains(errOut, file+": warning: "+want[1]+"\n") {
		t.Errorf("check-config: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
