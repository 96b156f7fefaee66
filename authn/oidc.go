package authn

import (
	"context"
	"time"
)

// OIDCSigningKey is a key Keyhall processes sign ID tokens, logout tokens
// and audit checkpoints with (ES256). One at a time is active (RetiredAt
// zero): every process signs with it. Its private part is sealed (Seal)
// under the installation's encryption key, with the key's ID as additional
// data, so a copy of the database holds no usable signing key.
type OIDCSigningKey struct {
	ID            string // the JWK "kid"
	Algorithm     string // "ES256"
	PublicKey     []byte // PKIX, DER
	PrivateSealed []byte // SEC 1 EC private key, DER, sealed
	CreatedAt     time.Time
	ActivatedAt   time.Time // became the signing key
	RetiredAt     time.Time // stopped signing; zero while it is the signing key
}

// OIDCKeyStore keeps the signing keys across rotations: the active one and
// every retired one (never deleted: audit checkpoints they signed must
// still verify).
type OIDCKeyStore interface {
	// ActiveOIDCSigningKeyID returns the active key's ID, cheaply: each
	// process polls it to notice a rotation. ErrNotFound if there is none.
	ActiveOIDCSigningKeyID(ctx context.Context) (string, error)
	// OIDCSigningKey returns the active key; ErrNotFound if there is none.
	OIDCSigningKey(ctx context.Context) (OIDCSigningKey, error)
	// OIDCSigningKeys returns every key, the most recently activated first.
	OIDCSigningKeys(ctx context.Context) ([]OIDCSigningKey, error)
	// RotateOIDCSigningKey makes k the active key from k.ActivatedAt and
	// retires the active one at the same time, with ev in the audit log,
	// in one transaction. It returns the key it retired (the zero key if
	// there was none).
	RotateOIDCSigningKey(ctx context.Context, k OIDCSigningKey, ev AuditEvent) (OIDCSigningKey, error)
}

// OIDCAuthRequest is an OpenID Connect authorization request (OIDC Core
// §3.1.2.1) from the moment a tool sends the browser to Keyhall until its
// code is redeemed. Only the hashes of the browser binding and the code are
// stored.
type OIDCAuthRequest struct {
	ID                  string // random (NewID); it travels in URLs, so it is no secret
	ClientID            string
	RedirectURI         string
	Scopes              []string
	State               string
	Nonce               string
	ResponseMode        string
	CodeChallenge       string // RFC 7636 §4.2, always S256
	CodeChallengeMethod string
	Prompt              []string
	MaxAge              time.Duration // -1: none asked for
	ACRValues           []string
	LoginHint           string
	// HintSubject is the subject of the request's id_token_hint, "" for
	// none: with prompt=none, only that person may be answered.
	HintSubject string
	// Binding is the SHA-256 of the random value in the browser cookie set
	// when the request began: only that browser may complete it.
	Binding   [32]byte
	CreatedAt time.Time
	ExpiresAt time.Time // the person has until then to sign in

	// Set once by CompleteOIDCAuthRequest.
	UserID   string
	AMR      []string
	ACR      string
	AuthTime time.Time
	Session  SessionHash // the session that signed in (back-channel logout)
	DoneAt   time.Time   // zero while the person has not signed in

	// Set by SetOIDCCode and RedeemOIDCCode.
	CodeHash      TokenHash
	CodeExpiresAt time.Time
	CodeUsedAt    time.Time
}

// Done reports whether the person signed in for the request.
func (r OIDCAuthRequest) Done() bool { return !r.DoneAt.IsZero() }

// OIDCSignIn is how a person signed in for an authorization request.
type OIDCSignIn struct {
	UserID   string
	AMR      []string
	ACR      string
	AuthTime time.Time
	Session  SessionHash
}

// OIDCTokenKind tells an access token from a refresh token.
type OIDCTokenKind string

const (
	OIDCAccessToken  OIDCTokenKind = "access"
	OIDCRefreshToken OIDCTokenKind = "refresh"
)

// OIDCToken is an access or refresh token Keyhall issued. Tokens issued
// from one authorization code, and from refreshing them, share a GrantID:
// the family that is revoked together when a code or a refresh token is
// replayed (RFC 9700 §2.2.2, §4.14.2).
type OIDCToken struct {
	ID        string // random (NewID)
	Kind      OIDCTokenKind
	Hash      TokenHash // refresh tokens: SHA-256 of the token; zero for access tokens
	GrantID   string    // the authorization request the family began with
	ClientID  string
	UserID    string
	Session   SessionHash
	Scopes    []string
	AMR       []string
	ACR       string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // refresh tokens: when it was exchanged (rotated)
	RevokedAt time.Time
}

// Usable reports whether the token may be honoured at now.
func (t OIDCToken) Usable(now time.Time) bool {
	return t.RevokedAt.IsZero() && t.UsedAt.IsZero() && now.Before(t.ExpiresAt)
}

// OIDCGrantRef names a client that holds tokens for a person's session:
// whom to tell, by back-channel logout, that the session ended.
type OIDCGrantRef struct {
	ClientID string
	UserID   string
	Session  SessionHash
}

// OIDCStore keeps the state of the OpenID Connect provider. It is composed
// into Store; a Store that implements it is asserted to it.
type OIDCStore interface {
	// EnsureOIDCSigningKey stores k as the active key if there is none and returns
	// the stored key: k, or the one another process stored first. Of many
	// concurrent calls, also from several processes, all return the same key.
	EnsureOIDCSigningKey(ctx context.Context, k OIDCSigningKey) (OIDCSigningKey, error)
	OIDCKeyStore

	// CreateOIDCAuthRequest stores r. ErrAlreadyExists if its ID is taken.
	CreateOIDCAuthRequest(ctx context.Context, r OIDCAuthRequest) error
	// GetOIDCAuthRequest returns the request, whatever its state.
	GetOIDCAuthRequest(ctx context.Context, id string) (OIDCAuthRequest, error)
	// CompleteOIDCAuthRequest records the sign-in, exactly once: ErrUsed if
	// the request was completed before, ErrExpired if now is not before its
	// ExpiresAt, ErrNotFound if there is none.
	CompleteOIDCAuthRequest(ctx context.Context, id string, in OIDCSignIn, now time.Time) error
	// SetOIDCCode attaches the hash of the authorization code to a completed
	// request, exactly once: ErrUsed if it has a code already, ErrNotFound if
	// there is no completed request with that ID.
	SetOIDCCode(ctx context.Context, id string, h TokenHash, expires time.Time) error
	// GetOIDCAuthRequestByCode returns the request whose code has hash h,
	// whatever its state, and the person who signed in for it, read
	// together (the zero User if the request is not completed or the person
	// is gone); ErrNotFound if there is no such request.
	GetOIDCAuthRequestByCode(ctx context.Context, h TokenHash) (OIDCAuthRequest, User, error)
	// RedeemOIDCCode marks the code used and stores tokens (those issued
	// from it), in one transaction, exactly once under concurrency. A code
	// used before gets ErrUsed, tokens are not stored, and every token
	// issued from the code is revoked, committed (RFC 6749 §4.1.2).
	// ErrExpired if now is not before the code's expiry (the code is used
	// up, no token stored), ErrNotFound if no request has that code.
	RedeemOIDCCode(ctx context.Context, h TokenHash, now time.Time, tokens ...OIDCToken) error

	// CreateOIDCTokens stores tokens in one transaction.
	CreateOIDCTokens(ctx context.Context, tokens ...OIDCToken) error
	// GetOIDCToken returns a token by ID, whatever its state.
	GetOIDCToken(ctx context.Context, id string) (OIDCToken, error)
	// GetOIDCRefreshToken returns a refresh token by hash, whatever its state.
	GetOIDCRefreshToken(ctx context.Context, h TokenHash) (OIDCToken, error)
	// RotateOIDCRefreshToken marks the refresh token with hash old used and
	// stores next, in one transaction, exactly once under concurrency. A
	// token used before gets ErrUsed, and its whole family (GrantID) is
	// revoked, committed (RFC 9700 §4.14.2). A revoked one gets ErrNotFound,
	// an expired one ErrExpired; nothing is stored then.
	RotateOIDCRefreshToken(ctx context.Context, old TokenHash, now time.Time, next ...OIDCToken) error
	// RevokeOIDCToken revokes one token (and, for a refresh token, its whole
	// family). ErrNotFound if there is none.
	RevokeOIDCToken(ctx context.Context, id string, at time.Time) error
	// RevokeOIDCGrant revokes every token of a family and returns how many.
	RevokeOIDCGrant(ctx context.Context, grantID string, at time.Time) (int, error)
	// RevokeOIDCSessionTokens revokes the tokens issued through a session
	// and returns the clients that hold (or held) tokens for it. Its codes
	// not yet redeemed are used up in the same transaction: redeeming one
	// later gets ErrUsed, so no token of the session outlives its end.
	RevokeOIDCSessionTokens(ctx context.Context, h SessionHash, at time.Time) ([]OIDCGrantRef, error)
	// RevokeOIDCUserTokens revokes every token of a person and returns the
	// clients and sessions concerned.
	RevokeOIDCUserTokens(ctx context.Context, userID string, at time.Time) ([]OIDCGrantRef, error)
	// DeleteOIDCBefore removes authorization requests and tokens that
	// expired before t, and returns how many.
	DeleteOIDCBefore(ctx context.Context, t time.Time) (int, error)
}
