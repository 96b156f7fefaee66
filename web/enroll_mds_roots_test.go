package web

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/mds"
	"github.com/keyhall/keyhall/enroll/mds/mdstest"
)

// TestModelVerifiedByMDSRoots: a key registered without a root Keyhall
// trusted (Attested false) whose stored attestation chain leads to the
// root the imported FIDO metadata lists for its model is no longer marked
// "as the key reports it, not verified", on the person's page in /admin
// and on her /account; a key of the same model under a root the metadata
// does not list still is.
func TestModelVerifiedByMDSRoots(t *testing.T) {
	c := newConsole(t)
	f, ctx := c.f, context.Background()
	model := uuid.MustParse("833b721a-ff5f-4d00-bb2e-bdda3ec01e29")
	maker, other := newAttestCA(t), newAttestCA(t)
	for _, ca := range []attestCA{maker, other} {
		leaf, _ := ca.leaf(t, model)
		k := newTestKey(t)
		if err := f.store.CreateCredential(ctx, authn.Credential{ID: authn.NewID(), UserID: c.renate.ID, Kind: authn.KindWebAuthn,
			Nickname: "Sicherheitsschlüssel", CreatedAt: time.Now(), WebAuthnID: k.id, PublicKey: k.cose, AAGUID: model[:],
			AttestationFmt: "packed", AttestationChain: leaf}, f.audit("credential.create")); err != nil {
			t.Fatal(err)
		}
	}
	p := mdstest.NewPKI(t, mdstest.Options{})
	p.Trust(t)
	blob := p.Sign(t, mdstest.Payload(4, time.Now().AddDate(0, 1, 0),
		mdstest.WithRoots(mdstest.Entry(model.String(), "Feitian ePass FIDO2", "FIDO_CERTIFIED_L1"), maker.cert)))
	if _, err := mds.Import(ctx, f.store, blob, mds.Options{Now: time.Now()}, "test"); err != nil {
		t.Fatal(err)
	}
	res, body := c.as(c.helga, authn.LevelPhrh, 0).get("/admin/people/" + c.renate.ID + "?lang=de")
	if res.StatusCode != http.StatusOK || strings.Count(body, "Feitian ePass FIDO2") != 2 {
		t.Fatalf("person page (%d) does not name both keys' model:\n%s", res.StatusCode, body)
	}
	if n := strings.Count(body, "(laut Schlüssel, nicht geprüft)"); n != 1 {
		t.Errorf("person page: %d keys marked not verified, want 1 (the one under a root FIDO does not list)", n)
	}
	w := serve(f.srv, "GET", "/account", nil, f.sessionCookie(c.renate, time.Now(), false))
	if n := strings.Count(w.Body.String(), "(Modell laut Schlüssel, nicht geprüft)"); w.Code != http.StatusOK || n != 1 {
		t.Errorf("/account (%d): %d keys marked not verified, want 1", w.Code, n)
	}
}
