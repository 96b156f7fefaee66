package enroll

import (
	"context"
	"crypto/x509"
	"fmt"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
)

// Models are what the imported FIDO MDS3 blob says about the models of
// some keys (authn.KeyModelStore), by AAGUID.
type Models map[uuid.UUID]authn.KeyModel

// LoadModels reads from st the models of the security keys among creds.
func LoadModels(ctx context.Context, st authn.KeyModelStore, creds ...authn.Credential) (Models, error) {
	var ids [][16]byte
	for _, c := range creds {
		if c.Kind == authn.KindWebAuthn && len(c.AAGUID) == 16 {
			ids = append(ids, [16]byte(c.AAGUID))
		}
	}
	ms, err := st.KeyModels(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read key models: %w", err)
	}
	out := Models{}
	for id, m := range ms {
		out[uuid.UUID(id)] = m
	}
	return out, nil
}

// Name is the model's name: the MDS blob's where it has one, else the
// shipped list's (ModelName), else "".
func (m Models) Name(id uuid.UUID) string {
	if k, ok := m[id]; ok && k.Name != "" {
		return k.Name
	}
	return ModelName(id)
}

// Compromise is the compromise FIDO reported for the model (REVOKED, …),
// or "".
func (m Models) Compromise(id uuid.UUID) string { return m[id].Compromise }

// Certification is the model's highest FIDO certification level, or "".
func (m Models) Certification(id uuid.UUID) string { return m[id].Certification }

// Roots are the attestation roots the blob lists for the model
// (authn.KeyModel.Roots), parsed; nil when none.
func (m Models) Roots(id uuid.UUID) ([]*x509.Certificate, error) {
	roots, err := x509.ParseCertificates(m[id].Roots)
	if err != nil {
		return nil, fmt.Errorf("read attestation roots of model %s: %w", id, err)
	}
	return roots, nil
}

// Verified reports whether the model of the stored key c is proven, not
// only what the key reported: a trusted root vouched for it at
// registration (authn.Credential.Attested), or its stored attestation
// chain names the model (id-fido-gen-ce-aaguid) and verifies, as at its
// registration (c.CreatedAt), to a root the imported blob lists for that
// model (m must hold c's model: LoadModels). So a key registered before
// the blob, or before its maker's roots were used, counts once its chain
// leads to the roots FIDO lists. For pages and reports: it changes
// neither what the key signs in as nor a refusal.
func (m Models) Verified(c authn.Credential) bool {
	if c.Attested {
		return true
	}
	id := storedAAGUID(c)
	if c.Kind != authn.KindWebAuthn || id == (uuid.UUID{}) || len(c.AttestationChain) == 0 || len(m[id].Roots) == 0 {
		return false
	}
	chain, err := x509.ParseCertificates(c.AttestationChain)
	if err != nil || len(chain) == 0 {
		return false
	}
	if v, ok := certAAGUID(chain[0]); !ok || v != id {
		return false
	}
	roots, err := m.Roots(id)
	if err != nil {
		return false
	}
	reason, _ := verifyChain(KeyInfo{Format: c.AttestationFmt, Chain: chain}, roots, c.CreatedAt)
	return reason == ""
}
