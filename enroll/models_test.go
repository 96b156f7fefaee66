package enroll_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/mds"
	"github.com/keyhall/keyhall/enroll/mds/mdstest"
)

var (
	revokedModel = uuid.MustParse("f7c558a0-f465-11e8-b568-0800200c9a66")
	yubiKey51    = uuid.MustParse("cb69481e-8ff7-4039-93ec-0a2729a154a8")
)

// importBlob imports, through mds.Import, a blob in which revokedModel is
// REVOKED and yubiKey51 is named by FIDO, both with f's test root as their
// attestation root (so that f.root's certificates prove them).
func importBlob(t *testing.T, f *fixture) {
	t.Helper()
	p := mdstest.NewPKI(t, mdstest.Options{})
	p.Trust(t)
	blob := p.Sign(t, mdstest.Payload(5, time.Now().AddDate(0, 1, 0),
		mdstest.WithRoots(mdstest.Entry(revokedModel.String(), "Broken Key", "FIDO_CERTIFIED_L1", "REVOKED"), f.root.cert),
		mdstest.WithRoots(mdstest.Entry(yubiKey51.String(), "YubiKey 5 Series (FIDO MDS)", "FIDO_CERTIFIED_L2"), f.root.cert)))
	if _, err := mds.Import(t.Context(), f.store, blob, mds.Options{Now: time.Now()}, "test"); err != nil {
		t.Fatal(err)
	}
}

// TestRefuseCompromisedModel: in a group with RefuseCompromised, a key
// attested by a trusted root as of a model FIDO's imported metadata
// reports REVOKED is refused at
// registration, saying why in German and English, and the enrollment stays
// open; outside such a group it is registered; a model the blob names is
// called by the blob's name, not the shipped list's.
func TestRefuseCompromisedModel(t *testing.T) {
	f := newFixture(t)
	f.cfg.Policy.Groups["verwaltung"] = enroll.KeyPolicy{RefuseCompromised: true, AllowTOTP: true}
	f.svc = f.serviceOn(t, f.store)
	importBlob(t, f)

	vera := f.user(t, "vera", "verwaltung")
	pr := f.redeemOn(t, f.svc, vera)
	broken := f.root.leaf(t, revokedModel, time.Now().AddDate(0, -1, 0), time.Now().AddDate(5, 0, 0))
	_, pr, err := f.register(t, pr.ID, keyReg{aaguid: revokedModel, attest: &broken})
	wantReason(t, "a key of a revoked model", err, enroll.ReasonCompromised)
	var e *enroll.Error
	if !errors.As(err, &e) || e.Group != "verwaltung" || !strings.Contains(e.DE, "Broken Key") ||
		!strings.Contains(e.DE, "FIDO Alliance hat dieses Modell zurückgezogen") || !strings.Contains(e.EN, "FIDO Alliance revoked this model") {
		t.Fatalf("refusal %#v", err)
	}
	if pr.ID == nil || pr.Consumed {
		t.Fatalf("a refused key must leave the enrollment open: %+v", pr)
	}
	yubi := f.root.leaf(t, yubiKey51, time.Now().AddDate(0, -1, 0), time.Now().AddDate(5, 0, 0))
	key, _, err := f.register(t, pr.ID, keyReg{aaguid: yubiKey51, attest: &yubi})
	must(t, err)
	if key.Model != "YubiKey 5 Series (FIDO MDS)" || key.Credential.Nickname != key.Model {
		t.Errorf("model %q, nickname %q: want the blob's name", key.Model, key.Credential.Nickname)
	}

	otto := f.user(t, "otto")
	key, _, err = f.register(t, f.redeemOn(t, f.svc, otto).ID, keyReg{aaguid: revokedModel, fmt: "none"})
	if err != nil || key.Model != "Broken Key" {
		t.Fatalf("outside the group: %+v, %v", key, err)
	}
}
