package enroll_test

import (
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
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/google/uuid"
)

// testCA is a certificate authority made for a test: a root, or an
// attestation leaf it issued.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var serial int64

func nextSerial() *big.Int { serial++; return big.NewInt(serial) }

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newRootCA makes a self-signed root valid from a year ago for ten years.
func newRootCA(t *testing.T, name string) testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().AddDate(-1, 0, 0), NotAfter: time.Now().AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return testCA{cert: c, key: key}
}

// leaf issues an attestation certificate as WebAuthn L3 §8.2.1 wants it
// (subject C, O, OU "Authenticator Attestation", CN; not a CA), with the
// AAGUID extension 1.3.6.1.4.1.45724.1.1.4, valid from notBefore to notAfter.
func (ca testCA) leaf(t *testing.T, aaguid uuid.UUID, notBefore, notAfter time.Time) testCA {
	t.Helper()
	key := newKey(t)
	ext, _ := asn1.Marshal(aaguid[:])
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject: pkix.Name{Country: []string{"DE"}, Organization: []string{"Test Keys GmbH"},
			OrganizationalUnit: []string{"Authenticator Attestation"}, CommonName: "Test Key Attestation"},
		NotBefore: notBefore, NotAfter: notAfter, BasicConstraintsValid: true,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}, Value: ext}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return testCA{cert: c, key: key}
}

// Authenticator data flags (WebAuthn L3 §6.1).
const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagAT = 0x40
)

// keyReg describes one registration response to build.
type keyReg struct {
	rpID, origin string
	challenge    string // base64url, as in the options
	aaguid       uuid.UUID
	credID       []byte
	flags        byte
	fmt          string  // "packed" (default) or "none"
	attest       *testCA // signs a packed statement with x5c; nil: self attestation
	alg          int64   // COSE algorithm in the credential key; 0 = ES256
	breakSig     bool
	credKey      *ecdsa.PrivateKey // the credential's key; nil: a new one
	transports   []string          // response.transports; nil: ["usb"]
}

// build returns the JSON of a PublicKeyCredential, as credential.toJSON()
// gives it, and the credential's private key.
func (r keyReg) build(t *testing.T) []byte {
	t.Helper()
	if r.credID == nil {
		r.credID = make([]byte, 32)
		rand.Read(r.credID)
	}
	if r.flags == 0 {
		r.flags = flagUP | flagUV | flagAT
	}
	if r.alg == 0 {
		r.alg = -7
	}
	credKey := r.credKey
	if credKey == nil {
		credKey = newKey(t)
	}
	authData := r.authData(credKey)
	clientData, _ := json.Marshal(map[string]any{"type": "webauthn.create", "challenge": r.challenge, "origin": r.origin, "crossOrigin": false})
	cdHash := sha256.Sum256(clientData)
	att := map[string]any{"fmt": "packed", "authData": authData, "attStmt": map[string]any{}}
	if r.fmt == "none" {
		att["fmt"] = "none"
	} else {
		signer, stmt := credKey, map[string]any{"alg": int64(-7)}
		if r.attest != nil {
			signer, stmt["x5c"] = r.attest.key, []any{r.attest.cert.Raw}
		}
		digest := sha256.Sum256(append(append([]byte{}, authData...), cdHash[:]...))
		sig, err := ecdsa.SignASN1(rand.Reader, signer, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		if r.breakSig {
			sig[len(sig)-1] ^= 0xff
		}
		stmt["sig"] = sig
		att["attStmt"] = stmt
	}
	attObj, err := webauthncbor.Marshal(att)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	if r.transports == nil {
		r.transports = []string{"usb"}
	}
	out, _ := json.Marshal(map[string]any{
		"id": b64(r.credID), "rawId": b64(r.credID), "type": "public-key",
		"response":               map[string]any{"clientDataJSON": b64(clientData), "attestationObject": b64(attObj), "transports": r.transports},
		"clientExtensionResults": map[string]any{},
	})
	return out
}

// authData encodes authenticator data with attested credential data
// (WebAuthn L3 §6.1, §6.5.1).
func (r keyReg) authData(credKey *ecdsa.PrivateKey) []byte {
	rpHash := sha256.Sum256([]byte(r.rpID))
	b := append([]byte{}, rpHash[:]...)
	b = append(b, r.flags, 0, 0, 0, 0)
	b = append(b, r.aaguid[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.credID)))
	b = append(b, r.credID...)
	pub, _ := credKey.PublicKey.ECDH()
	raw := pub.Bytes() // 0x04 ‖ x ‖ y
	x, y := raw[1:33], raw[33:]
	cose, _ := webauthncbor.Marshal(map[int]any{1: 2, 3: r.alg, -1: 1, -2: x, -3: y})
	return append(b, cose...)
}
