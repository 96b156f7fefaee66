package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/keyhall/keyhall/authn"
)

// signingKey is the provider's ES256 key, as op.SigningKey and op.Key.
type signingKey struct {
	id     string
	priv   *ecdsa.PrivateKey
	header string // of the ID tokens (signJWT): ES256, kid and typ JWT, base64url
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (k *signingKey) Algorithm() jose.SignatureAlgorithm          { return jose.ES256 }
func (k *signingKey) Key() any                                    { return k.priv }
func (k *signingKey) ID() string                                  { return k.id }
func (k *signingKey) Use() string                                 { return "sig" }

// publicKey is the key as published in the JWKS.
type publicKey struct{ *signingKey }

func (k publicKey) Key() any { return &k.priv.PublicKey }

var (
	_ op.SigningKey = (*signingKey)(nil)
	_ op.Key        = publicKey{}
)

// keyAAD binds a sealed signing key to its ID, so rows cannot be swapped.
func keyAAD(id string) []byte { return []byte("keyhall oidc signing key " + id) }

// signingKey returns the signing key: the one in the store, created there
// (in one statement that every process races for) if there is none yet.
// It is read once per process.
func (p *oidcProvider) signingKey(ctx context.Context) (*signingKey, error) {
	p.keyMu.Lock()
	defer p.keyMu.Unlock()
	if p.key != nil {
		return p.key, nil
	}
	_, o := p.store()
	if o == nil {
		return nil, storageFailure{errNoStore}
	}
	priv, id, err := InstallationKey(ctx, o, p.cfg.EncryptionKey, p.srv.now())
	if err != nil {
		return nil, err
	}
	header, err := jwsHeader(id)
	if err != nil {
		return nil, fmt.Errorf("header for signing key %s: %w", id, err)
	}
	p.key = &signingKey{id: id, priv: priv, header: header}
	return p.key, nil
}

// InstallationKey returns the installation's ES256 key and its id: the
// provider's signing key (its kid in the JWKS), sealed in the store under
// encKey, created there (in one statement that every process races for)
// if there is none yet. The audit log's checkpoints are signed with it.
func InstallationKey(ctx context.Context, o authn.OIDCStore, encKey [32]byte, now time.Time) (*ecdsa.PrivateKey, string, error) {
	fresh, err := newSealedKey(encKey, now)
	if err != nil {
		return nil, "", err
	}
	stored, err := o.EnsureOIDCSigningKey(ctx, fresh)
	if err != nil {
		return nil, "", fmt.Errorf("load signing key: %w", storageFailure{err})
	}
	return OpenInstallationKey(stored, encKey)
}

// OpenInstallationKey opens a stored installation key with encKey: the
// seal proves that it is the key this installation made, not one put into
// the database.
func OpenInstallationKey(stored authn.OIDCSigningKey, encKey [32]byte) (*ecdsa.PrivateKey, string, error) {
	der, err := authn.Open(encKey, stored.PrivateSealed, keyAAD(stored.ID))
	if err != nil {
		return nil, "", fmt.Errorf("open signing key %s (is keys.encryption_key the one it was sealed with?): %w", stored.ID, err)
	}
	priv, err := x509.ParseECPrivateKey(der)
	if err != nil {
		return nil, "", fmt.Errorf("parse signing key %s: %w", stored.ID, err)
	}
	if priv.Curve != elliptic.P256() { // ES256 (signJWT) is P-256 only
		return nil, "", fmt.Errorf("signing key %s is on %s, not P-256", stored.ID, priv.Curve.Params().Name)
	}
	return priv, stored.ID, nil
}

// newSealedKey makes a new P-256 key with its private part sealed.
func newSealedKey(encKey [32]byte, now time.Time) (authn.OIDCSigningKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return authn.OIDCSigningKey{}, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		return authn.OIDCSigningKey{}, fmt.Errorf("encode signing key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return authn.OIDCSigningKey{}, fmt.Errorf("encode public key: %w", err)
	}
	k := authn.OIDCSigningKey{ID: authn.NewID(), Algorithm: string(jose.ES256), PublicKey: pub, CreatedAt: now}
	if k.PrivateSealed, err = authn.Seal(encKey, der, keyAAD(k.ID)); err != nil {
		return authn.OIDCSigningKey{}, fmt.Errorf("seal signing key: %w", err)
	}
	return k, nil
}
