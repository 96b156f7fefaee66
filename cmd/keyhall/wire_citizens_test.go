package main

import (
	"testing"
)

// TestWebConfigCitizens: with citizens.enabled, serve hands web the
// citizens' configuration, and the citizens' group signs in without a
// password, with keys that verify the person and synced passkeys allowed,
// also where policy.groups gives the group a policy of its own; the
// council's groups keep theirs. Without it, nothing of citizens is on.
func TestWebConfigCitizens(t *testing.T) {
	cfg := defaultConfig()
	keys := Keys{Cookie: make([]byte, 64), Encryption: [32]byte{1}, OIDC: [32]byte{2}}
	publicURL, err := cfg.parsedPublicURL()
	if err != nil {
		t.Fatal(err)
	}
	wc, err := webConfig(cfg, keys, publicURL, nil, discardLogger())
	if err != nil || wc.Register {
		t.Fatalf("citizens off, and /register is open: %v", err)
	}
	if _, ok := wc.SignIn.Policy.Groups["buerger"]; ok {
		t.Error("citizens off, and the group buerger has a sign-in policy")
	}

	cfg.Citizens.Enabled = true
	cfg.Policy.Groups = map[string]GroupPolicy{"rat": {Level: "phrh"}, "buerger": {AllowTOTP: true}}
	wc, err = webConfig(cfg, keys, publicURL, nil, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	c := wc.Citizens
	if !wc.Register || c.Group != "buerger" || c.EncryptionKey != keys.Encryption || c.PublicURL != publicURL || c.Mailer == nil {
		t.Fatalf("citizens: %+v", c)
	}
	sp, kp := wc.SignIn.Policy.Groups["buerger"], wc.Enroll.Policy.Groups["buerger"]
	if !sp.NoPassword || !sp.UserVerification || !sp.AllowTOTP {
		t.Errorf("citizens' sign-in policy %+v", sp)
	}
	if !kp.NoPassword || !kp.RequireUV || kp.RefuseSynced || !kp.AllowTOTP || !kp.TOTPAlone {
		t.Errorf("citizens' key policy %+v", kp)
	}
	if wc.SignIn.Policy.Groups["rat"].NoPassword || wc.Enroll.Policy.Groups["rat"].NoPassword || !wc.Enroll.Policy.Groups["rat"].RefuseSynced {
		t.Errorf("the council's policy changed: %+v, %+v", wc.SignIn.Policy.Groups["rat"], wc.Enroll.Policy.Groups["rat"])
	}
}
