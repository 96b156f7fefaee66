package enroll_test

import (
	"testing"

	"github.com/descope/virtualwebauthn"

	"github.com/keyhall/keyhall/enroll"
)

// TestRegistrationFromAnotherOriginRefused: a registration whose client
// data names another origin than Keyhall's (a phishing site relaying the
// ceremony, another port, a look-alike host) is refused and stores
// nothing (WebAuthn L3 §7.1 step 9); the same authenticator answering
// for Keyhall's own origin is accepted.
func TestRegistrationFromAnotherOriginRefused(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	paul := f.user(t, "paul")
	inv, err := f.svc.Issue(ctx, paul.ID, 0, "cli:root", "")
	must(t, err)
	pr, err := f.svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link)})
	must(t, err)
	auth := virtualwebauthn.NewAuthenticator()
	register := func(origin string) error {
		t.Helper()
		opts, p, err := f.svc.BeginKey(ctx, pr.ID)
		must(t, err)
		o, err := virtualwebauthn.ParseAttestationOptions(string(opts))
		if err != nil {
			t.Fatalf("options %s: %v", opts, err)
		}
		rp := virtualwebauthn.RelyingParty{Name: "Keyhall", ID: o.RelyingPartyID, Origin: origin}
		resp := virtualwebauthn.CreateAttestationResponse(rp, auth, virtualwebauthn.NewCredential(virtualwebauthn.KeyTypeEC2), *o)
		_, next, err := f.svc.FinishKey(ctx, p.ID, []byte(resp), "")
		if next.ID != nil {
			pr = next
		}
		return err
	}
	for _, wrong := range []string{"https://keyhall.evil.example", "http://localhost:8081", "https://localhost:8080", "http://localhost.evil.example:8080"} {
		wantReason(t, "registration from "+wrong, register(wrong), enroll.ReasonInvalid)
		creds, err := f.store.ListCredentials(ctx, paul.ID)
		must(t, err)
		if len(creds) != 0 {
			t.Fatalf("after a registration from %s: %d credentials stored", wrong, len(creds))
		}
	}
	must(t, register(origin))
	creds, err := f.store.ListCredentials(ctx, paul.ID)
	must(t, err)
	if len(creds) != 1 {
		t.Errorf("after a registration from %s: %d credentials stored, want 1", origin, len(creds))
	}
}
