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
	LevelPhr  Level = "phr"  // a phishing-resistant key (synced passkeys and unattested keys included)
	LevelPhrh Level = "phrh" // a hardware key: attested at registration by a trusted root, backup-eligible flag clear
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
	// KindRecoveryCode is not a stored credential's kind: it marks a
	// FactorStep that uses up a recovery code.
	KindRecoveryCode CredentialKind = "recovery_code"
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
	// Attested: at registration, the key's attestation statement verified
	// and its certificate chain ended in a trusted root (a group's roots or
	// Yubico's shipped ones; WebAuthn L3 §7.1 steps 21–24). Only then is it
	// known to be hardware of a known maker (amr "hwk"); a key's own flags
	// cannot show that, since the authenticator sets them itself.
	Attested bool
	// AttestationChain is the attestation certificate chain the key sent
	// at registration (attStmt x5c), DER certificates one after the other,
	// leaf first (x509.ParseCertificates reads it); nil for "none" and self
	// attestation. A group's roots are checked against it at sign-in.
	AttestationChain []byte
	Cloned           bool // a sign count went backwards: refused until IT looks

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
	// RecoveryCode, with RecoveryOnly, is the hash of the recovery code
	// given: it is used up only in the write that completes the sign-in.
	RecoveryCode TokenHash
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

// keyFactor is the RFC 8176 method of a security key: "swk" for a synced
// passkey (BE set, WebAuthn L3 §6.1.3: the secret may leave the device);
// "hwk" for a key with BE clear whose attestation a trusted root vouched
// for at registration; "pop" (proof of possession, hardware or software
// unknown) for any other key. The BE flag alone proves no hardware: the
// authenticator sets it itself, and a software one may leave it clear.
func keyFactor(c Credential) string {
	switch {
	case c.BackupEligible:
		return "swk"
	case c.Attested:
		return "hwk"
	}
	return "pop"
}

// KeyLevel is the level a sign-in with the key c alone reaches: the level
// sign-in gives its RFC 8176 method (keyFactor). Whatever
// counts as a hardware key there counts here.
func KeyLevel(c Credential) Level {
	_, l := amrACR([]string{keyFactor(c)})
	return l
}

// KeyPolicy applies the groups' key policies to a stored security key at
// sign-in, so that a group's policy holds for every use of a key, not only
// at its registration: a key registered before its owner joined a group
// must meet that group's policy too. enroll.Policy implements it.
type KeyPolicy interface {
	// CheckStoredKey returns why the key c does not meet the key policy of
	// groups (the owner's group names), or nil.
	CheckStoredKey(groups []string, c Credential) error
}
