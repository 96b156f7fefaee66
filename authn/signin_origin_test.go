package authn_test

import (
	"testing"

	"github.com/descope/virtualwebauthn"

	"github.com/keyhall/keyhall/authn"
)

// TestAssertionFromAnotherOriginRefused: an assertion whose client data
// names another origin than Keyhall's (a phishing site relaying the
// ceremony, another port or scheme, a look-alike host) is refused, for a
// key asked for by name and for a passkey (WebAuthn L3 §7.2 step 13); the
// same key answering for Keyhall's origin signs the person in.
func TestAssertionFromAnotherOriginRefused(t *testing.T) {
	e := newEnv(t)
	anna := e.user("anna", authn.SourceLocal)
	d := e.addKey(anna, true, true, 0)
	count := int64(0)
	signFrom := func(origin string, options []byte) []byte {
		t.Helper()
		opts, err := virtualwebauthn.ParseAssertionOptions(string(options))
		if err != nil {
			t.Fatalf("parse options %s: %v", options, err)
		}
		count++
		c := d.cred
		c.Counter = uint32(count)
		rp := virtualwebauthn.RelyingParty{Name: e.rp.Name, ID: e.rp.ID, Origin: origin}
		return []byte(virtualwebauthn.CreateAssertionResponse(rp, d.auth, c, *opts))
	}
	for _, wrong := range []string{"https://keyhall.evil.example", "http://localhost:8081", "https://localhost:8080", "http://localhost.evil.example:8080"} {
		opts, p := e.beginKey(e.start("anna", authn.StepKey))
		p, err := e.si.FinishKey(e.ctx(), p.PendingID, signFrom(wrong, opts), client)
		wantRefused(t, "key sign-in from "+wrong, p, err, authn.ReasonKeyRefused)

		opts, p, err = e.si.BeginPasskey(e.ctx(), "/", client)
		if err != nil {
			t.Fatal(err)
		}
		p, err = e.si.FinishKey(e.ctx(), p.PendingID, signFrom(wrong, opts), client)
		wantRefused(t, "passkey sign-in from "+wrong, p, err, authn.ReasonKeyRefused)
	}
	opts, p := e.beginKey(e.start("anna", authn.StepKey))
	p, err := e.si.FinishKey(e.ctx(), p.PendingID, signFrom(e.rp.Origin, opts), client)
	e.wantDone(p, err, []string{"swk", "user", "mfa"}, authn.LevelPhr)
}
