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
