package enroll_test

import (
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

var testAAGUID = uuid.MustParse("0b2f8e1c-4c1a-4d6e-9a57-3c1f0e5d7a21")

func rules(kp enroll.KeyPolicy) enroll.Rules {
	return enroll.Rules{Groups: []enroll.GroupRule{{Group: "rat", KeyPolicy: kp}}}
}

func TestCheckResponseOwnChain(t *testing.T) {
	root, other := newRootCA(t, "Test Root"), newRootCA(t, "Other Root")
	now := time.Now()
	leaf := root.leaf(t, testAAGUID, now.AddDate(0, -1, 0), now.AddDate(5, 0, 0))
	expired := root.leaf(t, testAAGUID, now.AddDate(-3, 0, 0), now.AddDate(0, 0, -1))
	wrongExt := root.leaf(t, uuid.New(), now.AddDate(0, -1, 0), now.AddDate(5, 0, 0))
	strict := enroll.KeyPolicy{NeedDE: "einen Testschlüssel", NeedEN: "a test key",
		TrustedRoots: []*x509.Certificate{root.cert}, AAGUIDs: []uuid.UUID{testAAGUID}, RefuseSynced: true}
	base := keyReg{rpID: "localhost", origin: "http://localhost:8080", challenge: "Y2hhbGxlbmdlY2hhbGxlbmdl", aaguid: testAAGUID, attest: &leaf}
	with := func(f func(*keyReg)) keyReg { r := base; f(&r); return r }
	tests := []struct {
		name   string
		reg    keyReg
		policy enroll.KeyPolicy
		want   enroll.Reason // "" = accepted
	}{
		{"trusted root", base, strict, ""},
		{"wrong root", base, enroll.KeyPolicy{TrustedRoots: []*x509.Certificate{other.cert}}, enroll.ReasonUntrusted},
		{"AAGUID not on the list", with(func(r *keyReg) { r.aaguid = uuid.New(); r.attest = &wrongExt }), strict, enroll.ReasonModel},
		{"AAGUID differs from the certificate's", with(func(r *keyReg) { r.aaguid = uuid.New() }), enroll.KeyPolicy{}, enroll.ReasonModel},
		{"expired leaf", with(func(r *keyReg) { r.attest = &expired }), strict, enroll.ReasonCertExpired},
		{"broken signature", with(func(r *keyReg) { r.breakSig = true }), strict, enroll.ReasonInvalid},
		{"none without roots", with(func(r *keyReg) { r.fmt = "none" }), enroll.KeyPolicy{}, ""},
		{"none with roots", with(func(r *keyReg) { r.fmt = "none" }), strict, enroll.ReasonUntrusted},
		{"self attestation with roots", with(func(r *keyReg) { r.attest = nil }), strict, enroll.ReasonUntrusted},
		{"self attestation without roots", with(func(r *keyReg) { r.attest = nil }), enroll.KeyPolicy{}, ""},
		{"synced passkey refused", with(func(r *keyReg) { r.flags = flagUP | flagUV | flagAT | flagBE }), strict, enroll.ReasonSynced},
		{"synced passkey admitted", with(func(r *keyReg) { r.flags = flagUP | flagUV | flagAT | flagBE }), enroll.KeyPolicy{TrustedRoots: strict.TrustedRoots}, ""},
		{"no user verification", with(func(r *keyReg) { r.flags = flagUP | flagAT }), enroll.KeyPolicy{RequireUV: true}, enroll.ReasonUV},
		{"oversized credential id", with(func(r *keyReg) { r.credID = make([]byte, 1024) }), enroll.KeyPolicy{}, enroll.ReasonIDTooLong},
		{"credential id of 1023 bytes", with(func(r *keyReg) { r.credID = make([]byte, 1023) }), enroll.KeyPolicy{}, ""},
		{"ES384 key", with(func(r *keyReg) { r.alg = -35 }), enroll.KeyPolicy{}, enroll.ReasonAlgorithm},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := enroll.CheckResponse(tc.reg.build(t), rules(tc.policy), now)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				// A hardware key only with a chain to a trusted root: the
				// test root is trusted only where the policy names it.
				want := len(tc.policy.TrustedRoots) > 0 && tc.reg.attest != nil && tc.reg.fmt != "none"
				if k.Attested != want {
					t.Errorf("attested %t, want %t", k.Attested, want)
				}
				return
			}
			if !enroll.IsReason(err, tc.want) {
				t.Fatalf("got %v, want reason %q", err, tc.want)
			}
			if tc.want != enroll.ReasonInvalid && tc.want != enroll.ReasonIDTooLong && k.CredentialID == nil {
				t.Errorf("no key info with the refusal")
			}
		})
	}
}

// TestCheckResponseAttestedAsRegistered: a key whose chain ends in a root
// only another group trusts is a hardware key at registration
// (Policy.TrustedRoots), so IT's look at it says so too, also for a person
// outside that group.
func TestCheckResponseAttestedAsRegistered(t *testing.T) {
	root := newRootCA(t, "IT Root")
	now := time.Now()
	leaf := root.leaf(t, testAAGUID, now.AddDate(0, -1, 0), now.AddDate(5, 0, 0))
	reg := keyReg{rpID: "localhost", origin: "http://localhost:8080", challenge: "Y2hhbGxlbmdlY2hhbGxlbmdl", aaguid: testAAGUID, attest: &leaf}
	p := enroll.Policy{Default: enroll.DefaultKeyPolicy(), Groups: map[string]enroll.KeyPolicy{
		"it":  {TrustedRoots: []*x509.Certificate{root.cert}},
		"rat": enroll.DefaultKeyPolicy(),
	}}
	for _, groups := range [][]authn.Group{{{Name: "rat"}}, nil, {{Name: "it"}}} {
		k, err := enroll.CheckResponse(reg.build(t), p.For(groups), now)
		if err != nil {
			t.Fatalf("groups %v: refused: %v", groups, err)
		}
		if !k.Attested {
			t.Errorf("groups %v: not attested, though registration stores the key as a hardware key", groups)
		}
	}
}

func TestRefusalNamesGroupAndNeed(t *testing.T) {
	reg := keyReg{rpID: "localhost", origin: "http://localhost:8080", challenge: "Y2hhbGxlbmdlY2hhbGxlbmdl", fmt: "none",
		aaguid: uuid.MustParse("01020304-0506-0708-0102-030405060708")}
	_, err := enroll.CheckResponse(reg.build(t), rules(enroll.YubiKeyPolicy()), time.Now())
	e, ok := err.(*enroll.Error)
	if !ok {
		t.Fatalf("got %T %v, want *enroll.Error", err, err)
	}
	for _, want := range []string{"Ihre Gruppe „rat“ verlangt einen YubiKey (FIDO-zertifiziert)", "01020304-0506-0708-0102-030405060708", "nicht zugelassen"} {
		if !strings.Contains(e.DE, want) {
			t.Errorf("DE message %q lacks %q", e.DE, want)
		}
	}
	if e.Group != "rat" || !strings.Contains(e.EN, "a YubiKey") {
		t.Errorf("Group %q, EN %q", e.Group, e.EN)
	}
}

// TestRealYubicoSamples checks published attestations of real Yubico keys
// (testdata/README.md says where each comes from) against the shipped roots
// and AAGUID list.
func TestRealYubicoSamples(t *testing.T) {
	yubico := enroll.KeyPolicy{TrustedRoots: enroll.YubicoRoots()}
	onlyYubiKeys := enroll.YubiKeyPolicy()
	onlyYubiKeys.RequireUV = false // the recorded registrations did not all ask for UV
	tests := []struct {
		file, model string
		policy      enroll.KeyPolicy
		want        enroll.Reason
	}{
		{"pywebauthn-packed-security-key-nfc.json", "Security Key NFC by Yubico (Firmware 5.1)", onlyYubiKeys, ""},
		{"pywebauthn-packed-yubikey-5ci-eddsa.json", "YubiKey 5Ci (Firmware 5.2/5.4)", onlyYubiKeys, ""},
		{"gowebauthn-fido-u2f-yubico.json", "Security Key by Yubico (Firmware 5.1)", yubico, ""},
		{"pywebauthn-packed-security-key-nfc.json", "Security Key NFC by Yubico (Firmware 5.1)",
			enroll.KeyPolicy{TrustedRoots: []*x509.Certificate{newRootCA(t, "Not Yubico").cert}}, enroll.ReasonUntrusted},
		// With no policy at all, a real YubiKey is still a hardware key:
		// Yubico's shipped roots are always trusted.
		{"pywebauthn-packed-security-key-nfc.json", "Security Key NFC by Yubico (Firmware 5.1)", enroll.KeyPolicy{}, ""},
		{"pywebauthn-packed-yubikey-5ci-eddsa.json", "YubiKey 5Ci (Firmware 5.2/5.4)", enroll.KeyPolicy{}, ""},
		{"gowebauthn-fido-u2f-yubico.json", "Security Key by Yubico (Firmware 5.1)", enroll.KeyPolicy{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			k, err := enroll.CheckResponse(b, rules(tc.policy), time.Now())
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && !enroll.IsReason(err, tc.want):
				t.Fatalf("got %v, want reason %q", err, tc.want)
			}
			if k.Model != tc.model {
				t.Errorf("model %q (AAGUID %s), want %q", k.Model, k.AAGUID, tc.model)
			}
			if tc.want == "" && !k.Attested {
				t.Errorf("a real Yubico key is not attested: it would not sign in as a hardware key (phrh)")
			}
		})
	}
}
