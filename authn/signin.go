package authn

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
)

// PendingLifetime is how long a step of a sign-in may take.
const PendingLifetime = 5 * time.Minute

// DefaultSessionMax is the absolute session lifetime when none is configured.
const DefaultSessionMax = 12 * time.Hour

// ClientInfo describes the browser a step comes from, for throttling per
// address and for the session record.
type ClientInfo struct {
	Addr, UserAgent string
	// Device is the browser's device cookie, opened (DeviceMark); zero
	// without one.
	Device DeviceMark
}

// SignInConfig configures NewSignIn.
type SignInConfig struct {
	Store         Store
	RPID          string           // host of public_url
	RPOrigin      string           // scheme://host[:port] of public_url
	RPName        string           // "Keyhall"
	Directory     PasswordVerifier // for people with Source==SourceDirectory; nil = none configured
	Argon2        Argon2Params     // for local passwords; zero = defaults (m=19456 KiB, t=2, p=1: OWASP)
	MaxHashing    int              // concurrent argon2id hashes; 0 = 2*GOMAXPROCS
	EncryptionKey [32]byte         // seals TOTP secrets
	// PreviousEncryptionKey is the key EncryptionKey replaced, during a
	// rotation (zero: none): it still opens TOTP secrets sealed under it.
	PreviousEncryptionKey [32]byte
	FakeIDKey             []byte // HMAC key for fake credential ids of unknown usernames
	Policy                Policy
	SessionMax            time.Duration // absolute session lifetime; 0 = 12h
	Logger                *slog.Logger
	Now                   func() time.Time
	// KeyPolicy checks a key against its owner's groups' key policies at
	// every sign-in; nil admits every key the level admits.
	KeyPolicy KeyPolicy
	// DirectoryStatus checks live that a directory person is still enabled
	// when she signs in with her key and PIN, which asks the directory
	// nothing else; nil = no such check (the last sync's state counts).
	DirectoryStatus AccountChecker
	// PasswordLimit is how many passwords an account may try per
	// PasswordWindow before the password step is throttled; 0 = 10 per
	// 15 minutes. For directory people set it below the directory's lockout
	// threshold, and the window to at least its observation window, so that
	// Keyhall never locks anybody out of her Windows account.
	PasswordLimit  int
	PasswordWindow time.Duration
	// ToolOf names the tool a sign-in is for, from the address it returns
	// to (an OIDC client's id, a forward-auth host), recorded with the
	// sign-in as Details["tool"]; "" or a nil ToolOf: Keyhall itself.
	ToolOf func(ctx context.Context, returnTo string) string
}

// Policy is the sign-in policy per group.
type Policy struct {
	Groups map[string]GroupPolicy // by canonical group name
}

// GroupPolicy is what a group asks of its members' sign-ins. A person in
// several groups gets the strictest of each.
type GroupPolicy struct {
	Level            Level // the lowest level a member may sign in with
	UserVerification bool  // the key must verify the person (PIN/biometric)
	AllowTOTP        bool  // may use an app at all; default true when no policy
	// NoPassword: the group's members have no password (citizens who
	// registered themselves, issue #15): an app code or a recovery code
	// signs them in alone, at no level (amr "otp"), and a key must verify
	// the person. Only when every group of hers with a policy says so.
	NoPassword bool
}

// PasswordVerifier checks a directory person's password (LDAP bind).
// It returns ErrWrongPassword when the password is wrong.
type PasswordVerifier interface {
	VerifyPassword(ctx context.Context, u User, password string) error
}

// AccountChecker checks live that a directory person may still sign in:
// nil, or ErrAccountDisabled, ErrAccountExpired, ErrAccountLocked,
// ErrDirectoryUnavailable (when the last known state is too old to rely on).
type AccountChecker interface {
	CheckAccount(ctx context.Context, u User) error
}

// SignIn runs the sign-in flow (see the package documentation). It is safe
// for concurrent use and keeps no state of its own: a pending sign-in
// travels sealed in its id (pendingtoken.go) and the Store knows which ids
// were used, so a sign-in may begin on one process and finish on another.
type SignIn struct {
	store     Store
	wa        *webauthn.WebAuthn
	hasher    *hasher
	directory PasswordVerifier
	dirStatus AccountChecker
	pwdRule   throttleRule // the shortest window of password tries
	sealKey   [32]byte
	prevKey   [32]byte // opens what the key before sealKey sealed
	// pendingAEAD seals pending sign-ins into their ids (pendingtoken.go).
	pendingAEAD cipher.AEAD
	// keyStats is how the keys are spread, for the fake ids of key
	// ceremonies (keySpread), and when it was read.
	keyStats struct {
		sync.Mutex
		lengths   spread    // of the keys' credential id lengths
		perPerson spread    // of the number of keys people with keys have
		next      time.Time // when to read it again
		reading   bool      // a read in the background is under way
	}
	fakeKey    []byte
	policy     Policy
	keyPolicy  KeyPolicy                                         // nil: none
	toolOf     func(ctx context.Context, returnTo string) string // nil: every sign-in is for Keyhall
	sessionMax time.Duration
	log        *slog.Logger
	now        func() time.Time
	dummyPHC   string // hashed with the configured parameters, checked when a person has no password
	// refusals counts the refusals' audit events still being written
	// (noteRefusal); refusalSlots bounds how many at once.
	refusals     sync.WaitGroup
	refusalSlots chan struct{}
}

// NewSignIn checks cfg and returns a SignIn.
func NewSignIn(cfg SignInConfig) (*SignIn, error) {
	var errs []error
	if cfg.Store == nil {
		errs = append(errs, errors.New("no store"))
	}
	if len(cfg.FakeIDKey) < 16 {
		errs = append(errs, errors.New("the fake credential id key must have at least 16 bytes"))
	}
	if cfg.EncryptionKey == [32]byte{} {
		errs = append(errs, errors.New("the encryption key is all zeros"))
	}
	if err := cfg.Argon2.Validate(); err != nil {
		errs = append(errs, err)
	}
	for name, gp := range cfg.Policy.Groups {
		if !gp.Level.Valid() {
			errs = append(errs, fmt.Errorf("group %s: unknown level %q (want mfa, phr or phrh)", name, gp.Level))
		}
	}
	rpName := cfg.RPName
	if rpName == "" {
		rpName = "Keyhall"
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          cfg.RPID,
		RPDisplayName: rpName,
		RPOrigins:     []string{cfg.RPOrigin},
		// The pending sign-in's ExpiresAt is the server-side limit.
		Timeouts: webauthn.TimeoutsConfig{Login: webauthn.TimeoutConfig{Timeout: PendingLifetime, TimeoutUVD: PendingLifetime}},
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("webauthn: %w", err))
	}
	pendingAEAD, err := newPendingAEAD(cfg.EncryptionKey)
	if err != nil {
		errs = append(errs, fmt.Errorf("pending sign-in key: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("configure sign-in: %w", err)
	}
	s := &SignIn{pendingAEAD: pendingAEAD, refusalSlots: make(chan struct{}, refusalWrites),
		store: cfg.Store, wa: wa, directory: cfg.Directory, dirStatus: cfg.DirectoryStatus, sealKey: cfg.EncryptionKey, prevKey: cfg.PreviousEncryptionKey,
		fakeKey: cfg.FakeIDKey, policy: cfg.Policy, keyPolicy: cfg.KeyPolicy, toolOf: cfg.ToolOf, sessionMax: cfg.SessionMax, log: cfg.Logger, now: cfg.Now,
	}
	n := cfg.MaxHashing
	if n <= 0 {
		n = 2 * runtime.GOMAXPROCS(0)
	}
	s.hasher = newHasher(n, cfg.Argon2)
	s.pwdRule = accountRules[0]
	if cfg.PasswordLimit > 0 {
		s.pwdRule.limit = cfg.PasswordLimit
	}
	if cfg.PasswordWindow > 0 {
		s.pwdRule.window = cfg.PasswordWindow
	}
	if s.sessionMax <= 0 {
		s.sessionMax = DefaultSessionMax
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.dummyPHC, err = HashPassword("keyhall dummy password", cfg.Argon2); err != nil {
		return nil, fmt.Errorf("configure sign-in: %w", err)
	}
	s.keyStats.lengths = defaultIDLengths
	s.refreshKeyStats()
	return s, nil
}

// Reason tells why a step failed, so that web can say what to do next.
type Reason string

const (
	ReasonExpired       Reason = "expired"        // pending missing/expired: start again
	ReasonWrongCode     Reason = "wrong_code"     // app or recovery code wrong
	ReasonCodeReused    Reason = "code_reused"    // the app code's time step was used before
	ReasonKeyRefused    Reason = "key_refused"    // unknown/foreign key, bad signature, replay, BE mismatch
	ReasonKeyCloned     Reason = "key_cloned"     // the key's sign count went backwards: it is flagged
	ReasonUVRequired    Reason = "uv_required"    // the key must verify the person (PIN/biometric)
	ReasonWrongPassword Reason = "wrong_password" // password wrong (or none can be checked)
	ReasonNoPassword    Reason = "no_password"    // a right factor needs a password after it, and she has none Keyhall can check
	ReasonThrottled     Reason = "throttled"      // too many tries: RetryAfter set
	ReasonPolicy        Reason = "policy"         // the person's group needs a stronger factor
	ReasonDisabled      Reason = "disabled"       // the account is disabled
	// ReasonFrozen: she froze her account with a "this was not me" link;
	// IT must look and lift it (StatusFrozen).
	ReasonFrozen Reason = "frozen"
	// ReasonKeyNotAdmitted: a right assertion, but the key does not meet
	// what her groups ask of a key (their level, or their key policy:
	// attestation, model, no synced passkey); IT must give her one that does.
	ReasonKeyNotAdmitted Reason = "key_not_admitted"
	// A directory person's account, as her directory reports it (the
	// disabled one is ReasonDisabled).
	ReasonDirectoryUnavailable Reason = "directory_unavailable" // the directory does not answer: try again later
	ReasonAccountExpired       Reason = "account_expired"
	ReasonPasswordMustChange   Reason = "password_must_change" // change it at a city computer first
	ReasonAccountLocked        Reason = "account_locked"       // too many wrong passwords in the directory
)

// SignInError is a refused step. Match it with errors.As. Err is the cause,
// for the log only: never show it to the person.
type SignInError struct {
	Reason     Reason
	RetryAfter time.Duration // with ReasonThrottled: the longest wait that may be needed
	Err        error
	// who is the person refused when the step found her itself (a
	// verified key); "" for the person the pending sign-in names.
	who string
	// quiet: not audited (a throttled try after the first of its window).
	quiet bool
}

func (e *SignInError) Error() string {
	if e.Err == nil {
		return "sign in: " + string(e.Reason)
	}
	return "sign in: " + string(e.Reason) + ": " + e.Err.Error()
}

func (e *SignInError) Unwrap() error { return e.Err }

// statusRefusal refuses a person who is not active: ReasonFrozen for a
// frozen account, ReasonDisabled otherwise; nil for an active one.
func statusRefusal(u User) *SignInError {
	switch u.Status {
	case StatusActive:
		return nil
	case StatusFrozen:
		return refuse(ReasonFrozen, "user %s is frozen", u.ID)
	}
	return refuse(ReasonDisabled, "user %s is %s", u.ID, u.Status)
}

func refuse(r Reason, format string, args ...any) *SignInError {
	return &SignInError{Reason: r, Err: fmt.Errorf(format, args...)}
}

// Progress is what a step leads to.
type Progress struct {
	Next      Step
	PendingID []byte  // the new id for the login cookie (Next != StepDone)
	Session   Session // when Next == StepDone
	SessionID []byte  // the new session id for the session cookie (Next == StepDone)
	User      User    // when Next == StepDone
	Username  string  // for display on the next page
	ReturnTo  string
}

// newID returns a random 256-bit id.
func newID() []byte {
	id := make([]byte, 32)
	rand.Read(id) // never fails (crypto/rand, Go ≥ 1.24)
	return id
}
