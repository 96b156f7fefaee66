package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/google/uuid"
)

// attestCA is a maker's attestation root made for a test.
type attestCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newAttestCA(t *testing.T) attestCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Maker Root"},
		NotBefore: time.Now().AddDate(-1, 0, 0), NotAfter: time.Now().AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return attestCA{cert: c, key: key}
}

// leaf issues an attestation certificate for aaguid (with the AAGUID
// extension, WebAuthn L3 §8.2.1), valid from a month ago for five years:
// its DER and its key.
func (ca attestCA) leaf(t *testing.T, aaguid uuid.UUID) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	attKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ext, _ := asn1.Marshal(aaguid[:])
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject: pkix.Name{Country: []string{"DE"}, Organization: []string{"Test Keys GmbH"},
			OrganizationalUnit: []string{"Authenticator Attestation"}, CommonName: "Test Key Attestation"},
		NotBefore: time.Now().AddDate(0, -1, 0), NotAfter: time.Now().AddDate(5, 0, 0), BasicConstraintsValid: true,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}, Value: ext}}}
	leaf, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &attKey.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return leaf, attKey
}

// packedRegistration answers the registration options like
// noneRegistration, but with "packed" attestation (WebAuthn L3 §8.2) by an
// attestation certificate ca issues for aaguid (with the AAGUID extension).
func packedRegistration(t *testing.T, options []byte, origin string, aaguid uuid.UUID, ca attestCA) []byte {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string
			RP        struct{ ID string }
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	leaf, attKey := ca.leaf(t, aaguid)
	k := newTestKey(t)
	rp := sha256.Sum256([]byte(o.PublicKey.RP.ID))
	auth := append(rp[:], 0x45, 0, 0, 0, 0) // UP, UV, AT; sign count 0
	auth = append(auth, aaguid[:]...)
	auth = binary.BigEndian.AppendUint16(auth, uint16(len(k.id)))
	auth = append(append(auth, k.id...), k.cose...)
	cd, _ := json.Marshal(map[string]string{"type": "webauthn.create", "challenge": o.PublicKey.Challenge, "origin": origin})
	cdHash := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, auth...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, attKey, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "packed", "authData": auth,
		"attStmt": map[string]any{"alg": int64(-7), "sig": sig, "x5c": []any{leaf}}})
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	res, _ := json.Marshal(map[string]any{"id": b64(k.id), "rawId": b64(k.id), "type": "public-key",
		"response": map[string]string{"clientDataJSON": b64(cd), "attestationObject": b64(att)}})
	return res
}

// TestEnrollRefusesUnprovenModel: where a group refuses compromised
// models, a key whose model no attestation proves — "none" attestation
// with a zero AAGUID (a browser's answer when the person declines "see
// make and model") or claiming another model's AAGUID — is refused (403)
// with a page saying to allow make and model, and not stored; a key
// attested by a trusted root is stored, and one of a revoked model so
// attested is refused as compromised.
func TestEnrollRefusesUnprovenModel(t *testing.T) {
	r := newRefusingRig(t)
	f, ctx, anna, maker, revoked := r.f, context.Background(), r.anna, r.maker, r.revoked
	register := func(answer func(options []byte) []byte) (*http.Response, string) {
		t.Helper()
		return r.addKey(t, answer)
	}
	keys := func() int {
		creds, _ := f.store.ListCredentials(ctx, anna.ID)
		return len(creds)
	}
	for name, model := range map[string]uuid.UUID{"zero AAGUID": uuid.Nil, "another model's AAGUID": uuid.MustParse("ee882879-721c-4913-9775-3dfcce97072a")} {
		res, body := register(func(o []byte) []byte { return noneRegistration(t, o, f.base, model) })
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("%s, none attestation: status %d, want 403", name, res.StatusCode)
		}
		for _, want := range []string{"Ihr Browser hat das Modell Ihres Schlüssels nicht übermittelt", "Marke und Modell"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: refusal page lacks %q", name, want)
			}
		}
		if n := keys(); n != 1 {
			t.Fatalf("%s: %d keys stored, want only the old one", name, n)
		}
	}
	res, body := register(func(o []byte) []byte { return packedRegistration(t, o, f.base, revoked, maker) })
	if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "Die FIDO Alliance hat dieses Modell zurückgezogen") {
		t.Errorf("attested revoked model: %d %s", res.StatusCode, body)
	}
	if res, body = register(func(o []byte) []byte {
		return packedRegistration(t, o, f.base, uuid.MustParse("ee882879-721c-4913-9775-3dfcce97072a"), maker)
	}); res.StatusCode != http.StatusOK {
		t.Fatalf("attested good model: %d %s", res.StatusCode, body)
	}
	if n := keys(); n != 2 {
		t.Fatalf("%d keys stored, want 2", n)
	}
}
