package enroll_test

import (
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/enroll"
)

// TestShippedRoots checks each embedded Yubico root: subject, serial,
// validity, self-signature and fingerprint (roots/README.md).
func TestShippedRoots(t *testing.T) {
	want := map[string]struct {
		serial, sha256   string
		notBefore, until string
	}{
		"Yubico U2F Root CA Serial 457200631":  {"1b4053f7", "0fa1386f80eb8713263ae5c1d84deb455bdf08aea50ab05503cefee82b092d42", "2014-08-01", "2050-09-04"},
		"Yubico FIDO Root CA Serial 450203556": {"48e1234dffffcaa45f3d6ed0abcaad2320ab020f", "35f1a54b353bfb711e6d42adbeb76c0e9dead095018e6a94783ba2192fd6faad", "2024-05-01", "2060-04-30"},
		"Yubico Attestation Root 1":            {"5f37a2103244393b75e05e67d28e997ff6c1c225", "62760c6a6ef91679f454c8902b80fd009825b3f25da90f1fbace2ec6586cd5a8", "2024-12-01", "9999-12-31"},
	}
	roots := enroll.YubicoRoots()
	if len(roots) != len(want) {
		t.Fatalf("%d roots shipped, want %d", len(roots), len(want))
	}
	for _, c := range roots {
		w, ok := want[c.Subject.CommonName]
		if !ok {
			t.Errorf("unexpected root %q", c.Subject)
			continue
		}
		delete(want, c.Subject.CommonName)
		serial, _ := new(big.Int).SetString(w.serial, 16)
		sum := sha256.Sum256(c.Raw)
		switch {
		case c.SerialNumber.Cmp(serial) != 0:
			t.Errorf("%s: serial %x, want %s", c.Subject.CommonName, c.SerialNumber, w.serial)
		case hex.EncodeToString(sum[:]) != w.sha256:
			t.Errorf("%s: SHA-256 %x", c.Subject.CommonName, sum)
		case c.NotBefore.Format(time.DateOnly) != w.notBefore || c.NotAfter.Format(time.DateOnly) != w.until:
			t.Errorf("%s: valid %s to %s", c.Subject.CommonName, c.NotBefore, c.NotAfter)
		case !c.IsCA || c.Subject.String() != c.Issuer.String():
			t.Errorf("%s: not a self-issued CA", c.Subject.CommonName)
		}
		if err := c.CheckSignatureFrom(c); err != nil {
			t.Errorf("%s: self-signature: %v", c.Subject.CommonName, err)
		}
		if !time.Now().Before(c.NotAfter) {
			t.Errorf("%s expired", c.Subject.CommonName)
		}
	}
	if set, err := enroll.RootSet("yubico"); err != nil || len(set) != 3 {
		t.Errorf("RootSet(yubico) = %d roots, %v", len(set), err)
	}
	if _, err := enroll.RootSet("acme"); err == nil {
		t.Error("RootSet(acme) succeeded")
	}
}

func TestYubiKeyModels(t *testing.T) {
	seen := map[uuid.UUID]bool{}
	for _, m := range enroll.YubiKeyModels() {
		if seen[m.AAGUID] || m.Name == "" {
			t.Errorf("model %+v listed twice or without a name", m)
		}
		seen[m.AAGUID] = true
	}
	for aaguid, name := range map[string]string{
		"a25342c0-3cdc-4414-8e46-f4807fca511c": "YubiKey 5 NFC / 5C NFC (Firmware 5.7)",
		"ee882879-721c-4913-9775-3dfcce97072a": "YubiKey 5 / 5C / 5 Nano / 5C Nano (Firmware 5.2/5.4)",
		"c5ef55ff-ad9a-4b9f-b580-adebafe026d0": "YubiKey 5Ci (Firmware 5.2/5.4)",
		"d8522d9f-575b-4866-88a9-ba99fa02f35b": "YubiKey Bio Series – FIDO Edition (Firmware 5.5/5.6)",
		"0bb43545-fd2c-4185-87dd-feb0b2916ace": "Security Key NFC / C NFC by Yubico – Enterprise Edition (Firmware 5.4)",
		"01020304-0506-0708-0102-030405060708": "",
	} {
		if got := enroll.ModelName(uuid.MustParse(aaguid)); got != name {
			t.Errorf("ModelName(%s) = %q, want %q", aaguid, got, name)
		}
	}
}
