package authn

import (
	"crypto/sha256"
	"time"
)

// Level is how strongly a person proved who she is: the OpenID Enhanced
// Authentication Profile's ACR values "phr" and "phrh", plus "mfa".
type Level string

const (
	LevelNone Level = ""     // no requirement
	LevelMFA  Level = "mfa"  // two factors, not phishing-resistant (app code or recovery code + password)
	LevelPhr  Level = "phr"  // a phishing-resistant key (synced passkeys included)
	LevelPhrh Level = "phrh" // a phishing-resistant hardware key (backup-eligible flag clear)
)

// rank orders the levels; an unknown level ranks above all, so that a
// misspelt requirement is met by nothing rather than by everything.
func (l Level) rank() int {
	switch l {
	case LevelNone:
		return 0
	case LevelMFA:
		return 1
	case LevelPhr:
		return 2
	case LevelPhrh:
		return 3
	}
	return 4
}

// Meets reports whether l satisfies required: phrh ⊇ phr ⊇ mfa ⊇ none.
func (l Level) Meets(required Level) bool {
	return l.rank() <= LevelPhrh.rank() && l.rank() >= required.rank()
}

// Valid reports whether l is one of the known levels.
func (l Level) Valid() bool { return l.rank() <= LevelPhrh.rank() }

// CredentialKind tells a security key from an authenticator app.
type CredentialKind string

const (
	KindWebAuthn CredentialKind = "webauthn"
	KindTOTP     CredentialKind = "totp"
)

// MaxWebAuthnIDLength is the longest credential id WebAuthn allows
// (WebAuthn L3 §7.1 step 25).
const MaxWebAuthnIDLength = 1023

// Credential is a security key / passkey or an authenticator app of one
// person.
//
// For a security key, the WebAuthn user handle the key was registered with
// is []byte(User.ID).
type Credential struct {
	ID                    string // NewID
	UserID                string
	Kind                  CredentialKind
	Nickname              string
	CreatedAt, LastUsedAt time.Time

	// WebAuthn
	WebAuthnID     []byte // credential id, unique across Keyhall, ≤ MaxWebAuthnIDLength bytes
	PublicKey      []byte // COSE key
	SignCount      uint32
	AAGUID         []byte // 16 bytes
	Transports     []string
	BackupEligible bool // BE flag at registration: a synced passkey
	AttestationFmt string
	Cloned         bool // a sign count went backwards: refused until IT looks

	// TOTP
	// SecretSealed is the raw TOTP secret (the bytes behind the base32
	// string an app is given), sealed with Seal under the encryption key
	// with []byte(ID) as additional data.
	SecretSealed []byte
	LastStep     int64 // last accepted RFC 6238 time step
}

// PendingHash is the SHA-256 of a pending sign-in's id.
type PendingHash [32]byte

// HashPendingID returns the hash under which a pending sign-in's use is
// marked.
func HashPendingID(id []byte) PendingHash { return sha256.Sum256(id) }

// Pending is a sign-in in progress. It travels sealed as its id in the
// browser's cookie (__Host-keyhall-login; see pendingtoken.go); the store
// marks the SHA-256 of the id when a step uses it.
type Pending struct {
	Hash     PendingHash
	UserID   string   // "" when the username is unknown (the flow still looks the same)
	Username string   // canonical, as typed (also for an unknown one: fake credential ids are derived from it)
	AMR      []string // factors done so far
	Ceremony []byte   // go-webauthn SessionData (JSON) while a key ceremony is open, else nil
	Next     Step
	// RecoveryOnly: the possession factor was a recovery code, so the
	// session will be RecoveryOnly.
	RecoveryOnly bool
	ReturnTo     string // where to go after sign-in: a path on public_url, validated by web
	CreatedAt    time.Time
	ExpiresAt    time.Time // 5 minutes after the step began
}

// Step is what a pending sign-in waits for.
type Step string

const (
	StepKey      Step = "key"      // touch the security key
	StepTOTP     Step = "totp"     // code from the authenticator app
	StepRecovery Step = "recovery" // a recovery code
	StepPassword Step = "password" // after a possession factor, when the key did not verify the person
	StepDone     Step = "done"
)
