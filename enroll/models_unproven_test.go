package enroll_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/enroll"
)

// TestRefuseCompromisedUnprovenModel: where a group refuses compromised
// models, the model must be proven by an attestation chaining to a trusted
// root. A key that only reports its AAGUID ("none" attestation, which a
// browser substitutes when the person declines "see make and model" and
// which any software key can fake; or self attestation) could pass as any
// model: it is refused, saying what to do, in German and English. An
// attested key of a good model is registered.
func TestRefuseCompromisedUnprovenModel(t *testing.T) {
	f := newFixture(t)
	f.cfg.Policy.Groups["verwaltung"] = enroll.KeyPolicy{RefuseCompromised: true, AllowTOTP: true}
	f.svc = f.serviceOn(t, f.store)
	importBlob(t, f)
	vera := f.user(t, "vera", "verwaltung")
	pr := f.redeemOn(t, f.svc, vera)
	for name, reg := range map[string]keyReg{
		"zero AAGUID, none":         {aaguid: uuid.Nil, fmt: "none"},
		"another model's AAGUID":    {aaguid: yubiKey51, fmt: "none"},
		"the revoked model, none":   {aaguid: revokedModel, fmt: "none"},
		"self attestation (packed)": {aaguid: yubiKey51},
	} {
		var err error
		_, pr, err = f.register(t, pr.ID, reg)
		wantReason(t, name, err, enroll.ReasonModelUnproven)
		var e *enroll.Error
		if e, _ = err.(*enroll.Error); e == nil || e.Group != "verwaltung" ||
			!strings.Contains(e.DE, "Ihr Browser hat das Modell Ihres Schlüssels nicht übermittelt") ||
			!strings.Contains(e.DE, "Marke und Modell") || !strings.Contains(e.EN, "make and model") {
			t.Errorf("%s: refusal %#v", name, err)
		}
		if pr.ID == nil {
			t.Fatalf("%s: the enrollment must stay open", name)
		}
	}
	if creds, _ := f.store.ListCredentials(t.Context(), vera.ID); len(creds) != 0 {
		t.Fatalf("%d keys stored, want none", len(creds))
	}
	yubi := f.root.leaf(t, yubiKey51, time.Now().AddDate(0, -1, 0), time.Now().AddDate(5, 0, 0))
	key, _, err := f.register(t, pr.ID, keyReg{aaguid: yubiKey51, attest: &yubi})
	must(t, err)
	if !key.Credential.Attested || key.Model != "YubiKey 5 Series (FIDO MDS)" {
		t.Errorf("attested key: %+v", key)
	}
}
