package enroll

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// An e-mail address is verified (authn.User.EmailVerified, the OIDC claim
// email_verified) once the person opens a link mailed to it and confirms
// on the page it leads to. The link goes only into the mail, never to IT's
// screen: whoever uses it has read that mailbox. It works once, for
// EmailConfirmValidity, and only while the address is still the person's;
// a new address is not verified until it is confirmed in turn.

// EmailConfirmValidity is how long a confirmation link works.
const EmailConfirmValidity = 7 * 24 * time.Hour

var (
	msgEmailLinkWrong = [2]string{
		"Dieser Bestätigungslink ist ungültig. Bitte prüfen Sie, ob Sie ihn vollständig aus der E-Mail übernommen haben.",
		"This confirmation link is not valid. Please check that you copied all of it from the e-mail.",
	}
	msgEmailLinkUsed = [2]string{
		"Dieser Bestätigungslink wurde schon verwendet. Ihre Adresse ist bestätigt, wenn Sie das waren.",
		"This confirmation link was used already. Your address is confirmed if that was you.",
	}
	msgEmailLinkExpired = [2]string{
		"Dieser Bestätigungslink ist abgelaufen. Bitten Sie den IT-Service um einen neuen.",
		"This confirmation link has expired. Please ask IT for a new one.",
	}
	msgEmailChanged = [2]string{
		"Ihre E-Mail-Adresse wurde inzwischen geändert; dieser Link bestätigt die alte. Bitten Sie den IT-Service um einen neuen.",
		"Your e-mail address has changed since; this link confirms the old one. Please ask IT for a new one.",
	}
)

// EmailConfirmLink returns the address at which a confirmation token is used.
func EmailConfirmLink(publicURL *url.URL, token string) string {
	return publicURL.JoinPath("email", "confirm", token).String()
}

// RequestEmailConfirmation makes a link that confirms the person's current
// address and returns the mail that carries it, for the caller to send.
// actor and reason go to the audit log.
func (s *Service) RequestEmailConfirmation(ctx context.Context, userID, actor, reason string) (Message, error) {
	es, ok := s.cfg.Store.(authn.EmailStore)
	if !ok {
		return Message{}, fmt.Errorf("request e-mail confirmation: the store keeps no e-mail confirmations")
	}
	u, err := s.cfg.Store.GetUser(ctx, userID)
	if err != nil {
		return Message{}, fmt.Errorf("request e-mail confirmation: %w", err)
	}
	if u.Email == "" {
		return Message{}, fmt.Errorf("request e-mail confirmation: %s has no e-mail address", u.Username)
	}
	token, now := NewToken(), s.now()
	c := authn.EmailConfirmation{TokenHash: authn.HashToken(token), UserID: u.ID, Email: u.Email,
		CreatedAt: now, ExpiresAt: now.Add(EmailConfirmValidity)}
	ev := authn.AuditEvent{Time: now, Actor: actor, Action: "email.confirmation.create", Subject: "user:" + u.ID,
		Reason: reason, Details: map[string]string{"email": u.Email, "expires_at": c.ExpiresAt.Format(time.RFC3339)}}
	if err := es.CreateEmailConfirmation(ctx, c, ev); err != nil {
		return Message{}, fmt.Errorf("request e-mail confirmation for %s: %w", u.Username, err)
	}
	return s.cfg.Notices.EmailConfirmation(u, EmailConfirmLink(s.cfg.Notices.PublicURL, token), c.ExpiresAt), nil
}

// ConfirmEmail uses a confirmation token: the address it was mailed to is
// the person's verified address from now on. A wrong, used or expired
// token, or one for an address the person no longer has, is an *Error.
func (s *Service) ConfirmEmail(ctx context.Context, token string, client authn.ClientInfo) (authn.User, error) {
	es, ok := s.cfg.Store.(authn.EmailStore)
	if !ok {
		return authn.User{}, fmt.Errorf("confirm e-mail: the store keeps no e-mail confirmations")
	}
	now := s.now()
	ev := authn.AuditEvent{Time: now, Actor: "self", Action: "email.confirm",
		Details: map[string]string{"client": client.Addr}}
	u, err := es.ConfirmEmail(ctx, authn.HashToken(token), now, ev)
	switch {
	case errors.Is(err, authn.ErrNotFound):
		return u, refuseMsg(ReasonWrongCode, msgEmailLinkWrong, err)
	case errors.Is(err, authn.ErrUsed):
		return u, refuseMsg(ReasonUsed, msgEmailLinkUsed, err)
	case errors.Is(err, authn.ErrExpired):
		return u, refuseMsg(ReasonExpired, msgEmailLinkExpired, err)
	case errors.Is(err, authn.ErrEmailChanged):
		return u, refuseMsg(ReasonExpired, msgEmailChanged, err)
	}
	return u, err
}

// EmailConfirmation asks a person to confirm her address by opening link
// before expires.
func (n Notices) EmailConfirmation(u authn.User, link string, expires time.Time) Message {
	de, en := n.when(expires)
	return n.message(u, "E-Mail-Adresse bestätigen / Confirm your e-mail address",
		fmt.Sprintf("bitte bestätigen Sie, dass diese E-Mail-Adresse Ihnen gehört. Öffnen Sie dazu diesen Link "+
			"und klicken Sie auf „Bestätigen“:\n\n    %s\n\nDer Link gilt einmal und bis %s. Haben Sie das nicht "+
			"erwartet, ignorieren Sie diese E-Mail.", link, de),
		fmt.Sprintf("please confirm that this e-mail address is yours: open this link and click \"Confirm\":\n\n"+
			"    %s\n\nThe link works once and until %s. If you did not expect this, ignore this e-mail.", link, en))
}
