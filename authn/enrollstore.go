package authn

import (
	"context"
	"strings"
	"time"
)

// EnrollScope is the set of things an enrollment may add (the bits below).
// The zero scope adds nothing.
type EnrollScope uint8

// What an enrollment may add.
const (
	ScopeKey           EnrollScope = 1 << iota // a security key or passkey
	ScopeApp                                   // an authenticator app
	ScopeRecoveryCodes                         // a new set of recovery codes, replacing the old
	// ScopeAll is an invitation's: everything.
	ScopeAll = ScopeKey | ScopeApp | ScopeRecoveryCodes
)

// Has reports whether s includes every part of want.
func (s EnrollScope) Has(want EnrollScope) bool { return want != 0 && s&want == want }

// String names the parts of s, e.g. "key+app".
func (s EnrollScope) String() string {
	var parts []string
	for _, p := range []struct {
		bit  EnrollScope
		name string
	}{{ScopeKey, "key"}, {ScopeApp, "app"}, {ScopeRecoveryCodes, "recovery-codes"}} {
		if s&p.bit != 0 {
			parts = append(parts, p.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "+")
}

// EnrollPending is an enrollment in progress: a person who redeemed an
// invitation (or, signed in, adds a factor) and is registering factors. Its
// random 256-bit id lives only in the browser's cookie and the store keeps
// the SHA-256; every step takes it (single use) and puts a new one with a
// new id.
type EnrollPending struct {
	Hash   PendingHash
	UserID string
	// InvitationID is the invitation redeemed, until the first factor
	// consumed it; "" afterwards (or for a signed-in person).
	InvitationID string
	// Scope is what the enrollment may add: ScopeAll for an invitation;
	// for a self-service one what the session that opened it may add.
	Scope EnrollScope
	// Session is the hash of the session a self-service enrollment belongs
	// to: it ends with that session. Zero for an invitation.
	Session SessionHash
	// EndsAt is the absolute end of a self-service enrollment, or of an
	// invitation's once its first factor used the invitation up, which no
	// step renews (ExpiresAt never passes it). Zero for an invitation not
	// used yet (its own expiry bounds it).
	EndsAt time.Time
	// Ceremony is the go-webauthn SessionData (JSON) while a key
	// registration is open, else nil.
	Ceremony []byte
	// TOTPSealed is the secret of an app being set up, sealed with Seal
	// under the encryption key (additional data: "enroll-totp:" + UserID),
	// until a correct code confirms it; else nil.
	TOTPSealed []byte
	// CodesSealed are new recovery codes shown but not yet confirmed as
	// kept, sealed like TOTPSealed (additional data: "enroll-codes:" +
	// UserID), so that they can be shown again. A person's first codes are
	// stored already when shown (marked so inside the seal); codes that
	// replace others wait here, and her old codes stay valid, until she
	// confirms. Else nil.
	CodesSealed []byte
	Factors     int // factors stored during this enrollment
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// ResetReport tells what Reset took from the person: keys and apps
// suspended, recovery codes removed, sessions ended.
type ResetReport struct {
	Keys          int
	Apps          int
	RecoveryCodes int
	Sessions      int
	CredentialIDs []string // the Credential.ID of each key and app suspended
	// FreezeLink is the "this was not me" link for the notice of the reset
	// (set by enroll, not by the store).
	FreezeLink string
}

// Keep says what a person removing one of her own factors must keep
// besides another key or app.
type Keep struct {
	// Key: another security key, because her policy does not admit an app
	// as the only factor.
	Key bool
}

// EnrollStore keeps what enrollment needs beyond Store: the short code of an
// invitation, enrollments in progress, and the writes that must happen in
// one transaction with another (consuming an invitation and storing the
// first factor; an IT reset).
type EnrollStore interface {
	// CreateInvitationWithCode stores inv and the hash of its short code,
	// voids every open invitation of the same person and deletes her
	// enrollments in progress (as CreateInvitation), in one transaction
	// with ev. ErrAlreadyExists if the token hash is taken.
	CreateInvitationWithCode(ctx context.Context, inv Invitation, codeHash TokenHash, ev AuditEvent) error
	// OpenInvitation returns a person's newest invitation that is neither
	// used nor voided (expired or not) and the hash of its code (zero for an
	// invitation without a code, such as the bootstrap one). ErrNotFound if
	// there is none.
	OpenInvitation(ctx context.Context, userID string) (Invitation, TokenHash, error)

	// PutEnrollPending stores p. ErrAlreadyExists if its hash is taken.
	PutEnrollPending(ctx context.Context, p EnrollPending) error
	// TakeEnrollPending deletes and returns the enrollment, exactly once
	// under concurrency: ErrNotFound if none (or already taken), ErrExpired
	// if now is not before ExpiresAt (it is deleted too, and returned, so
	// that the refusal can tell how it ended).
	TakeEnrollPending(ctx context.Context, h PendingHash, now time.Time) (EnrollPending, error)

	// CompleteEnrollStep stores what a step of an enrollment adds together
	// with the enrollment's next step, in one transaction: both or
	// neither; of concurrent steps on one invitation at most one succeeds.
	// ErrUsed if the invitation was used or voided, ErrExpired if At is not
	// before its expiry, ErrNotFound if there is none (or it is another
	// person's) or the person does not exist, ErrAlreadyExists if the
	// credential's ID or WebAuthnID or st.Next's hash is taken.
	CompleteEnrollStep(ctx context.Context, st EnrollStep) error
	// DeleteCredential removes one credential of a person with ev, and
	// ends her enrollments in progress, in one transaction. ErrNotFound if
	// the person has no credential with that ID.
	DeleteCredential(ctx context.Context, userID, credentialID string, ev AuditEvent) error
	// RemoveCredential removes one key or app of a person, with ev, only if
	// she keeps another key or app afterwards (another key when keep.Key):
	// checked and deleted in one transaction that holds the person's row, so
	// of two concurrent removals of her last two factors one fails. It
	// returns the credential removed; ErrNotFound if the person has no
	// credential with that ID, ErrLastFactor if it must stay. IT's revocation
	// of a lost key, which may take the last one, is DeleteCredential.
	RemoveCredential(ctx context.Context, userID, credentialID string, keep Keep, ev AuditEvent) (Credential, error)
	// ResetUser suspends every key and app of a person (FreezeStore: no
	// sign-in sees them, and they are deleted when she stores a new one),
	// removes her recovery codes, revokes her sessions at at, and stores inv with codeHash (voiding her
	// open invitations), in one transaction with ev, to whose Details it
	// adds what was revoked. ErrNotFound if the person does not exist.
	ResetUser(ctx context.Context, userID string, at time.Time, inv Invitation, codeHash TokenHash, ev AuditEvent) (ResetReport, error)
}

// EnrollStep is what a step of an enrollment stores (CompleteEnrollStep):
// a key or app, or new recovery codes, with its audit event, and the
// enrollment under the id of its next step. A person never has her factor
// stored without the step that leads her on.
type EnrollStep struct {
	UserID string
	// InvitationID, when not "", is marked used at At with Credential (the
	// first factor of an invitation).
	InvitationID string
	At           time.Time
	Credential   *Credential // nil: none; else its UserID is UserID
	// RecoveryCodes, when not nil, replace every recovery code of the
	// person (as ReplaceRecoveryCodes).
	RecoveryCodes []TokenHash
	Event         AuditEvent
	Next          EnrollPending // its UserID is UserID
}
