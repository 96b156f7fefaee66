package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
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

// publicKey is a key as published in the JWKS: the signing key, or a
// retired one whose tokens may still be valid.
type publicKey struct {
	id  string
	pub *ecdsa.PublicKey
}

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) ID() string                         { return k.id }
func (k publicKey) Key() any                           { return k.pub }

var (
	_ op.SigningKey = (*signingKey)(nil)
	_ op.Key        = publicKey{}
)

// keyAAD binds a sealed signing key to its ID, so rows cannot be swapped.
func keyAAD(id string) []byte { return []byte("keyhall oidc signing key " + id) }

// SigningKeyAD is the additional data the signing key id is sealed with,
// for re-sealing it under a new encryption key.
func SigningKeyAD(id string) []byte { return keyAAD(id) }

// keyPoll is how often a process asks the store which key is active: after
// a rotation (keyhall admin keys rotate) every process signs with the new
// key within keyPoll and the time of one query: half a second, so that all
// switch within a second.
const keyPoll = time.Second / 2

// retiredKeyMargin is added to the longest token lifetime before a retired
// key leaves the JWKS: for clocks that differ, and for processes that signed
// with it until they noticed the rotation (keyPoll).
const retiredKeyMargin = time.Minute

// signingKey returns the active signing key: the one in the store, created
// there (in one statement that every process races for) if there is none
// yet. The key is kept; at most once per keyPoll the store is asked for the
// active key's ID (one indexed row), and a new key is read and opened when
// it changed. If that question fails, the kept key signs on: it is still
// published, so its tokens verify.
func (p *oidcProvider) signingKey(ctx context.Context) (*signingKey, error) {
	p.keyMu.Lock()
	defer p.keyMu.Unlock()
	if p.key != nil && time.Since(p.keyChecked) < keyPoll {
		return p.key, nil
	}
	_, o := p.store()
	if o == nil {
		return nil, storageFailure{errNoStore}
	}
	if p.key != nil {
		id, err := o.ActiveOIDCSigningKeyID(ctx)
		if err != nil && !errors.Is(err, authn.ErrNotFound) {
			p.srv.logger.Warn("oidc: cannot read which signing key is active; signing with the one it was", "kid", p.key.id, "err", err)
			p.keyChecked = time.Now()
			return p.key, nil
		}
		if err == nil && id == p.key.id {
			p.keyChecked = time.Now()
			return p.key, nil
		}
	}
	priv, id, err := InstallationKey(ctx, o, p.cfg.EncryptionKey, p.srv.now(), p.cfg.PreviousEncryptionKey)
	if err != nil {
		return nil, err
	}
	header, err := jwsHeader(id)
	if err != nil {
		return nil, fmt.Errorf("header for signing key %s: %w", id, err)
	}
	if p.key != nil {
		p.srv.logger.Info("oidc: signing with a new key", "kid", id, "before", p.key.id)
	}
	p.key, p.keyChecked = &signingKey{id: id, priv: priv, header: header}, time.Now()
	return p.key, nil
}

// publishedKeys returns the keys of the JWKS: the active one and each
// retired one whose tokens may still be valid at now (RetiredKeyGrace).
// The stored keys are read for each call, by a read that began after it
// (storedKeys: concurrent calls share reads), so that a key another process
// just made active is published here even before this process signs with
// it. While the store fails, the keys known serve on, so that a token
// Keyhall signed is still recognised during a database outage.
func (p *oidcProvider) publishedKeys(ctx context.Context) ([]op.Key, error) {
	keys, _, err := p.keysRetiredWithin(ctx, RetiredKeyGrace(p.cfg), true)
	return keys, err
}

// hintKeys returns the keys an id_token_hint (end_session, prompt=none) is
// verified with: the active one and each retired one that may have signed
// an ID token of a session still alive. A tool keeps a sign-in's ID token
// for its logout as long as the session lives (session.max_age), far longer
// than the JWKS publishes its key. A kid not among the keys read before the
// call is looked for once more in a read that began after it (made by
// another process just now?); that read is shared like the JWKS's, so a
// hint with a made-up kid costs no more than a JWKS request.
func (p *oidcProvider) hintKeys(ctx context.Context, kid string) ([]op.Key, error) {
	within := max(RetiredKeyGrace(p.cfg), p.srv.max+retiredKeyMargin)
	keys, readNow, err := p.keysRetiredWithin(ctx, within, false)
	if err != nil || readNow || slices.ContainsFunc(keys, func(k op.Key) bool { return k.ID() == kid }) {
		return keys, err
	}
	keys, _, err = p.keysRetiredWithin(ctx, within, true)
	return keys, err
}

// keysRetiredWithin returns the active key and each stored key retired less
// than within ago; fresh reads the stored keys now, else they are read at
// most once per keyPoll. readNow says that they were read by a read that
// began after the call.
func (p *oidcProvider) keysRetiredWithin(ctx context.Context, within time.Duration, fresh bool) ([]op.Key, bool, error) {
	active, err := p.signingKey(ctx) // made on first use, so it is published before it signs
	if err != nil {
		return nil, false, err
	}
	all, readNow, err := p.storedKeys(ctx, active.id, fresh)
	if err != nil {
		return nil, false, err
	}
	now := p.srv.now()
	keys := []op.Key{publicKey{id: active.id, pub: &active.priv.PublicKey}}
	for _, k := range all {
		if k.ID == active.id || (!k.RetiredAt.IsZero() && !now.Before(k.RetiredAt.Add(within))) {
			continue
		}
		pub, err := parsePublicKey(k)
		if err != nil {
			p.srv.logger.Error("oidc: a stored signing key is left out of the JWKS", "kid", k.ID, "err", err)
			continue
		}
		keys = append(keys, publicKey{id: k.ID, pub: pub})
	}
	return keys, readNow, nil
}

// hintKeySet verifies id_token_hints (zitadel/oidc's IDTokenHintVerifier)
// with hintKeys instead of the JWKS.
type hintKeySet struct{ p *oidcProvider }

func (h hintKeySet) VerifySignature(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	kid, alg := oidc.GetKeyIDAndAlg(jws)
	keys, err := h.p.hintKeys(ctx, kid)
	if err != nil {
		return nil, fmt.Errorf("error fetching keys: %w", err)
	}
	webKeys := make([]jose.JSONWebKey, len(keys))
	for i, k := range keys {
		webKeys[i] = jose.JSONWebKey{Key: k.Key(), KeyID: k.ID(), Algorithm: string(k.Algorithm()), Use: k.Use()}
	}
	key, err := oidc.FindMatchingKey(kid, oidc.KeyUseSignature, alg, webKeys...)
	if err != nil {
		return nil, fmt.Errorf("invalid signature: %w", err)
	}
	return jws.Verify(&key)
}

// storedKeys returns the stored keys: when fresh, those of a read that
// began after the call; else those last read if that was less than keyPoll
// ago and active is among them, and a new read's otherwise. readNow says
// that a read began after the call. No lock is held while the store is
// asked, so that a slow database holds up neither signing nor the other
// readers. The JWKS and hint checks need no sign-in, anyone can ask for
// them: the reads are coalesced (keyReads), so that however many ask at
// once, at most one read is in flight and one waits to begin.
func (p *oidcProvider) storedKeys(ctx context.Context, active string, fresh bool) (keys []authn.OIDCSigningKey, readNow bool, err error) {
	p.storedMu.Lock()
	cached, read := p.stored, p.storedRead
	p.storedMu.Unlock()
	known := slices.ContainsFunc(cached, func(k authn.OIDCSigningKey) bool { return k.ID == active })
	if !fresh && known && time.Since(read) < keyPoll {
		return cached, false, nil
	}
	if _, o := p.store(); o == nil {
		return nil, false, storageFailure{errNoStore}
	}
	rd := p.reads.join(ctx, p.readKeys)
	select {
	case <-rd.done:
	case <-ctx.Done():
		return nil, false, ctx.Err() // her request ended; the read goes on for the others
	}
	if rd.err != nil {
		// The active key is known (signingKey); retired ones are
		// published as last read, if they were (readKeys logged it).
		p.storedMu.Lock()
		cached = p.stored
		p.storedMu.Unlock()
		return cached, false, nil
	}
	return rd.keys, true, nil
}

// keyReadTimeout bounds one read of the stored keys. The read is shared,
// so it does not end with the request that began it.
const keyReadTimeout = 10 * time.Second

// readKeys reads the stored keys (keyReads runs it) and keeps them.
func (p *oidcProvider) readKeys(ctx context.Context) ([]authn.OIDCSigningKey, error) {
	_, o := p.store()
	if o == nil {
		return nil, storageFailure{errNoStore}
	}
	ctx, cancel := context.WithTimeout(ctx, keyReadTimeout)
	defer cancel()
	started := time.Now()
	all, err := o.OIDCSigningKeys(ctx)
	if err != nil {
		p.srv.logger.Warn("oidc: cannot read the signing keys; publishing those known", "err", err)
		return nil, err
	}
	for i := range all {
		all[i].PrivateSealed = nil // the JWKS needs the public parts only
	}
	p.storedMu.Lock()
	p.stored, p.storedRead = all, started
	p.storedMu.Unlock()
	return all, nil
}

// keyReads coalesces the reads of the stored keys: at most one read is in
// flight. A caller that joins while one is in flight waits for the next,
// which begins when that one ends and which every caller that joined in
// the meantime shares. So each caller gets a read that began after it
// joined (as fresh as one of its own), and any number of concurrent callers
// cost at most two reads.
type keyReads struct {
	mu      sync.Mutex
	running bool     // a goroutine runs reads (run)
	next    *keyRead // the read that begins next; nil when nobody waits for one
}

// keyRead is one read of the stored keys; done is closed when it ended.
type keyRead struct {
	done chan struct{}
	keys []authn.OIDCSigningKey
	err  error
}

// join returns the next read, which begins after join was called, and
// starts running the reads with read if they are not running. The reads
// run in a context of their own (the values of ctx, not its end): they are
// shared, and a caller whose request ends stops waiting (storedKeys), not
// the read of the others.
func (r *keyReads) join(ctx context.Context, read func(context.Context) ([]authn.OIDCSigningKey, error)) *keyRead {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.next == nil {
		r.next = &keyRead{done: make(chan struct{})}
	}
	rd := r.next
	if !r.running {
		r.running = true
		go r.run(context.WithoutCancel(ctx), read)
	}
	return rd
}

// run does the reads that callers wait for, one after the other, until
// none waits.
func (r *keyReads) run(ctx context.Context, read func(context.Context) ([]authn.OIDCSigningKey, error)) {
	for {
		r.mu.Lock()
		rd := r.next
		r.next = nil
		if rd == nil {
			r.running = false
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		rd.keys, rd.err = read(ctx)
		close(rd.done)
	}
}

// RetiredKeyGrace is how long a retired signing key stays in the JWKS after
// it stopped signing: the longest lifetime of anything signed with it (ID
// tokens, access tokens, logout tokens, of any client), and a margin.
func RetiredKeyGrace(cfg OIDCConfig) time.Duration {
	longest := logoutTokenLifetime
	for i := range cfg.Clients {
		c := oidcClient{c: cfg.Clients[i]}
		longest = max(longest, c.IDTokenLifetime(), c.accessLifetime())
	}
	return longest + retiredKeyMargin
}

// parsePublicKey reads a stored key's public part (P-256, PKIX).
func parsePublicKey(k authn.OIDCSigningKey) (*ecdsa.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(k.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("parse public key %s: %w", k.ID, err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("public key %s is not a P-256 key", k.ID)
	}
	return ec, nil
}

// StoredPublicKey returns the public key of the stored key with the given
// id, active or retired, without opening its private part: audit
// checkpoints it signed verify with it.
func StoredPublicKey(ctx context.Context, o authn.OIDCKeyStore, id string) (*ecdsa.PublicKey, error) {
	all, err := o.OIDCSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range all {
		if k.ID == id {
			return parsePublicKey(k)
		}
	}
	return nil, fmt.Errorf("key %s: %w", id, authn.ErrNotFound)
}

// NewSigningKey makes a new signing key, sealed under encKey, to be stored
// as the active one from now (keyhall admin keys rotate).
func NewSigningKey(encKey [32]byte, now time.Time) (authn.OIDCSigningKey, error) {
	k, err := newSealedKey(encKey, now)
	k.ActivatedAt = k.CreatedAt
	return k, err
}

// InstallationKey returns the installation's ES256 key and its id: the
// provider's signing key (its kid in the JWKS), sealed in the store under
// encKey, created there (in one statement that every process races for)
// if there is none yet. The audit log's checkpoints are signed with it.
// During a rotation of the encryption key, previous opens a key sealed
// under the key encKey replaced.
func InstallationKey(ctx context.Context, o authn.OIDCStore, encKey [32]byte, now time.Time, previous ...[32]byte) (*ecdsa.PrivateKey, string, error) {
	fresh, err := newSealedKey(encKey, now)
	if err != nil {
		return nil, "", err
	}
	stored, err := o.EnsureOIDCSigningKey(ctx, fresh)
	if err != nil {
		return nil, "", fmt.Errorf("load signing key: %w", storageFailure{err})
	}
	return OpenInstallationKey(stored, encKey, previous...)
}

// OpenInstallationKey opens a stored installation key with encKey: the
// seal proves that it is the key this installation made, not one put into
// the database.
func OpenInstallationKey(stored authn.OIDCSigningKey, encKey [32]byte, previous ...[32]byte) (*ecdsa.PrivateKey, string, error) {
	der, err := authn.Open(encKey, stored.PrivateSealed, keyAAD(stored.ID))
	for _, p := range previous {
		if err != nil && p != ([32]byte{}) {
			der, err = authn.Open(p, stored.PrivateSealed, keyAAD(stored.ID))
		}
	}
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
