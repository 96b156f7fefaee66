package citizens

import (
	"os"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// TestPrivacyDocNamesThrottleKeys: docs/privacy.md, the city's record of
// processing, names every kind of throttle counter registration and
// recovery write (read back from the table after a real request), and
// the sign-in refusals' (review of #15: its examples were incomplete).
func TestPrivacyDocNamesThrottleKeys(t *testing.T) {
	doc, err := os.ReadFile("../../docs/privacy.md")
	if err != nil {
		t.Fatal(err)
	}
	fx := newFixture(t, "sqlite://"+t.TempDir()+"/k.db")
	ctx := t.Context()
	if err := fx.svc.Start(ctx, Request{Email: "anna@example.org", DisplayName: "Anna", Binding: browserA, Client: client}); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.svc.AskRecovery(ctx, "anna@example.org", authn.HashToken(NewRecoveryToken()), client); err != nil {
		t.Fatal(err)
	}
	rows, err := fx.store.DB().QueryContext(ctx, "SELECT key FROM throttle")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	prefixes := []string{strings.TrimSuffix(authn.RefusalThrottleKey("x"), "x")}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		parts := strings.SplitN(k, ":", 3) // register:net:203.0.113.0/24
		prefixes = append(prefixes, parts[0]+":"+parts[1]+":")
	}
	if len(prefixes) != 7 {
		t.Fatalf("throttle key prefixes %q, want 6 from a registration and a recovery, and signin-refused", prefixes)
	}
	for _, p := range prefixes {
		if !strings.Contains(string(doc), "`"+p) {
			t.Errorf("docs/privacy.md does not name the throttle key %s…", p)
		}
	}
}
