package ldapsync

import (
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// TestSyncHardenedADChangesNothing: the city hardens its domain (removes
// Authenticated Users from "Pre-Windows 2000 Compatible Access"); the
// service account, an ordinary user, can no longer read
// userAccountControl. The next sync must not read the disabled leaver as
// active and enable her again with her keys: it fails, names the cause,
// and changes nothing.
func TestSyncHardenedADChangesNothing(t *testing.T) {
	x := newE2E(t, newSyncEnv(t, syncBackends[0].start(t)(t)), newSambaDir(t))
	sd := x.dir.(*sambaDir)
	svc := sd.s.CreateUserIn(t, sd.outside, sd.Name("svc"), "Passw0rd!svc")

	anna := x.dir.create(t, "anna")
	x.sync()
	x.dir.disable(t, anna)
	if res := x.sync(); len(res.Disabled) != 1 {
		t.Fatalf("Disabled = %+v", res.Disabled)
	}

	sd.s.Harden(t)
	x.cfg.BindDN, x.cfg.BindPassword = svc.DN, "Passw0rd!svc"
	res, err := x.try(RunOptions{Actor: "test"})
	if err == nil || !strings.Contains(err.Error(), "userAccountControl") {
		t.Errorf("sync after hardening: %v, want an error naming userAccountControl", err)
	}
	if len(res.Enabled) != 0 || len(res.Disabled) != 0 || len(res.Created) != 0 {
		t.Errorf("sync after hardening changed people: %+v", res)
	}
	if u := x.byExternal(anna); u.Status != authn.StatusDisabled {
		t.Errorf("anna, disabled in AD, is %s in Keyhall", u.Status)
	}
}
