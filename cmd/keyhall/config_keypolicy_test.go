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
      attestation: feitian
      aaguids: [yubikey, nonsense]
`)
	_, err = loadConfig(bad, nil)
	for _, want := range []string{"bad.yaml:4: policy.groups.rat.attestation", "bad.yaml:5: policy.groups.rat.aaguids[1]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("loadConfig = %v; want a problem at %q", err, want)
		}
	}
}
