package mds_test

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/enroll/mds"
	"github.com/keyhall/keyhall/enroll/mds/mdstest"
)

// TestSignerExactName: the signing certificate must name
// mds.fidoalliance.org itself: a wildcard certificate for
// *.fidoalliance.org, or one GlobalSign issued for another use than a
// server's (client auth only), does not sign a blob.
func TestSignerExactName(t *testing.T) {
	now := time.Now()
	for name, o := range map[string]mdstest.Options{
		"wildcard":         {SignerName: "*.fidoalliance.org"},
		"client auth only": {SignerEKU: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		"a longer name":    {SignerName: "mds.fidoalliance.org.example"},
	} {
		p := mdstest.NewPKI(t, o)
		p.Trust(t)
		_, err := mds.Verify(p.Sign(t, mdstest.Payload(1, now.AddDate(0, 1, 0))), mds.Options{Now: now})
		if !errors.Is(err, mds.ErrUntrusted) {
			t.Errorf("%s: got %v, want %v", name, err, mds.ErrUntrusted)
		}
	}
	p := mdstest.NewPKI(t, mdstest.Options{SignerName: "MDS.FidoAlliance.org"}) // DNS names are case-insensitive
	p.Trust(t)
	if _, err := mds.Verify(p.Sign(t, mdstest.Payload(1, now.AddDate(0, 1, 0))), mds.Options{Now: now}); err != nil {
		t.Errorf("the signer's own name: %v", err)
	}
}

// TestCertNamesQuoted: names of certificates, which come from the blob
// before anything is verified, reach the terminal (errors, the import's
// list of certificates not checked against a CRL) without control
// characters: an escape sequence in a subject is shown escaped.
func TestCertNamesQuoted(t *testing.T) {
	now := time.Now()
	evil := "mds\x1b]0;owned\x07\x1b[2J\u202e.fidoalliance.org"
	untrusted := mdstest.NewPKI(t, mdstest.Options{SignerCN: evil})
	other := mdstest.NewPKI(t, mdstest.Options{})
	other.Trust(t)
	_, err := mds.Verify(untrusted.Sign(t, mdstest.Payload(1, now.AddDate(0, 1, 0))), mds.Options{Now: now})
	if err == nil || strings.ContainsAny(err.Error(), "\x1b\x07\u202e") {
		t.Errorf("untrusted chain: %q", err)
	}
	expired := mdstest.NewPKI(t, mdstest.Options{SignerCN: evil, SignerNotAfter: now.Add(-time.Hour)})
	expired.Trust(t)
	_, err = mds.Verify(expired.Sign(t, mdstest.Payload(1, now.AddDate(0, 1, 0))), mds.Options{Now: now})
	if err == nil || strings.ContainsAny(err.Error(), "\x1b\x07\u202e") {
		t.Errorf("expired signer: %q", err)
	}
	ok := mdstest.NewPKI(t, mdstest.Options{SignerCN: evil})
	ok.Trust(t)
	b, err := mds.Verify(ok.Sign(t, mdstest.Payload(1, now.AddDate(0, 1, 0))), mds.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append(append([]string{b.Signer, b.Root}, b.Checked...), b.Unchecked...) {
		if strings.ContainsAny(s, "\x1b\x07\u202e") {
			t.Errorf("a name with control characters: %q", s)
		}
	}
}
