package enroll

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/keyhall/keyhall/authn"
)

// A "this was not me" link: every notice of an IT reset and of a factor
// added carries one (/freeze/{token}). Its holder, who reads the person's
// mail, may freeze the account once within authn.FreezeTokenTTL: her
// sessions end, her invitation is voided, and nobody signs in or enrolls
// until an administrator lifts it. The token is 256 random bits, base64url
// without padding (43 characters); the store keeps only its SHA-256.

// ReasonFrozen: the account is frozen ("this was not me"); IT must lift it.
const ReasonFrozen Reason = "frozen"

// freezeTokenLen is the length of a token: 32 bytes in base64url.
const freezeTokenLen = 43

var (
	msgFrozen = [2]string{
		"Ihr Konto ist gesperrt, weil über einen Link „Das war ich nicht“ gemeldet wurde, dass eine Änderung nicht von Ihnen kam. " +
			"Bitte wenden Sie sich an die IT; sie prüft den Vorfall und hebt die Sperre auf.",
		"Your account is frozen: a \"this was not me\" link reported a change you did not make. " +
			"Please contact IT; they will look into it and lift the freeze.",
	}
	msgFreezeLinkWrong = [2]string{
		"Dieser Link ist ungültig. Bitte öffnen Sie ihn genau so, wie er in der E-Mail steht, oder wenden Sie sich an die IT.",
		"This link is not valid. Please open it exactly as it is in the mail, or contact IT.",
	}
	msgFreezeLinkUsed = [2]string{
		"Dieser Link wurde schon verwendet. Ist Ihr Konto nicht gesperrt, wenden Sie sich bitte an die IT.",
		"This link was used already. If your account is not frozen, please contact IT.",
	}
	msgFreezeLinkExpired = [2]string{
		"Dieser Link ist abgelaufen. Bitte wenden Sie sich an die IT, wenn Sie eine Änderung an Ihrem Konto nicht veranlasst haben.",
		"This link has expired. Please contact IT if you did not make a change to your account.",
	}
)

// statusRefusal refuses a person who is not active: a frozen account with
// msgFrozen, any other with msgDisabled; nil for an active one.
func statusRefusal(u authn.User) error {
	switch u.Status {
	case authn.StatusActive:
		return nil
	case authn.StatusFrozen:
		return refuseMsg(ReasonFrozen, msgFrozen, fmt.Errorf("user %s is frozen", u.Username))
	}
	return refuseMsg(ReasonDisabled, msgDisabled, fmt.Errorf("user %s is %s", u.Username, u.Status))
}

// NewFreezeToken returns a new "this was not me" token.
func NewFreezeToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand, Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ErrFreezeToken: a string that is not a freeze token.
var ErrFreezeToken = errors.New("not a freeze token")

// ParseFreezeToken checks that s is a token as NewFreezeToken makes them
// (43 base64url characters for 32 bytes, in canonical form) and returns
// the hash under which it is stored.
func ParseFreezeToken(s string) (authn.TokenHash, error) {
	if len(s) != freezeTokenLen {
		return authn.TokenHash{}, ErrFreezeToken
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != 32 {
		return authn.TokenHash{}, ErrFreezeToken
	}
	return authn.HashToken(s), nil
}

// freezeLink stores a new freeze token for the person and returns its link.
func (s *Service) freezeLink(ctx context.Context, userID string) (string, error) {
	return s.storeFreezeLink(ctx, userID, NewFreezeToken())
}

// storeFreezeLink stores tok as a freeze token for the person and returns
// its link.
func (s *Service) storeFreezeLink(ctx context.Context, userID, tok string) (string, error) {
	now := s.now()
	err := s.cfg.Store.CreateFreezeToken(ctx, authn.FreezeToken{Hash: authn.HashToken(tok), UserID: userID,
		CreatedAt: now, ExpiresAt: now.Add(authn.FreezeTokenTTL)})
	if err != nil {
		return "", fmt.Errorf("store freeze link: %w", err)
	}
	return s.cfg.PublicURL.JoinPath("freeze", tok).String(), nil
}

// freezeTokenRefusal words a token's refusal for the person.
func freezeTokenRefusal(err error) error {
	switch {
	case errors.Is(err, ErrFreezeToken) || errors.Is(err, authn.ErrNotFound):
		return refuseMsg(ReasonWrongCode, msgFreezeLinkWrong, err)
	case errors.Is(err, authn.ErrUsed):
		return refuseMsg(ReasonUsed, msgFreezeLinkUsed, err)
	case errors.Is(err, authn.ErrExpired):
		return refuseMsg(ReasonExpired, msgFreezeLinkExpired, err)
	}
	return err
}

// FreezeTarget returns whose account the token would freeze, changing
// nothing (the confirm page). A wrong, used or expired token is an *Error.
func (s *Service) FreezeTarget(ctx context.Context, token string) (authn.User, error) {
	h, err := ParseFreezeToken(token)
	if err != nil {
		return authn.User{}, freezeTokenRefusal(err)
	}
	t, err := s.cfg.Store.GetFreezeToken(ctx, h)
	switch {
	case err != nil:
		return authn.User{}, freezeTokenRefusal(err)
	case !t.UsedAt.IsZero():
		return authn.User{}, freezeTokenRefusal(authn.ErrUsed)
	case !s.now().Before(t.ExpiresAt):
		return authn.User{}, freezeTokenRefusal(authn.ErrExpired)
	}
	u, err := s.cfg.Store.GetUser(ctx, t.UserID)
	if err != nil {
		return authn.User{}, fmt.Errorf("read person of freeze token: %w", err)
	}
	return u, nil
}

// Freeze uses the token and freezes its person's account: status frozen,
// sessions revoked, invitations voided, enrollments ended, audited as
// "user.frozen" by her ("user:<id>") from clientAddr. Her OIDC tokens and
// the tools are the caller's to end and tell. A wrong, used or expired
// token is an *Error and changes nothing.
func (s *Service) Freeze(ctx context.Context, token, clientAddr string) (authn.FreezeReport, error) {
	h, err := ParseFreezeToken(token)
	if err != nil {
		return authn.FreezeReport{}, freezeTokenRefusal(err)
	}
	ev := authn.AuditEvent{Time: s.now(), Action: "user.frozen", ClientAddr: clientAddr,
		Reason: "this was not me", Details: map[string]string{"via": "link"}}
	rep, err := s.cfg.Store.FreezeWithToken(ctx, h, ev.Time, ev)
	if err != nil {
		return authn.FreezeReport{}, freezeTokenRefusal(err)
	}
	s.log.Warn("account frozen by its owner's link", "user", rep.UserID, "sessions", rep.Sessions,
		"invitations", rep.Invitations, "client", clientAddr)
	return rep, nil
}
