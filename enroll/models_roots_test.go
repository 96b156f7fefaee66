package enroll_test

import (
	"crypto/rand"
	"crypto/x509"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/mds"
	"github.com/keyhall/keyhall/enroll/mds/mdstest"
)

// Models of makers whose roots Keyhall does not ship (their AAGUIDs in
// FIDO's metadata): a Feitian, a Token2, a Nitrokey key.
var (
	feitianModel  = uuid.MustParse("833b721a-ff5f-4d00-bb2e-bdda3ec01e29")
	token2Model   = uuid.MustParse("ab32f0c6-2239-afbb-c470-d2ef4e254db7")
	nitrokeyModel = uuid.MustParse("2cd2f727-f6ca-44da-8f48-5c2e5da000a2")
)

// importEntries imports a blob numbered no with entries through
// mds.Import, as `keyhall admin mds import` does.
func importEntries(t *testing.T, f *fixture, no int, entries ...map[string]any) {
	t.Helper()
	p := mdstest.NewPKI(t, mdstest.Options{})
	p.Trust(t)
	if _, err := mds.Import(t.Context(), f.store, p.Sign(t, mdstest.Payload(no, time.Now().AddDate(0, 1, 0), entries...)),
		mds.Options{Now: time.Now()}, "test"); err != nil {
		t.Fatal(err)
	}
}

// TestMDSRootsProveModel: in a group that refuses compromised models and
// trusts no roots of its own, a key of a maker Keyhall ships no root for
// is admitted when its attestation chain ends, at registration, in a root
// the imported FIDO metadata lists for the very model its certificate
// names (WebAuthn L3 §7.1 steps 23–24, FIDO MDS 3.1). Not admitted: a
// certificate naming one model under the roots FIDO lists for another, a
// root expired, a model whose entry lists no root, a model FIDO reports
// compromised (proven or not), and a root FIDO no longer lists after the
// next import.
func TestMDSRootsProveModel(t *testing.T) {
	f := newFixture(t)
	f.cfg.Policy.Groups["verwaltung"] = enroll.KeyPolicy{RefuseCompromised: true, AllowTOTP: true}
	f.svc = f.serviceOn(t, f.store)
	now := time.Now()
	feitian, token2, nitrokey := newRootCA(t, "Feitian FIDO Root"), newRootCA(t, "Token2 FIDO Root"), newRootCA(t, "Nitrokey FIDO Root")
	expired := newRootCA(t, "Expired Root")
	expired.cert = expired.reissued(t, now.AddDate(-10, 0, 0), now.AddDate(0, 0, -1))
	importEntries(t, f, 5,
		mdstest.WithRoots(mdstest.Entry(feitianModel.String(), "Feitian ePass FIDO2", "FIDO_CERTIFIED_L1"), feitian.cert),
		mdstest.WithRoots(mdstest.Entry(token2Model.String(), "Token2 T2F2", "FIDO_CERTIFIED_L1"), token2.cert, expired.cert),
		mdstest.WithRoots(mdstest.Entry(nitrokeyModel.String(), "Nitrokey 3", "FIDO_CERTIFIED_L1", "USER_VERIFICATION_BYPASS"), nitrokey.cert),
		mdstest.WithRootsBase64(mdstest.Entry(testAAGUID.String(), "Key Without Roots", "FIDO_CERTIFIED_L1")),
	)
	leaf := func(ca testCA, model uuid.UUID) *testCA {
		l := ca.leaf(t, model, now.AddDate(0, -1, 0), now.AddDate(5, 0, 0))
		return &l
	}
	otto := f.user(t, "otto", "verwaltung")
	key, _, err := f.register(t, f.redeemOn(t, f.svc, otto).ID, keyReg{aaguid: feitianModel, attest: leaf(feitian, feitianModel)})
	if err != nil || key.Model != "Feitian ePass FIDO2" {
		t.Fatalf("a Feitian key proven by the root FIDO lists for it: %+v, %v", key, err)
	}
	uwe := f.user(t, "uwe", "verwaltung")
	key, _, err = f.register(t, f.redeemOn(t, f.svc, uwe).ID, keyReg{aaguid: token2Model, attest: leaf(token2, token2Model)})
	if err != nil || key.Model != "Token2 T2F2" {
		t.Fatalf("a Token2 key proven by one of the roots FIDO lists for it: %+v, %v", key, err)
	}
	vera := f.user(t, "vera", "verwaltung")
	pr := f.redeemOn(t, f.svc, vera)
	for _, tc := range []struct {
		name string
		reg  keyReg
		want enroll.Reason
	}{
		{"Token2 certificate under Feitian's root", keyReg{aaguid: token2Model, attest: leaf(feitian, token2Model)}, enroll.ReasonModelUnproven},
		{"Feitian certificate under Token2's root", keyReg{aaguid: feitianModel, attest: leaf(token2, feitianModel)}, enroll.ReasonModelUnproven},
		{"under a root FIDO lists but expired", keyReg{aaguid: token2Model, attest: leaf(expired, token2Model)}, enroll.ReasonModelUnproven},
		{"a model whose entry lists no root", keyReg{aaguid: testAAGUID, attest: leaf(feitian, testAAGUID)}, enroll.ReasonModelUnproven},
		{"a compromised model, proven", keyReg{aaguid: nitrokeyModel, attest: leaf(nitrokey, nitrokeyModel)}, enroll.ReasonCompromised},
		{"a model FIDO lists, none attestation", keyReg{aaguid: feitianModel, fmt: "none"}, enroll.ReasonModelUnproven},
	} {
		_, pr, err = f.register(t, pr.ID, tc.reg)
		wantReason(t, tc.name, err, tc.want)
	}

	// FIDO's next blob lists another root for the Feitian model: the old
	// one proves nothing from then on.
	importEntries(t, f, 6, mdstest.WithRoots(mdstest.Entry(feitianModel.String(), "Feitian ePass FIDO2", "FIDO_CERTIFIED_L1"), newRootCA(t, "Feitian Root 2").cert))
	ute := f.user(t, "ute", "verwaltung")
	_, _, err = f.register(t, f.redeemOn(t, f.svc, ute).ID, keyReg{aaguid: feitianModel, attest: leaf(feitian, feitianModel)})
	wantReason(t, "the root FIDO no longer lists", err, enroll.ReasonModelUnproven)
}

// TestGroupRootsProveOnlyForTheGroup: a group's own trusted roots prove
// a model for that group, but not for another group that refuses
// compromised models: the roots "pki" trusts do not admit a key to
// "verwaltung", whose member is in both.
func TestGroupRootsProveOnlyForTheGroup(t *testing.T) {
	f := newFixture(t)
	pki := newRootCA(t, "City PKI")
	f.cfg.Policy.Groups["pki"] = enroll.KeyPolicy{TrustedRoots: []*x509.Certificate{pki.cert}, AllowTOTP: true}
	f.cfg.Policy.Groups["verwaltung"] = enroll.KeyPolicy{RefuseCompromised: true, AllowTOTP: true}
	f.cfg.Policy.Groups["eigen"] = enroll.KeyPolicy{RefuseCompromised: true, TrustedRoots: []*x509.Certificate{pki.cert}, AllowTOTP: true}
	f.svc = f.serviceOn(t, f.store)
	importEntries(t, f, 1, mdstest.Entry(feitianModel.String(), "Feitian ePass FIDO2", "FIDO_CERTIFIED_L1"))
	now := time.Now()
	reg := func() keyReg {
		l := pki.leaf(t, feitianModel, now.AddDate(0, -1, 0), now.AddDate(5, 0, 0))
		return keyReg{aaguid: feitianModel, attest: &l}
	}
	for _, groups := range [][]string{{"verwaltung"}, {"pki", "verwaltung"}} {
		u := f.user(t, "vera"+groups[0], groups...)
		_, _, err := f.register(t, f.redeemOn(t, f.svc, u).ID, reg())
		wantReason(t, "groups "+groups[0]+"…: a root only another group trusts", err, enroll.ReasonModelUnproven)
	}
	for _, groups := range [][]string{{"eigen"}, {"pki"}} {
		u := f.user(t, "eva"+groups[0], groups...)
		key, _, err := f.register(t, f.redeemOn(t, f.svc, u).ID, reg())
		if err != nil || !key.Credential.Attested {
			t.Errorf("groups %v: the group's own root: %+v, %v", groups, key, err)
		}
	}
}

// TestYubicoRootProvesWithoutBlob: Yubico's shipped roots prove a YubiKey's
// model in a group that refuses compromised models, with no blob imported
// and no roots of the group's own.
func TestYubicoRootProvesWithoutBlob(t *testing.T) {
	b, err := os.ReadFile("testdata/pywebauthn-packed-security-key-nfc.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enroll.CheckResponse(b, rules(enroll.KeyPolicy{RefuseCompromised: true}), time.Now()); err != nil {
		t.Fatalf("a real Security Key NFC by Yubico: %v", err)
	}
}

// reissued returns ca's certificate, self-signed again, valid from
// notBefore to notAfter.
func (ca testCA) reissued(t *testing.T, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	tmpl := *ca.cert
	tmpl.SerialNumber, tmpl.NotBefore, tmpl.NotAfter = nextSerial(), notBefore, notAfter
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, &ca.key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}
