package ldapsync_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/ldapsync"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

// TestSyncSkippedPersonStays: a person whose entry the reader skips (here:
// her uid gets a space, which authn.CanonicalName refuses) is still in the
// directory: she is not disabled as gone, and the run reports her.
func TestSyncSkippedPersonStays(t *testing.T) {
	var ldif []string
	for i := range 20 {
		ldif = append(ldif, fmt.Sprintf("dn: cn=p%02d,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: p%02d\ncn: p%02d\nsn: x\n", i, i, i))
	}
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: strings.Join(ldif, "\n")})
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "k.db"), sqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := slapdConfig(s)
	cfg.Groups = nil
	sy, err := ldapsync.NewSyncer(ldapsync.SyncConfig{Store: st, Directory: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sy.Run(ctx, ldapsync.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	u, err := st.GetUserByUsername(ctx, "p07")
	if err != nil || u.Status != authn.StatusActive {
		t.Fatalf("p07: %v %v", u.Status, err)
	}
	s.Modify(t, "cn=p07,ou=people,dc=example,dc=org", map[string][]string{"uid": {"p 07"}})
	res, err := sy.Run(ctx, ldapsync.RunOptions{})
	t.Logf("run: err=%v disabled=%+v errors=%v", err, res.Disabled, res.Errors)
	u, _ = st.GetUser(ctx, u.ID)
	if len(res.Errors) == 0 {
		t.Error("the skipped entry is not reported")
	}
	if u.Status != authn.StatusActive {
		t.Errorf("p07 is %s after her uid became unusable (entry skipped, still in the directory); sync errors: %v", u.Status, res.Errors)
	}
}
