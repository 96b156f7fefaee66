package enroll

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"image/png"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"

	"github.com/keyhall/keyhall/authn"
)

// totpSecretBytes: 160 bits, the HMAC-SHA1 key length RFC 4226 §4
// recommends.
const totpSecretBytes = 20

// TOTPSetup is what a person needs to add an authenticator app: the QR code
// (PNG, rendered here, no outside service) or the secret to type.
type TOTPSetup struct {
	Secret string // base32, in groups of four for typing
	URI    string // otpauth://totp/…, what the QR code holds
	QRPNG  []byte
}

// BeginTOTP starts adding an authenticator app: a new 160-bit secret,
// shown once, kept sealed in the enrollment until ConfirmTOTP gets a right
// code from the app. Refused when a group of the person admits no app, or
// (before a key) no app alone, and for an enrollment that may not add an
// app (see step).
func (s *Service) BeginTOTP(ctx context.Context, id []byte) (TOTPSetup, Progress, error) {
	p, pr, err := s.step(ctx, id, authn.ScopeApp)
	if err != nil {
		return TOTPSetup{}, pr, err
	}
	u, rules, err := s.person(ctx, p.UserID)
	if err != nil {
		return TOTPSetup{}, Progress{}, err
	}
	if g, refused := rules.refusingTOTP(p.InvitationID != ""); refused {
		pr, err := s.retry(ctx, p, totpRefusal(g, p.InvitationID != ""))
		return TOTPSetup{}, pr, err
	}
	// The app is followed by the password at sign-in. In an invitation a
	// local person chooses hers after the app (Offer.SetPassword).
	if err := s.needPassword(ctx, p); err != nil {
		if _, refused := errors.AsType[*Error](err); !refused {
			return TOTPSetup{}, Progress{}, err
		}
		if p.Session != (authn.SessionHash{}) || u.Source == authn.SourceDirectory {
			pr, err := s.retry(ctx, p, err)
			return TOTPSetup{}, pr, err
		}
	}
	secret := make([]byte, totpSecretBytes)
	rand.Read(secret) // never fails (crypto/rand, Go ≥ 1.24)
	setup, err := s.totpSetup(u, secret)
	if err != nil {
		return TOTPSetup{}, Progress{}, err
	}
	if p.TOTPSealed, err = authn.Seal(s.cfg.EncryptionKey, secret, totpAD(p.UserID)); err != nil {
		return TOTPSetup{}, Progress{}, fmt.Errorf("begin app setup: %w", err)
	}
	pr, err = s.put(ctx, p, IdleTTL, time.Time{})
	return setup, pr, err
}

// ShowTOTP returns the setup BeginTOTP started, with the same secret, under
// a new id: after a wrong code, a language switch or a reload the entry the
// person may already have made in her app stays right. Refused
// (ReasonExpired) when no app setup is open.
func (s *Service) ShowTOTP(ctx context.Context, id []byte) (TOTPSetup, Progress, error) {
	p, pr, err := s.step(ctx, id, authn.ScopeApp)
	if err != nil {
		return TOTPSetup{}, pr, err
	}
	if p.TOTPSealed == nil {
		pr, err := s.retry(ctx, p, refuseMsg(ReasonExpired, msgStepExpired, fmt.Errorf("no app setup open")))
		return TOTPSetup{}, pr, err
	}
	u, err := s.cfg.Store.GetUser(ctx, p.UserID)
	if err != nil {
		return TOTPSetup{}, Progress{}, fmt.Errorf("read person: %w", err)
	}
	secret, err := authn.OpenRotated(s.cfg.EncryptionKey, s.cfg.PreviousEncryptionKey, p.TOTPSealed, totpAD(p.UserID))
	if err != nil {
		return TOTPSetup{}, Progress{}, fmt.Errorf("open app secret: %w", err)
	}
	setup, err := s.totpSetup(u, secret)
	if err != nil {
		return TOTPSetup{}, Progress{}, err
	}
	pr, err = s.put(ctx, p, IdleTTL, time.Time{})
	return setup, pr, err
}

func totpAD(userID string) []byte { return []byte("enroll-totp:" + userID) }

func totpRefusal(g GroupRule, first bool) *Error {
	if g.appAdmitted() && first {
		return refuseMsg(ReasonNoFactor, msgNoFactor, fmt.Errorf("group %q: an app alone is not enough", g.Group))
	}
	de, en := "Ihre Organisation lässt keine Authenticator-App zu. Bitte verwenden Sie einen Sicherheitsschlüssel.",
		"Your organisation does not admit an authenticator app. Please use a security key."
	if g.Group != "" {
		de = fmt.Sprintf("Ihre Gruppe „%s“ lässt keine Authenticator-App zu. Sie verlangt %s.", g.Group, cmpOr(g.NeedDE, "einen Sicherheitsschlüssel"))
		en = fmt.Sprintf("Your group “%s” does not admit an authenticator app. It requires %s.", g.Group, cmpOr(g.NeedEN, "a security key"))
	}
	e := refuse(ReasonTOTPForbidden, de, en, nil)
	e.Group = g.Group
	return e
}

// TOTPIssuer is the name of the entry in the person's app when
// Config.Issuer is not set: the name the sign-in page and the letter use
// ("den Code für Keyhall"), whatever the WebAuthn relying party's display
// name (Config.RPName) is.
const TOTPIssuer = "Keyhall"

// totpSetup renders the key URI (RFC 6238 parameters: SHA-1, 6 digits, 30
// seconds) and its QR code.
func (s *Service) totpSetup(u authn.User, secret []byte) (TOTPSetup, error) {
	key, err := otp.NewKeyFromURL(keyURI(s.cfg.Issuer, u.Username, secret))
	if err != nil {
		return TOTPSetup{}, fmt.Errorf("make app key: %w", err)
	}
	img, err := key.Image(256, 256)
	if err != nil {
		return TOTPSetup{}, fmt.Errorf("render QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return TOTPSetup{}, fmt.Errorf("render QR code: %w", err)
	}
	b32 := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
	return TOTPSetup{Secret: FormatCode(b32), URI: key.String(), QRPNG: buf.Bytes()}, nil
}

// keyURI writes the otpauth URI of an app's entry (Google Authenticator's
// Key URI Format): the label "issuer:account" and the parameters secret,
// issuer, algorithm, digits, period. Every part is percent-encoded, a
// space as %20 (pquerna/otp's totp.Generate left '&', '+' and ':' as
// they are, so that an app showed "Rat " for "Rat & Verwaltung"). The
// issuer parameter carries the name exactly, which apps show; in the
// label, where a colon would split issuer from account, colons are left
// out of it.
func keyURI(issuer, account string, secret []byte) string {
	esc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	q := []string{
		"secret=" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret),
		"issuer=" + esc(issuer),
		"algorithm=SHA1",
		"digits=6",
		"period=" + strconv.Itoa(authn.TOTPPeriod),
	}
	label := esc(strings.ReplaceAll(issuer, ":", "")) + ":" + esc(account)
	return "otpauth://totp/" + label + "?" + strings.Join(q, "&")
}

// ConfirmTOTP checks a code from the app (RFC 6238 §5.2, one step of drift)
// and only then stores the app. A wrong code stores nothing and leaves the
// setup open under a new id, with the same secret; tries are throttled per
// person. The enrollment is checked again as at BeginTOTP (see step).
func (s *Service) ConfirmTOTP(ctx context.Context, id []byte, code, nickname string) (Progress, error) {
	p, pr, err := s.step(ctx, id, authn.ScopeApp)
	if err != nil {
		return pr, err
	}
	if p.TOTPSealed == nil {
		return s.retry(ctx, p, refuseMsg(ReasonExpired, msgStepExpired, fmt.Errorf("no app setup open")))
	}
	if nickname, err = optionalNickname(nickname); err != nil {
		return s.retry(ctx, p, err)
	}
	a, err := s.try(ctx, throttleTOTPUser+p.UserID)
	if err != nil {
		return s.retry(ctx, p, err)
	}
	secret, err := authn.OpenRotated(s.cfg.EncryptionKey, s.cfg.PreviousEncryptionKey, p.TOTPSealed, totpAD(p.UserID))
	if err != nil {
		return Progress{}, a.end(ctx, fmt.Errorf("open app secret: %w", err))
	}
	step, ok := matchCode(secret, code, s.now())
	if !ok {
		pr, err := s.retry(ctx, p, refuseMsg(ReasonWrongCode, msgWrongTOTP, fmt.Errorf("wrong app code")))
		return pr, a.end(ctx, err)
	}
	a.end(ctx, nil)
	c := authn.Credential{ID: authn.NewID(), UserID: p.UserID, Kind: authn.KindTOTP,
		Nickname: cmpOr(nickname, "Authenticator-App"), CreatedAt: s.now(), LastStep: step}
	if c.SecretSealed, err = authn.Seal(s.cfg.EncryptionKey, secret, []byte(c.ID)); err != nil {
		return Progress{}, fmt.Errorf("seal app secret: %w", err)
	}
	return s.storeFactor(ctx, p, c, s.credentialEvent(p, c, map[string]string{}))
}

// matchCode compares code with the codes of the steps around now, each in
// constant time, and returns the matching step.
func matchCode(secret []byte, code string, now time.Time) (int64, bool) {
	code = strings.NewReplacer(" ", "", "-", "").Replace(code)
	if len(code) != authn.TOTPDigits {
		return 0, false
	}
	var step int64
	var ok bool
	t := authn.TOTPStep(now)
	for st := t - authn.TOTPSkew; st <= t+authn.TOTPSkew; st++ {
		want, err := authn.TOTPCode(secret, time.Unix(st*authn.TOTPPeriod, 0))
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			step, ok = st, true
		}
	}
	return step, ok
}

// NewRecoveryCodes makes RecoveryCodeCount new recovery codes for the
// person, to be shown; they wait sealed in the enrollment, so that
// ShowRecoveryCodes shows the same codes again (a language switch, a
// reload). Where they would replace codes she still has, they replace them
// only when she confirms she stored the new ones (KeepRecoveryCodes):
// until then her old sheet works. Where she has none unused (her first
// enrollment, after a reset), they are stored at once, with the next step,
// so that a confirmation that comes too late loses nothing. It needs a
// factor first, and an enrollment that may add recovery codes (see step).
func (s *Service) NewRecoveryCodes(ctx context.Context, id []byte) ([]string, Progress, error) {
	p, pr, err := s.step(ctx, id, authn.ScopeRecoveryCodes)
	if err != nil {
		return nil, pr, err
	}
	if p.InvitationID != "" {
		pr, err := s.retry(ctx, p, refuseMsg(ReasonNoFactor, msgNoFactor, fmt.Errorf("no factor yet")))
		return nil, pr, err
	}
	if err := s.needPassword(ctx, p); err != nil {
		if _, ok := errors.AsType[*Error](err); !ok {
			return nil, Progress{}, err
		}
		pr, err := s.retry(ctx, p, err) // codes are followed by the password at sign-in
		return nil, pr, err
	}
	codes := make([]string, RecoveryCodeCount)
	for i := range codes {
		codes[i] = NewCode()
	}
	unused, err := s.cfg.Store.CountRecoveryCodes(ctx, p.UserID)
	if err != nil {
		pr, err := s.keepOn(ctx, p, fmt.Errorf("count recovery codes: %w", err))
		return nil, pr, err
	}
	storeNow := unused == 0
	if p.CodesSealed, err = s.sealCodes(p.UserID, codes, storeNow); err != nil {
		return nil, Progress{}, err
	}
	if !storeNow {
		pr, err = s.put(ctx, p, IdleTTL, time.Time{})
		return codes, pr, err
	}
	pr, err = s.storeCodes(ctx, p, codes)
	if err != nil && len(pr.ID) == 0 {
		return nil, pr, err // nothing stored: not shown
	}
	return codes, pr, err
}
