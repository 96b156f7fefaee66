package enroll

import (
	"crypto/x509"
	"embed"
	"encoding/pem"
	"fmt"
	"io/fs"
	"slices"

	"github.com/google/uuid"
)

// yubicoRootFS holds Yubico's FIDO attestation roots; roots/README.md says
// where each came from and how it was checked.
//
//go:embed roots/*.pem
var yubicoRootFS embed.FS

// RootSetYubico names the shipped Yubico roots in configuration.
const RootSetYubico = "yubico"

// YubicoRoots returns Yubico's three FIDO attestation roots: the U2F Root CA
// Serial 457200631, the FIDO Root CA Serial 450203556 and Attestation Root 1
// (firmware 5.7.4 and later). Each call parses them afresh, so callers may
// keep the result.
func YubicoRoots() []*x509.Certificate {
	certs, err := parsePEMDir(yubicoRootFS, "roots")
	if err != nil {
		panic(err) // the files are embedded and tested: this cannot happen in a built binary
	}
	return certs
}

// RootSet returns a shipped set of attestation roots by name.
func RootSet(name string) ([]*x509.Certificate, error) {
	if name == RootSetYubico {
		return YubicoRoots(), nil
	}
	return nil, fmt.Errorf("unknown attestation root set %q (known: %q)", name, RootSetYubico)
}

func parsePEMDir(fsys fs.FS, dir string) ([]*x509.Certificate, error) {
	names, err := fs.Glob(fsys, dir+"/*.pem")
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		certs, err := ParsePEMCertificates(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		out = append(out, certs...)
	}
	return out, nil
}

// ParsePEMCertificates parses every CERTIFICATE block in b; it is an error
// if there is none, or any other kind of block.
func ParsePEMCertificates(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("parse certificates: unexpected PEM block %q", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificates: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("parse certificates: no PEM certificate found")
	}
	return out, nil
}

// Model is a kind of authenticator, known by its AAGUID.
type Model struct {
	AAGUID uuid.UUID
	Name   string // shown to the person and to IT, e.g. "YubiKey 5 NFC / 5C NFC (Firmware 5.7)"
}

// yubiKeyModels are current YubiKeys by AAGUID (sources: roots/README.md).
// One AAGUID covers every model that shares a firmware and certification.
var yubiKeyModels = []struct{ aaguid, name string }{
	{"cb69481e-8ff7-4039-93ec-0a2729a154a8", "YubiKey 5 / 5C / 5 Nano / 5C Nano (Firmware 5.1)"},
	{"ee882879-721c-4913-9775-3dfcce97072a", "YubiKey 5 / 5C / 5 Nano / 5C Nano (Firmware 5.2/5.4)"},
	{"19083c3d-8383-4b18-bc03-8f1c9ab2fd1b", "YubiKey 5C / 5 Nano / 5C Nano (Firmware 5.7)"},
	{"ff4dac45-ede8-4ec2-aced-cf66103f4335", "YubiKey 5C / 5 Nano / 5C Nano (Firmware 5.7)"},
	{"20ac7a17-c814-4833-93fe-539f0d5e3389", "YubiKey 5C / 5 Nano / 5C Nano (Firmware 5.7, Enterprise Attestation)"},
	{"4599062e-6926-4fe7-9566-9e8fb1aedaa0", "YubiKey 5C / 5 Nano / 5C Nano (Firmware 5.7, Enterprise Attestation)"},
	{"fa2b99dc-9e39-4257-8f92-4a30d23c4118", "YubiKey 5 NFC (Firmware 5.1)"},
	{"2fc0579f-8113-47ea-b116-bb5a8db9202a", "YubiKey 5 NFC / 5C NFC (Firmware 5.2/5.4)"},
	{"a25342c0-3cdc-4414-8e46-f4807fca511c", "YubiKey 5 NFC / 5C NFC (Firmware 5.7)"},
	{"d7781e5d-e353-46aa-afe2-3ca49f13332a", "YubiKey 5 NFC / 5C NFC (Firmware 5.7)"},
	{"1ac71f64-468d-4fe0-bef1-0e5f2f551f18", "YubiKey 5 NFC / 5C NFC (Firmware 5.7, Enterprise Attestation)"},
	{"6ab56fad-881f-4a43-acb2-0be065924522", "YubiKey 5 NFC / 5C NFC (Firmware 5.7, Enterprise Attestation)"},
	{"662ef48a-95e2-4aaa-a6c1-5b9c40375824", "YubiKey 5 NFC / 5C NFC – Enhanced PIN"},
	{"b2c1a50b-dad8-4dc7-ba4d-0ce9597904bc", "YubiKey 5 NFC / 5C NFC – Enhanced PIN (Enterprise Attestation)"},
	{"c5ef55ff-ad9a-4b9f-b580-adebafe026d0", "YubiKey 5Ci (Firmware 5.2/5.4)"},
	{"a02167b9-ae71-4ac7-9a07-06432ebb6f1c", "YubiKey 5Ci (Firmware 5.7)"},
	{"24673149-6c86-42e7-98d9-433fb5b73296", "YubiKey 5Ci (Firmware 5.7)"},
	{"b90e7dc1-316e-4fee-a25a-56a666a670fe", "YubiKey 5Ci (Firmware 5.7, Enterprise Attestation)"},
	{"3b24bf49-1d45-4484-a917-13175df0867b", "YubiKey 5Ci (Firmware 5.7, Enterprise Attestation)"},
	{"c1f9a0bc-1dd2-404a-b27f-8e29047a43fd", "YubiKey 5 NFC / 5C NFC FIPS (Firmware 5.4)"},
	{"73bb0cd4-e502-49b8-9c6f-b59445bf720b", "YubiKey 5C / 5 Nano / 5C Nano FIPS (Firmware 5.4)"},
	{"85203421-48f9-4355-9bc8-8a53846e5083", "YubiKey 5Ci FIPS (Firmware 5.4)"},
	{"fcc0118f-cd45-435b-8da1-9782b2da0715", "YubiKey 5 NFC / 5C NFC FIPS (Firmware 5.7)"},
	{"79f3c8ba-9e35-484b-8f47-53a5a0f5c630", "YubiKey 5 NFC / 5C NFC FIPS (Firmware 5.7, Enterprise Attestation)"},
	{"57f7de54-c807-4eab-b1c6-1c9be7984e92", "YubiKey 5C / 5 Nano / 5C Nano FIPS (Firmware 5.7)"},
	{"905b4cb4-ed6f-4da9-92fc-45e0d4e9b5c7", "YubiKey 5C / 5 Nano / 5C Nano FIPS (Firmware 5.7, Enterprise Attestation)"},
	{"7b96457d-e3cd-432b-9ceb-c9fdd7ef7432", "YubiKey 5Ci FIPS (Firmware 5.7)"},
	{"3a662962-c6d4-4023-bebb-98ae92e78e20", "YubiKey 5Ci FIPS (Firmware 5.7, Enterprise Attestation)"},
	{"d8522d9f-575b-4866-88a9-ba99fa02f35b", "YubiKey Bio Series – FIDO Edition (Firmware 5.5/5.6)"},
	{"dd86a2da-86a0-4cbe-b462-4bd31f57bc6f", "YubiKey Bio Series – FIDO Edition (Firmware 5.7)"},
	{"7409272d-1ff9-4e10-9fc9-ac0019c124fd", "YubiKey Bio Series – FIDO Edition (Firmware 5.7)"},
	{"8c39ee86-7f9a-4a95-9ba3-f6b097e5c2ee", "YubiKey Bio Series – FIDO Edition (Firmware 5.7, Enterprise Attestation)"},
	{"ad08c78a-4e41-49b9-86a2-ac15b06899e2", "YubiKey Bio Series – FIDO Edition (Firmware 5.7, Enterprise Attestation)"},
	{"7d1351a6-e097-4852-b8bf-c9ac5c9ce4a3", "YubiKey Bio Series – Multi-protocol Edition (Firmware 5.6)"},
	{"90636e1f-ef82-43bf-bdcf-5255f139d12f", "YubiKey Bio Series – Multi-protocol Edition (Firmware 5.7)"},
	{"34744913-4f57-4e6e-a527-e9ec3c4b94e6", "YubiKey Bio Series – Multi-protocol Edition (Firmware 5.7)"},
	{"97e6a830-c952-4740-95fc-7c78dc97ce47", "YubiKey Bio Series – Multi-protocol Edition (Firmware 5.7, Enterprise Attestation)"},
	{"6ec5cff2-a0f9-4169-945b-f33b563f7b99", "YubiKey Bio Series – Multi-protocol Edition (Firmware 5.7, Enterprise Attestation)"},
	{"f8a011f3-8c0a-4d15-8006-17111f9edc7d", "Security Key by Yubico (Firmware 5.1)"},
	{"b92c3f9a-c014-4056-887f-140a2501163b", "Security Key by Yubico (Firmware 5.2)"},
	{"6d44ba9b-f6ec-2e49-b930-0c8fe920cb73", "Security Key NFC by Yubico (Firmware 5.1)"},
	{"149a2021-8ef6-4133-96b8-81f8d5b7f1f5", "Security Key NFC / C NFC by Yubico (Firmware 5.2/5.4)"},
	{"a4e9fc6d-4cbe-4758-b8ba-37598bb5bbaa", "Security Key NFC / C NFC by Yubico (Firmware 5.4)"},
	{"e77e3c64-05e3-428b-8824-0cbeb04b829d", "Security Key NFC / C NFC by Yubico (Firmware 5.7)"},
	{"b7d3f68e-88a6-471e-9ecf-2df26d041ede", "Security Key NFC / C NFC by Yubico (Firmware 5.7)"},
	{"0bb43545-fd2c-4185-87dd-feb0b2916ace", "Security Key NFC / C NFC by Yubico – Enterprise Edition (Firmware 5.4)"},
	{"47ab2fb4-66ac-4184-9ae1-86be814012d5", "Security Key NFC / C NFC by Yubico – Enterprise Edition (Firmware 5.7)"},
	{"ed042a3a-4b22-4455-bb69-a267b652ae7e", "Security Key NFC / C NFC by Yubico – Enterprise Edition (Firmware 5.7)"},
	{"9ff4cc65-6154-4fff-ba09-9e2af7882ad2", "Security Key NFC / C NFC by Yubico – Enterprise Edition (Firmware 5.7, Enterprise Attestation)"},
}

// YubiKeyModels returns the shipped YubiKey models, in a stable order.
func YubiKeyModels() []Model {
	out := make([]Model, len(yubiKeyModels))
	for i, m := range yubiKeyModels {
		out[i] = Model{AAGUID: uuid.MustParse(m.aaguid), Name: m.name}
	}
	return out
}

// YubiKeyAAGUIDs returns the AAGUIDs of the shipped YubiKey models.
func YubiKeyAAGUIDs() []uuid.UUID {
	var out []uuid.UUID
	for _, m := range YubiKeyModels() {
		out = append(out, m.AAGUID)
	}
	return out
}

// ModelName returns the name of the authenticator model with this AAGUID,
// or "" when Keyhall does not know it.
func ModelName(aaguid uuid.UUID) string {
	i := slices.IndexFunc(yubiKeyModels, func(m struct{ aaguid, name string }) bool {
		return m.aaguid == aaguid.String()
	})
	if i < 0 {
		return ""
	}
	return yubiKeyModels[i].name
}

// YubiKeyPolicy returns a key policy that admits only YubiKeys: attested
// by one of Yubico's roots, an AAGUID of a shipped model, the secret kept on
// the key (no synced passkeys), and a PIN or fingerprint at every use.
func YubiKeyPolicy() KeyPolicy {
	return KeyPolicy{
		NeedDE:       "einen YubiKey (FIDO-zertifiziert)",
		NeedEN:       "a YubiKey (FIDO certified)",
		TrustedRoots: YubicoRoots(),
		AAGUIDs:      YubiKeyAAGUIDs(),
		RefuseSynced: true,
		RequireUV:    true,
		AllowTOTP:    false,
	}
}
