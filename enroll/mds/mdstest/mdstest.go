// Package mdstest makes FIDO MDS3 blobs for tests: a PKI of its own (root,
// intermediate, and a signing certificate for mds.fidoalliance.org), blobs
// in the real MDS3 JSON shape signed with it, and CRLs. Trust makes
// mds.Verify accept its root for one test. Production code never imports it.
package mdstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyhall/keyhall/enroll/mds"
)

// PKI is a test certificate authority that signs MDS3 blobs.
type PKI struct {
	Root, Intermediate, Signer *x509.Certificate
	rootKey, interKey          *ecdsa.PrivateKey
	signerKey                  crypto.Signer
	alg                        string
}

// Options change the PKI NewPKI makes.
type Options struct {
	RSA            bool      // an RSA signing key (RS256, as FIDO's real blob), else P-256 (ES256)
	SignerNotAfter time.Time // zero: a year from now
	SignerName     string    // zero: mds.SignerName
	SignerCN       string    // the signer's subject common name; zero: SignerName
	// SignerEKU is the signer's extended key usage; nil: server auth,
	// as a TLS certificate like FIDO's has.
	SignerEKU []x509.ExtKeyUsage
}

var serial atomic.Int64

func cert(t testing.TB, tmpl *x509.Certificate, parent *x509.Certificate, pub any, key crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = big.NewInt(1000 + serial.Add(1))
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ecKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// NewPKI makes a root, an intermediate and a signing certificate, valid
// from a year ago for two years (the signer as o says).
func NewPKI(t testing.TB, o Options) *PKI {
	t.Helper()
	now := time.Now()
	p := &PKI{rootKey: ecKey(t), interKey: ecKey(t), alg: "ES256"}
	ca := func(cn string) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn, Organization: []string{"Test Trust nv-sa"}},
			NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(1, 0, 0),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	}
	p.Root = cert(t, ca("Test Root R46"), nil, &p.rootKey.PublicKey, p.rootKey)
	p.Intermediate = cert(t, ca("Test EV TLS CA 2025"), p.Root, &p.interKey.PublicKey, p.rootKey)
	if o.RSA {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		p.signerKey, p.alg = k, "RS256"
	} else {
		p.signerKey = ecKey(t)
	}
	if o.SignerNotAfter.IsZero() {
		o.SignerNotAfter = now.AddDate(1, 0, 0)
	}
	if o.SignerName == "" {
		o.SignerName = mds.SignerName
	}
	if o.SignerCN == "" {
		o.SignerCN = o.SignerName
	}
	if o.SignerEKU == nil {
		o.SignerEKU = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	p.Signer = cert(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: o.SignerCN, Organization: []string{"Fido Alliance, Inc."}},
		DNSNames:              []string{o.SignerName},
		CRLDistributionPoints: []string{"http://crl.test.example/ev-tls-ca-2025.crl"},
		NotBefore:             now.AddDate(-1, 0, 0), NotAfter: o.SignerNotAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: o.SignerEKU,
	}, p.Intermediate, p.signerKey.Public(), p.interKey)
	return p
}

// Trust makes mds.Verify trust p's root (and no other) until t ends.
func (p *PKI) Trust(t testing.TB) {
	old := mds.Roots
	mds.Roots = []*x509.Certificate{p.Root}
	t.Cleanup(func() { mds.Roots = old })
}

// Sign returns payload as a compact JWS with x5c [signer, intermediate],
// as FIDO signs its blob.
func (p *PKI) Sign(t testing.TB, payload any) []byte {
	t.Helper()
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return p.SignBytes(t, body)
}

// SignBytes is Sign with the payload as it is, JSON or not.
func (p *PKI) SignBytes(t testing.TB, body []byte) []byte {
	t.Helper()
	std := base64.StdEncoding.EncodeToString
	h, _ := json.Marshal(map[string]any{"alg": p.alg, "typ": "JWT", "x5c": []string{std(p.Signer.Raw), std(p.Intermediate.Raw)}})
	var err error
	b64 := base64.RawURLEncoding.EncodeToString
	input := b64(h) + "." + b64(body)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch k := p.signerKey.(type) {
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:])
	case *ecdsa.PrivateKey:
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, k, digest[:])
		sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	}
	if err != nil {
		t.Fatal(err)
	}
	return []byte(input + "." + b64(sig))
}

// CRL returns a DER CRL of the root (which issued the intermediate) that
// revokes certs, valid from an hour ago until nextUpdate.
func (p *PKI) CRL(t testing.TB, nextUpdate time.Time, certs ...*x509.Certificate) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, c := range certs {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: time.Now().Add(-time.Hour)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(serial.Add(1)), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: nextUpdate,
		RevokedCertificateEntries: entries,
	}, p.Root, p.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// Payload is a MetadataBLOBPayload (FIDO MDS 3.1 §3.1.6).
func Payload(no int, nextUpdate time.Time, entries ...map[string]any) map[string]any {
	if entries == nil {
		entries = []map[string]any{}
	}
	return map[string]any{
		"legalHeader": "Retrieval and use of this BLOB indicates acceptance of the appropriate agreement located at https://fidoalliance.org/metadata/metadata-legal-terms/",
		"no":          no, "nextUpdate": nextUpdate.Format(time.DateOnly), "entries": entries,
	}
}

// Entry is a MetadataBLOBPayloadEntry of a FIDO2 authenticator (§3.1.1)
// with a metadata statement as FIDO publishes them, and one status report
// per status, a day apart, the last one today.
func Entry(aaguid, description string, statuses ...string) map[string]any {
	var reports []map[string]any
	day := time.Now().AddDate(0, 0, -len(statuses))
	for _, s := range statuses {
		day = day.AddDate(0, 0, 1)
		r := map[string]any{"status": s, "effectiveDate": day.Format(time.DateOnly)}
		if len(s) > 14 && s[:14] == "FIDO_CERTIFIED" {
			r["certificationDescriptor"], r["certificateNumber"] = description, "FIDO20020250101001"
			r["certificationPolicyVersion"], r["certificationRequirementsVersion"] = "1.4.0", "1.5"
		}
		reports = append(reports, r)
	}
	return map[string]any{
		"aaguid": aaguid,
		"metadataStatement": map[string]any{
			"legalHeader": "Submission of this statement and retrieval and use of this statement indicates acceptance of the appropriate agreement located at https://fidoalliance.org/metadata/metadata-legal-terms/.",
			"aaguid":      aaguid, "description": description, "authenticatorVersion": 50700, "protocolFamily": "fido2", "schema": 3,
			"upv":                      []map[string]int{{"major": 1, "minor": 1}, {"major": 1, "minor": 0}},
			"authenticationAlgorithms": []string{"ed25519_eddsa_sha512_raw", "secp256r1_ecdsa_sha256_raw"},
			"publicKeyAlgAndEncodings": []string{"cose"},
			"attestationTypes":         []string{"basic_full"},
			"userVerificationDetails":  [][]map[string]any{{{"userVerificationMethod": "passcode_external", "caDesc": map[string]int{"base": 64, "minLength": 4}}}},
			"keyProtection":            []string{"hardware", "secure_element"}, "matcherProtection": []string{"on_chip"},
			"cryptoStrength": 128, "attachmentHint": []string{"external", "wired", "nfc"}, "tcDisplay": []string{},
			"attestationRootCertificates": []string{"MIIBfjCCASWgAwIBAgIBATAKBggqhkjOPQQDAjAXMRUwEwYDVQQDDAxGVCBGSURPIDAyMDAwIBcNMTYwNTAxMDAwMDAwWhgPMjA1MDA1MDEwMDAwMDBaMBcxFTATBgNVBAMMDEZUIEZJRE8gMDIwMDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNBmrRqVOxztTJVN19vtdqcL7tKQeol2nnM2/yYgvksZnr50SKbVgIEkzHQVOu80LVEE3lVheO1HjggxAlT6o4WjYDBeMB0GA1UdDgQWBBRJFWQt1bvG3jM6XgmV/IcjNtO/CzAfBgNVHSMEGDAWgBRJFWQt1bvG3jM6XgmV/IcjNtO/CzAMBgNVHRMEBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAKBggqhkjOPQQDAgNHADBEAiAwfPqgIWIUB+QBBaVGsdHy0s5RMxlkzpSX/zSyTZmUpQIgB2wJ6nZRM8oX/nA43Rh6SJovM2XwCCH//+LirBAbB0M="},
			"authenticatorGetInfo": map[string]any{"versions": []string{"FIDO_2_0", "FIDO_2_1"}, "aaguid": aaguid,
				"options": map[string]bool{"rk": true, "clientPin": true, "up": true}, "maxMsgSize": 1200},
		},
		"statusReports":          reports,
		"timeOfLastStatusChange": day.Format(time.DateOnly),
	}
}

// WithRoots sets the attestation root certificates of entry e (an Entry)
// to roots, in place of the Feitian root Entry lists, and returns e.
func WithRoots(e map[string]any, roots ...*x509.Certificate) map[string]any {
	var enc []string
	for _, r := range roots {
		enc = append(enc, base64.StdEncoding.EncodeToString(r.Raw))
	}
	return WithRootsBase64(e, enc...)
}

// WithRootsBase64 sets e's attestationRootCertificates to enc as it is,
// well-formed or not; none: an empty list.
func WithRootsBase64(e map[string]any, enc ...string) map[string]any {
	if enc == nil {
		enc = []string{}
	}
	e["metadataStatement"].(map[string]any)["attestationRootCertificates"] = enc
	return e
}

// U2FEntry is an entry of a U2F authenticator: no aaguid.
func U2FEntry(description string) map[string]any {
	return map[string]any{
		"attestationCertificateKeyIdentifiers": []string{"bf7bcaa0d0c6187a8c6abbdd16a15640e7c7bde2"},
		"metadataStatement":                    map[string]any{"description": description, "protocolFamily": "u2f", "schema": 3},
		"statusReports":                        []map[string]any{{"status": "FIDO_CERTIFIED", "effectiveDate": "2017-11-28"}},
	}
}
