package mds_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/enroll/mds"
	"github.com/keyhall/keyhall/enroll/mds/mdstest"
)

const (
	yubiKey5 = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
	broken   = "f7c558a0-f465-11e8-b568-0800200c9a66"
)

func entries() []map[string]any {
	return []map[string]any{
		mdstest.Entry(yubiKey5, "YubiKey 5 Series", "FIDO_CERTIFIED", "FIDO_CERTIFIED_L2"),
		mdstest.Entry(broken, "Broken Key\x1b[2J", "FIDO_CERTIFIED_L1", "REVOKED"),
		mdstest.U2FEntry("Old U2F Key"),
	}
}

// TestVerify: a blob signed in FIDO's way is read, its models named, their
// latest status, compromise and highest certification kept.
func TestVerify(t *testing.T) {
	for _, rsa := range []bool{false, true} {
		p := mdstest.NewPKI(t, mdstest.Options{RSA: rsa})
		p.Trust(t)
		next := time.Now().AddDate(0, 1, 0)
		b, err := mds.Verify(p.Sign(t, mdstest.Payload(42, next, entries()...)), mds.Options{Now: time.Now()})
		if err != nil {
			t.Fatalf("rsa %v: %v", rsa, err)
		}
		if b.No != 42 || b.NextUpdate.Format(time.DateOnly) != next.Format(time.DateOnly) || b.Entries != 3 || len(b.Models) != 2 {
			t.Fatalf("rsa %v: blob %+v", rsa, b)
		}
		y, k := b.Models[0], b.Models[1]
		if uuid.UUID(y.AAGUID).String() != yubiKey5 || y.Name != "YubiKey 5 Series" || y.Status != "FIDO_CERTIFIED_L2" ||
			y.Certification != "FIDO_CERTIFIED_L2" || y.Compromise != "" {
			t.Errorf("YubiKey: %+v", y)
		}
		if k.Name != "Broken Key[2J" || k.Status != "REVOKED" || k.Compromise != "REVOKED" || k.Certification != "FIDO_CERTIFIED_L1" {
			t.Errorf("revoked model: %+v", k)
		}
		if len(b.Unchecked) != 2 || len(b.Checked) != 0 {
			t.Errorf("without CRLs: checked %q, unchecked %q", b.Checked, b.Unchecked)
		}
	}
}

// TestVerifyRefuses: each way a blob can be wrong is refused, naming why.
func TestVerifyRefuses(t *testing.T) {
	p := mdstest.NewPKI(t, mdstest.Options{})
	p.Trust(t)
	now := time.Now()
	good := p.Sign(t, mdstest.Payload(42, now.AddDate(0, 1, 0), entries()...))
	other := mdstest.NewPKI(t, mdstest.Options{})
	expired := mdstest.NewPKI(t, mdstest.Options{SignerNotAfter: now.Add(-time.Hour)})
	foreign := mdstest.NewPKI(t, mdstest.Options{SignerName: "shop.example.com"})
	tamper := func(b []byte) []byte {
		parts := bytes.Split(bytes.Clone(b), []byte("."))
		parts[1] = []byte(strings.Replace(string(parts[1]), "e", "f", 1))
		return bytes.Join(parts, []byte("."))
	}
	cases := []struct {
		name  string
		roots *mdstest.PKI // whose root is trusted
		blob  []byte
		crls  []mds.CRL
		want  error
	}{
		{"payload changed after signing", p, tamper(good), nil, mds.ErrSignature},
		{"signed by another PKI", p, other.Sign(t, mdstest.Payload(42, now.AddDate(0, 1, 0))), nil, mds.ErrUntrusted},
		{"signer not mds.fidoalliance.org", foreign, foreign.Sign(t, mdstest.Payload(42, now.AddDate(0, 1, 0))), nil, mds.ErrUntrusted},
		{"signing certificate expired", expired, expired.Sign(t, mdstest.Payload(42, now.AddDate(0, 1, 0))), nil, mds.ErrExpired},
		{"intermediate revoked", p, good, []mds.CRL{{Name: "root.crl", Data: p.CRL(t, now.Add(24*time.Hour), p.Intermediate)}}, mds.ErrRevoked},
		{"CRL out of date", p, good, []mds.CRL{{Name: "root.crl", Data: p.CRL(t, now.Add(-time.Minute))}}, mds.ErrCRL},
		{"CRL of another issuer", p, good, []mds.CRL{{Name: "other.crl", Data: other.CRL(t, now.Add(time.Hour))}}, mds.ErrCRL},
		{"CRL not a CRL", p, good, []mds.CRL{{Name: "x.crl", Data: []byte("hello")}}, mds.ErrCRL},
		{"past nextUpdate", p, p.Sign(t, mdstest.Payload(42, now.AddDate(0, 0, -1))), nil, mds.ErrStale},
		{"no number", p, p.Sign(t, map[string]any{"nextUpdate": "2099-01-01", "entries": []any{}}), nil, mds.ErrMalformed},
		{"bad aaguid", p, p.Sign(t, mdstest.Payload(1, now.AddDate(0, 1, 0), mdstest.Entry("not-a-uuid", "x"))), nil, mds.ErrMalformed},
		{"not a JWT", p, []byte("<html>"), nil, mds.ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.roots.Trust(t)
			_, err := mds.Verify(tc.blob, mds.Options{Now: now, CRLs: tc.crls})
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// The root's CRL that does not list the intermediate: checked, taken.
	b, err := mds.Verify(good, mds.Options{Now: now, CRLs: []mds.CRL{{Name: "root.crl", Data: p.CRL(t, now.Add(time.Hour))}}})
	if err != nil || !slices.Equal(b.Checked, []string{p.Intermediate.Subject.String()}) || !slices.Equal(b.Unchecked, []string{p.Signer.Subject.String() + " (its CRL: http://crl.test.example/ev-tls-ca-2025.crl)"}) {
		t.Fatalf("with the root's CRL: %v, checked %q, unchecked %q", err, b.Checked, b.Unchecked)
	}
}

// TestShippedRoots: the embedded roots are GlobalSign Root R46 (byte for
// byte go-webauthn's metadata.ProductionMDSRoot and Debian's
// ca-certificates), self-signed; no longer GlobalSign Root CA - R3, to which
// no blob FIDO publishes since August 2026 chains (roots/README.md).
func TestShippedRoots(t *testing.T) {
	want := map[string]string{
		"4fa3126d8d3a11d1c4855a4f807cbad6cf919d3a5a88b03bea2c6372d93c40c9": "CN=GlobalSign Root R46,O=GlobalSign nv-sa,C=BE",
	}
	roots := mds.ShippedRoots()
	if len(roots) != len(want) {
		t.Fatalf("%d roots, want %d", len(roots), len(want))
	}
	for _, c := range roots {
		sum := sha256.Sum256(c.Raw)
		if subj, ok := want[hex.EncodeToString(sum[:])]; !ok || subj != c.Subject.String() || c.CheckSignatureFrom(c) != nil || !c.IsCA {
			t.Errorf("root %s (%x) is not one of the expected", c.Subject, sum)
		}
	}
	if len(mds.Roots) != len(roots) {
		t.Error("mds.Roots is not the shipped roots")
	}
}

// FuzzVerify: no input crashes the blob parser; what it accepts has a
// number and models with an AAGUID.
func FuzzVerify(f *testing.F) {
	p := mdstest.NewPKI(f, mdstest.Options{})
	old := mds.Roots
	mds.Roots = append(mds.Roots, p.Root)
	f.Cleanup(func() { mds.Roots = old })
	f.Add(p.Sign(f, mdstest.Payload(3, time.Now().AddDate(0, 1, 0), entries()...)))
	f.Add(p.Sign(f, map[string]any{"no": -1}))
	f.Add([]byte("e30.e30.e30"))
	f.Add([]byte("a.b"))
	f.Fuzz(func(t *testing.T, blob []byte) {
		b, err := mds.Verify(blob, mds.Options{Now: time.Now()})
		if err != nil {
			return
		}
		if b.No < 0 || b.Entries < len(b.Models) {
			t.Fatalf("accepted %+v", b)
		}
	})
}

// FuzzPayload: any payload, signed as FIDO signs, is read or refused as
// malformed, never crashes; what is read has one model per AAGUID.
func FuzzPayload(f *testing.F) {
	p := mdstest.NewPKI(f, mdstest.Options{})
	old := mds.Roots
	mds.Roots = append(mds.Roots, p.Root)
	f.Cleanup(func() { mds.Roots = old })
	seed, _ := json.Marshal(mdstest.Payload(3, time.Now().AddDate(0, 1, 0), entries()...))
	f.Add(seed)
	f.Add([]byte(`{"no":1,"nextUpdate":"2999-01-01","entries":[{"aaguid":"` + broken + `","statusReports":[{"status":"REVOKED"}]},{"aaguid":"` + broken + `"}]}`))
	f.Add([]byte(`{"no":1e30,"nextUpdate":"2999-13-01"}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		b, err := mds.Verify(p.SignBytes(t, payload), mds.Options{Now: time.Now()})
		if err != nil {
			if !errors.Is(err, mds.ErrMalformed) && !errors.Is(err, mds.ErrStale) {
				t.Fatalf("a signed payload refused for another reason: %v", err)
			}
			return
		}
		seen := map[[16]byte]bool{}
		for _, m := range b.Models {
			if seen[m.AAGUID] {
				t.Fatalf("AAGUID %x twice", m.AAGUID)
			}
			seen[m.AAGUID] = true
		}
	})
}
