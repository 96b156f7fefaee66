package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/enroll/mds/mdstest"
)

// TestAdminMDSImportAllowStale: a blob past its nextUpdate is refused,
// and with --allow-stale imported with a warning and audited with stale
// "true"; the keys report still calls it stale.
func TestAdminMDSImportAllowStale(t *testing.T) {
	env, url := adminEnv(t)
	p := mdstest.NewPKI(t, mdstest.Options{})
	p.Trust(t)
	next := time.Now().UTC().AddDate(0, 0, -3)
	blob := filepath.Join(t.TempDir(), "blob.jwt")
	if err := os.WriteFile(blob, p.Sign(t, mdstest.Payload(50, next, mdsEntries()...)), 0o600); err != nil {
		t.Fatal(err)
	}
	if e := mustRun(t, env, 1, "admin", "mds", "import", blob); !strings.Contains(e, "past its nextUpdate") {
		t.Errorf("without --allow-stale: %q", e)
	}
	code, out, errOut := runKeyhall(t, env, "admin", "mds", "import", blob, "--allow-stale")
	if code != 0 || !strings.Contains(out, "MDS blob no. 50") ||
		!strings.Contains(errOut, "Warning: "+blob+" is past its next update ("+next.Format(time.DateOnly)+"): imported anyway (--allow-stale)") {
		t.Fatalf("--allow-stale: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	ev := mustListAll(t, openTestStore(t, url))
	if last := ev[len(ev)-1]; last.Action != "mds.import" || last.Details["no"] != "50" || last.Details["stale"] != "true" {
		t.Errorf("audit event %+v", last)
	}
	if out := mustRun(t, env, 0, "admin", "keys", "report"); !strings.Contains(out, "past its next update") {
		t.Errorf("keys report after a stale import:\n%s", out)
	}
}
