package mds_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/enroll/mds"
	"github.com/keyhall/keyhall/enroll/mds/mdstest"
)

// caCert makes a self-signed CA certificate valid from notBefore to notAfter.
func caCert(t *testing.T, cn string, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestVerifyRoots: each model keeps the attestation roots its entries
// list (FIDO MDS 3.1 attestationRootCertificates), the roots of two
// entries of one model together, each once; a root that does not read
// (not base64, not a certificate) is left out and named, and costs
// neither its entry's other roots nor the other entries; an expired root
// is kept and named; an entry without roots has none.
func TestVerifyRoots(t *testing.T) {
	p := mdstest.NewPKI(t, mdstest.Options{})
	p.Trust(t)
	now := time.Now()
	a1, a2 := caCert(t, "Maker A Root 1", now.AddDate(-1, 0, 0), now.AddDate(10, 0, 0)), caCert(t, "Maker A Root 2", now.AddDate(-1, 0, 0), now.AddDate(10, 0, 0))
	old := caCert(t, "Maker B Old Root", now.AddDate(-10, 0, 0), now.AddDate(0, 0, -1))
	const (
		modelA, modelB, modelC, modelD = "0bb43545-fd2c-4185-87dd-feb0b2916ace", "ee882879-721c-4913-9775-3dfcce97072a",
			"2fc0579f-8113-47ea-b116-bb5a8db9202a", "6d44ba9b-f6ec-2e49-b930-0c8fe920cb73"
	)
	std := base64.StdEncoding.EncodeToString
	blob := p.Sign(t, mdstest.Payload(3, now.AddDate(0, 1, 0),
		mdstest.WithRoots(mdstest.Entry(modelA, "Key A", "FIDO_CERTIFIED_L1"), a1),
		mdstest.WithRoots(mdstest.Entry(modelA, "Key A", "FIDO_CERTIFIED_L2"), a2, a1),
		mdstest.WithRootsBase64(mdstest.Entry(modelB, "Key B", "FIDO_CERTIFIED_L1"),
			"not base64!", std([]byte("not a certificate")), std(old.Raw), std(a1.Raw)),
		mdstest.WithRootsBase64(mdstest.Entry(modelC, "Key C", "FIDO_CERTIFIED_L1")),
		mdstest.Entry(modelD, "Key D", "FIDO_CERTIFIED_L1"), // the real Feitian root Entry lists
	))
	b, err := mds.Verify(blob, mds.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	roots := map[string][]*x509.Certificate{}
	for _, m := range b.Models {
		cs, err := x509.ParseCertificates(m.Roots)
		if err != nil {
			t.Fatalf("%s: stored roots do not read: %v", m.Name, err)
		}
		roots[uuid.UUID(m.AAGUID).String()] = cs
	}
	same := func(got []*x509.Certificate, want ...*x509.Certificate) bool {
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			if !bytes.Equal(got[i].Raw, want[i].Raw) {
				return false
			}
		}
		return true
	}
	if !same(roots[modelA], a1, a2) {
		t.Errorf("model A: %d roots, want its two, each once", len(roots[modelA]))
	}
	if !same(roots[modelB], old, a1) {
		t.Errorf("model B: %d roots, want the expired one and the good one", len(roots[modelB]))
	}
	if len(roots[modelC]) != 0 {
		t.Errorf("model C lists no root, has %d", len(roots[modelC]))
	}
	if len(roots[modelD]) != 1 || roots[modelD][0].Subject.CommonName != "FT FIDO 0200" {
		t.Errorf("model D: %v", roots[modelD])
	}
	if b.Roots != 5 {
		t.Errorf("Roots = %d, want 5", b.Roots)
	}
	if len(b.RootProblems) != 3 {
		t.Fatalf("problems %q, want 3", b.RootProblems)
	}
	for i, want := range []string{"entry 2 (" + modelB + `, "Key B") attestation root 1: left out, not base64`,
		"attestation root 2: left out, not a certificate", `attestation root 3 "CN=Maker B Old Root": valid `} {
		if !strings.Contains(b.RootProblems[i], want) {
			t.Errorf("problem %d %q lacks %q", i, b.RootProblems[i], want)
		}
	}
}
