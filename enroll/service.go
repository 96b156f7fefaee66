package enroll

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/keyhall/keyhall/authn"
)

// Timing of an enrollment.
const (
	// StepTTL is how long a key registration or an app setup may take, from
	// the options to the answer.
	StepTTL = 5 * time.Minute
	// IdleTTL is how long an enrollment waits between steps.
	IdleTTL = 30 * time.Minute
	// InvitationEnrollTTL is the absolute lifetime of an invitation's
	// enrollment once its first factor used the invitation up: no step
	// renews it (EnrollPending.EndsAt). An hour leaves her time for a
	// second key, an app, her recovery codes and a password at the desk;
	// afterwards she signs in and goes on at /account. Without it, a tab
	// left open at a kiosk and kept alive could add a key (with a PIN,
	// signing in as her) or show her first recovery codes days later.
	// Only the password her invitation requires may still be set after
	// it, while she lacks it (Service.step).
	InvitationEnrollTTL = time.Hour
	// DefaultValidity is how long an invitation is valid when Issue is
	// given no validity; MaxValidity is the longest allowed.
	DefaultValidity = 14 * 24 * time.Hour
	MaxValidity     = 90 * 24 * time.Hour
	// RecoveryCodeCount is how many recovery codes a person gets.
	RecoveryCodeCount = 10
)

// Throttling of guessable secrets: at most throttleLimit failed tries per
// person and per client address in throttleWindow (only failures count, see
// tries).
const (
	throttleLimit  = 10
	throttleWindow = 15 * time.Minute
)

// Store is what enrollment needs: authn.Store, which includes its
// enrollment part (authn.EnrollStore).
type Store = authn.Store

// PasswordChecker verifies a directory person's password (an LDAP bind).
// authn's PasswordVerifier satisfies it. It returns an error wrapping
// authn.ErrWrongPassword when the password is wrong.
type PasswordChecker interface {
	VerifyPassword(ctx context.Context, u authn.User, password string) error
}

// Config configures a Service.
type Config struct {
	Store     Store
	PublicURL *url.URL // the only source of links, the RP ID and the origin
	RPName    string   // shown by the browser; "" = "Keyhall"
	// Issuer names the entry in the person's authenticator app (the
	// otpauth URI's issuer and label prefix): the site's name, as the
	// sign-in page names it; "" = TOTPIssuer.
	Issuer        string
	Policy        Policy
	EncryptionKey [32]byte // seals app secrets and waiting recovery codes (authn.Seal)
	// PreviousEncryptionKey is the key EncryptionKey replaced, during a
	// rotation (zero: none): it still opens what was sealed under it.
	PreviousEncryptionKey [32]byte
	Argon2                authn.Argon2Params // for the local passwords people set (zero: authn.DefaultArgon2Params)
	Directory             PasswordChecker    // nil: directory people redeem without a password
	Logger                *slog.Logger       // nil: slog.Default()
	Now                   func() time.Time
	// Mailer tells a person by mail when a key or app is added to or
	// removed from her account by her own hand, or a recovery code of hers
	// is used (nil: no mail; IT's Reset and RevokeCredential leave the mail
	// to their caller, which reports it at the terminal). Notices writes
	// the mails; its PublicURL defaults to PublicURL.
	Mailer  Mailer
	Notices Notices
	// SessionIdle is how long a session may go unseen before it ends, as
	// the web layer enforces it; a self-service enrollment ends with it.
	// Zero: no idle limit is checked here.
	SessionIdle time.Duration
	// PasswordLimit and PasswordWindow bound the wrong directory passwords
	// a person may try at enrollment, as authn.SignInConfig's do at sign-in
	// (kept below the directory's lockout threshold); 0 = throttleLimit
	// per throttleWindow.
	PasswordLimit  int
	PasswordWindow time.Duration
}

// Service enrolls people: it issues and redeems invitations, registers
// security keys and authenticator apps under the key policy, hands out
// recovery codes, and resets people's factors. It is safe for concurrent
// use; all state lives in the Store.
type Service struct {
	cfg   Config
	wa    *webauthn.WebAuthn
	log   *slog.Logger
	tries tries
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	var errs []error
	if cfg.Store == nil {
		errs = append(errs, errors.New("no store"))
	}
	if cfg.PublicURL == nil || cfg.PublicURL.Hostname() == "" {
		errs = append(errs, errors.New("public URL without a host name"))
	}
	if cfg.EncryptionKey == ([32]byte{}) {
		errs = append(errs, errors.New("no encryption key"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("configure enrollment: %w", err)
	}
	if cfg.RPName == "" {
		cfg.RPName = "Keyhall"
	}
	if cfg.Issuer == "" {
		cfg.Issuer = TOTPIssuer
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Notices.PublicURL == nil {
		cfg.Notices.PublicURL = cfg.PublicURL
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          cfg.PublicURL.Hostname(),
		RPDisplayName: cfg.RPName,
		RPOrigins:     []string{cfg.PublicURL.Scheme + "://" + cfg.PublicURL.Host},
	})
	if err != nil {
		return nil, fmt.Errorf("configure enrollment: webauthn: %w", err)
	}
	return &Service{cfg: cfg, wa: wa, log: cfg.Logger}, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// Progress is where an enrollment stands after a step.
type Progress struct {
	// ID is the enrollment's new id for the browser's cookie: it changes
	// at every step. Nil when the enrollment is over.
	ID       []byte
	User     authn.User
	Rules    Rules
	Factors  int  // factors stored in this enrollment
	Consumed bool // the first factor is stored and the invitation used
	// SelfService: a signed-in person's enrollment (Open), not an
	// invitation's; it belongs to her session.
	SelfService bool
	ExpiresAt   time.Time
	// Offer is what the person may be offered next (Service.Offers).
	Offer Offer
}

// take takes the enrollment with id (single use).
func (s *Service) take(ctx context.Context, id []byte) (authn.EnrollPending, error) {
	p, err := s.cfg.Store.TakeEnrollPending(ctx, authn.HashPendingID(id), s.now())
	switch {
	case errors.Is(err, authn.ErrExpired) && usedInvitation(p):
		return p, s.ended(ctx, p, err)
	case errors.Is(err, authn.ErrNotFound), errors.Is(err, authn.ErrExpired):
		return p, refuseMsg(ReasonExpired, msgStepExpired, err)
	case err != nil:
		return p, fmt.Errorf("take enrollment: %w", err)
	}
	return p, nil
}

// usedInvitation reports whether p is an invitation's enrollment whose
// invitation its first factor used up: its link leads nowhere any more,
// and she signs in instead.
func usedInvitation(p authn.EnrollPending) bool {
	return p.UserID != "" && p.InvitationID == "" && p.Session == (authn.SessionHash{})
}

// ended is the refusal of the used invitation's enrollment p that has
// ended (cause): it tells her to sign in where her stored factors can sign
// her in, and otherwise to ask IT for a new invitation.
func (s *Service) ended(ctx context.Context, p authn.EnrollPending, cause error) error {
	msg := msgEnrollmentEnded
	if ok, err := s.canSignIn(ctx, p.UserID); err != nil {
		s.log.Warn("read whether an ended enrollment's person can sign in", "user", p.UserID, "err", err)
	} else if !ok {
		msg = msgEnrollmentEndedNoAccess
	}
	return refuseMsg(ReasonExpired, msg, cause)
}

// canSignIn reports whether the factors of the person with userID can sign
// her in: a password (hers or her directory's) or groups that need none
// follow any factor, and a security key may sign in alone (with its PIN).
func (s *Service) canSignIn(ctx context.Context, userID string) (bool, error) {
	u, rules, err := s.person(ctx, userID)
	if err != nil {
		return false, err
	}
	pw, err := s.PasswordState(ctx, u)
	if err != nil {
		return false, err
	}
	if pw.Has || !pw.Local || rules.NoPassword() {
		return true, nil
	}
	creds, err := s.cfg.Store.ListCredentials(ctx, userID)
	if err != nil {
		return false, fmt.Errorf("read factors: %w", err)
	}
	for _, c := range creds {
		if c.Kind == authn.KindWebAuthn {
			return true, nil
		}
	}
	return false, nil
}

// put stores p under a new id, valid for ttl (at most until the invitation
// expires while it is not used, and never past p.EndsAt while she can
// finish without more: an enrollment whose invitation requires a password
// she still lacks stays open for it, see step), and returns the Progress.
func (s *Service) put(ctx context.Context, p authn.EnrollPending, ttl time.Duration, invExpires time.Time) (Progress, error) {
	ends := p.EndsAt
	if usedInvitation(p) && !ends.IsZero() && ends.Before(s.now().Add(ttl)) {
		if missing, err := s.passwordMissing(ctx, p); err != nil {
			return Progress{}, err
		} else if missing {
			p.EndsAt = time.Time{}
		}
	}
	id, p := s.nextStep(p, ttl, invExpires)
	p.EndsAt = ends
	if err := s.cfg.Store.PutEnrollPending(ctx, p); err != nil {
		return Progress{}, fmt.Errorf("store enrollment: %w", err)
	}
	return s.progress(ctx, id, p)
}

// nextStep gives p a new id, valid for ttl as put says, and returns the id.
func (s *Service) nextStep(p authn.EnrollPending, ttl time.Duration, invExpires time.Time) ([]byte, authn.EnrollPending) {
	var id [32]byte
	rand.Read(id[:]) // never fails (crypto/rand, Go ≥ 1.24)
	now := s.now()
	p.Hash, p.CreatedAt, p.ExpiresAt = authn.HashPendingID(id[:]), now, now.Add(ttl)
	if p.InvitationID != "" && !invExpires.IsZero() && invExpires.Before(p.ExpiresAt) {
		p.ExpiresAt = invExpires
	}
	if !p.EndsAt.IsZero() && p.EndsAt.Before(p.ExpiresAt) {
		p.ExpiresAt = p.EndsAt
	}
	return id[:], p
}

// progress is the Progress of p, stored under id. When the person cannot
// be read, it still has the id (the step is stored: the browser must get
// it), with the error.
func (s *Service) progress(ctx context.Context, id []byte, p authn.EnrollPending) (Progress, error) {
	pr := Progress{ID: id, Factors: p.Factors, Consumed: p.InvitationID == "",
		SelfService: p.Session != (authn.SessionHash{}), ExpiresAt: p.ExpiresAt}
	var err error
	if pr.User, pr.Rules, err = s.person(ctx, p.UserID); err != nil {
		return pr, err
	}
	if pr.Offer, err = s.offer(ctx, pr.User, pr.Rules); err != nil || pr.SelfService || !pr.Offer.SetPassword {
		return pr, err
	}
	pr.Offer.PasswordRequired, err = s.passwordRequired(ctx, p.UserID)
	return pr, err
}

// retry puts p back under a new id after a failed step, so the person can
// try again, and returns the Progress with the refusal.
func (s *Service) retry(ctx context.Context, p authn.EnrollPending, refusal error) (Progress, error) {
	p.Ceremony = nil
	pr, err := s.put(ctx, p, IdleTTL, time.Time{})
	if err != nil {
		return Progress{}, err
	}
	return pr, refusal
}

// person reads a person and the rules of her groups.
func (s *Service) person(ctx context.Context, userID string) (authn.User, Rules, error) {
	u, err := s.cfg.Store.GetUser(ctx, userID)
	if err != nil {
		return authn.User{}, Rules{}, fmt.Errorf("read person: %w", err)
	}
	groups, err := s.cfg.Store.UserGroups(ctx, userID)
	if err != nil {
		return authn.User{}, Rules{}, fmt.Errorf("read groups of %s: %w", u.Username, err)
	}
	return u, s.cfg.Policy.For(groups), nil
}

// tries is the throttle of the guessable secrets of enrollment
// (invitation links and codes, directory passwords, app codes): only
// failures count. A try is admitted (try) when every counter of its keys,
// with the tries of this process still in flight under it, is below
// throttleLimit; a failed try is counted in the store before its refusal
// is answered (attempt.end); a right answer, and a real link that is used
// or expired, count nothing. A request cut off before its answer leaves
// nothing behind. The reads and writes of the counters run under one lock,
// so a burst of parallel guesses in one process never passes the limit;
// across P processes sharing a store it passes it by at most
// (P-1)·throttleLimit in a window.
type tries struct {
	mu       sync.Mutex
	inFlight map[string]int
}

// attempt is one admitted try under keys; end must be called once.
type attempt struct {
	s    *Service
	keys []string
	over bool
}

// try admits a try under keys, or refuses it (ReasonThrottled) when a key
// has throttleLimit failures, counting those in flight, in throttleWindow.
func (s *Service) try(ctx context.Context, keys ...string) (*attempt, error) {
	s.tries.mu.Lock()
	defer s.tries.mu.Unlock()
	now := s.now()
	for _, k := range keys {
		limit, window := s.throttleRule(k)
		n, err := s.cfg.Store.ThrottleCount(ctx, k, now, window)
		if err != nil {
			return nil, fmt.Errorf("read tries: %w", err)
		}
		if n+s.tries.inFlight[k] >= limit {
			e := refuseMsg(ReasonThrottled, msgThrottled, fmt.Errorf("%d failed tries and %d in flight under %q", n, s.tries.inFlight[k], k))
			e.RetryAfter = window
			return nil, e
		}
	}
	if s.tries.inFlight == nil {
		s.tries.inFlight = make(map[string]int)
	}
	for _, k := range keys {
		s.tries.inFlight[k]++
	}
	return &attempt{s: s, keys: keys}, nil
}

// passwordKey is the prefix of the throttle keys of directory passwords:
// sign-in's counter (authn.PasswordThrottleKey), so that enrollment and
// sign-in together stay below the directory's lockout threshold.
var passwordKey = authn.PasswordThrottleKey("")

// throttleRule is the limit and window of the throttle key k: a directory
// password's are the configured ones (below the directory's lockout
// threshold), the rest throttleLimit per throttleWindow.
func (s *Service) throttleRule(k string) (int, time.Duration) {
	if strings.HasPrefix(k, passwordKey) {
		limit, window := throttleLimit, throttleWindow
		if s.cfg.PasswordLimit > 0 {
			limit = s.cfg.PasswordLimit
		}
		if s.cfg.PasswordWindow > 0 {
			window = s.cfg.PasswordWindow
		}
		return limit, window
	}
	return throttleLimit, throttleWindow
}

// guessFailed reports whether err refuses a guess: a wrong or unknown link
// or code, a wrong password or app code.
func guessFailed(err error) bool {
	return IsReason(err, ReasonWrongCode) || IsReason(err, ReasonWrongPassword)
}

// end ends the try with the outcome err and returns err. A failed guess
// (guessFailed) is counted under each key first, even when the request was
// cancelled meanwhile; if it cannot be counted, end returns a storage
// error instead of the refusal, so that no guess is answered uncounted.
func (a *attempt) end(ctx context.Context, err error) error {
	s := a.s
	s.tries.mu.Lock()
	defer s.tries.mu.Unlock()
	if a.over {
		return err
	}
	a.over = true
	defer func() {
		for _, k := range a.keys {
			if s.tries.inFlight[k]--; s.tries.inFlight[k] <= 0 {
				delete(s.tries.inFlight, k)
			}
		}
	}()
	if !guessFailed(err) {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), countTimeout)
	defer cancel()
	for _, k := range a.keys {
		_, window := s.throttleRule(k)
		if _, herr := s.cfg.Store.HitThrottle(ctx, k, s.now(), window); herr != nil {
			return fmt.Errorf("count a failed try (%v): %w", err, herr)
		}
	}
	return err
}

// countTimeout bounds the write that counts a failed try.
const countTimeout = 10 * time.Second
