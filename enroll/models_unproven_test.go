package enroll_test

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
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
	// Attested by a trusted root, but the certificate does not name the
	// model: the AAGUID is the key's word alone (second review of #16).
	noModel := f.root.leaf(t, yubiKey51, time.Now().AddDate(0, -1, 0), time.Now().AddDate(5, 0, 0))
	noModel = f.root.reissueWithout(t, noModel, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4})
	_, pr, err := f.register(t, pr.ID, keyReg{aaguid: yubiKey51, attest: &noModel})
	wantReason(t, "attested, the certificate naming no model", err, enroll.ReasonModelUnproven)
	yubi := f.root.leaf(t, yubiKey51, time.Now().AddDate(0, -1, 0), time.Now().AddDate(5, 0, 0))
	key, _, err := f.register(t, pr.ID, keyReg{aaguid: yubiKey51, attest: &yubi})
	_ = pr
	must(t, err)
	if !key.Credential.Attested || key.Model != "YubiKey 5 Series (FIDO MDS)" {
		t.Errorf("attested key: %+v", key)
	}
}

// reissueWithout returns leaf's key in a certificate from ca like leaf's
// but without the extension id.
func (ca testCA) reissueWithout(t *testing.T, leaf testCA, id asn1.ObjectIdentifier) testCA {
	t.Helper()
	tmpl := *leaf.cert
	tmpl.ExtraExtensions = nil
	for _, e := range leaf.cert.Extensions {
		if !e.Id.Equal(id) && !e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 35}) && !e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 14}) &&
			!e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 19}) {
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, e)
		}
	}
	tmpl.Extensions = nil
	tmpl.SerialNumber = nextSerial()
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca.cert, leaf.cert.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return testCA{cert: c, key: leaf.key}
}
