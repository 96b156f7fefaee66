package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/keyhall/keyhall/authn"
)

// newSecretToken returns 256 random bits, base64url: refresh tokens and
// authorization codes. Only their SHA-256 is stored.
func newSecretToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// grantOf returns what every token of a request carries.
func (s *oidcStorage) grantOf(req op.TokenRequest) (authn.OIDCToken, error) {
	switch r := req.(type) {
	case authRequest:
		return authn.OIDCToken{GrantID: r.r.ID, ClientID: r.r.ClientID, UserID: r.r.UserID, Session: r.r.Session,
			Scopes: r.r.Scopes, AMR: r.r.AMR, ACR: r.r.ACR, AuthTime: r.r.AuthTime}, nil
	case *refreshRequest:
		t := r.t
		t.Scopes = r.scopes
		return t, nil
	}
	return authn.OIDCToken{}, oidc.ErrServerError().WithParent(fmt.Errorf("unexpected token request %T", req))
}

// newToken fills in a token of kind for grant g, valid for d from now.
func newToken(g authn.OIDCToken, kind authn.OIDCTokenKind, now time.Time, d time.Duration) authn.OIDCToken {
	t := g
	t.ID, t.Kind, t.Hash = authn.NewID(), kind, authn.TokenHash{}
	t.CreatedAt, t.ExpiresAt, t.UsedAt, t.RevokedAt = now, now.Add(d), time.Time{}, time.Time{}
	return t
}

// CreateAccessToken stores an access token without a refresh token.
func (s *oidcStorage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	_, o, err := s.oidcStore()
	if err != nil {
		return "", time.Time{}, err
	}
	g, err := s.grantOf(req)
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.p.srv.now()
	at := newToken(g, authn.OIDCAccessToken, now, s.p.clients[g.ClientID].accessLifetime())
	if err := storeTokens(ctx, o, req, "", now, at); err != nil {
		return "", time.Time{}, err
	}
	return at.ID, at.ExpiresAt, nil
}

// CreateAccessAndRefreshTokens stores an access and a refresh token. With
// a current refresh token it rotates it: the old one is used up, and a
// reused one revokes its family (RFC 9700 §4.14.2).
func (s *oidcStorage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	_, o, err := s.oidcStore()
	if err != nil {
		return "", "", time.Time{}, err
	}
	g, err := s.grantOf(req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	c := s.p.clients[g.ClientID]
	now := s.p.srv.now()
	at := newToken(g, authn.OIDCAccessToken, now, c.accessLifetime())
	rt := newToken(g, authn.OIDCRefreshToken, now, c.refreshLifetime())
	rt.ExpiresAt = s.p.familyEnd(req, g.AuthTime, rt.ExpiresAt)
	refresh := newSecretToken()
	rt.Hash = authn.HashToken(refresh)
	if err := storeTokens(ctx, o, req, current, now, at, rt); err != nil {
		return "", "", time.Time{}, err
	}
	return at.ID, refresh, at.ExpiresAt, nil
}

// familyEnd is when a new refresh token of req ends that would otherwise
// end at end: a rotated one when the one it replaces does (the family
// keeps the end of its first token: a tool refreshing before each end
// would keep a sign-in alive for ever), and none later than the session's
// max age after the sign-in it came from (authTime), however long
// refresh_token_lifetime is.
func (p *oidcProvider) familyEnd(req op.TokenRequest, authTime, end time.Time) time.Time {
	if r, ok := req.(*refreshRequest); ok && r.t.ExpiresAt.Before(end) {
		end = r.t.ExpiresAt
	}
	if last := authTime.Add(p.srv.max); !authTime.IsZero() && last.Before(end) {
		end = last
	}
	return end
}

// storeTokens stores tokens in one transaction with what they are issued
// for: the redemption of a code (single use), the rotation of the current
// refresh token (single use), or nothing else.
func storeTokens(ctx context.Context, o authn.OIDCStore, req op.TokenRequest, current string, now time.Time, tokens ...authn.OIDCToken) error {
	var err error
	ar, isCode := req.(authRequest)
	switch {
	case current != "":
		err = o.RotateOIDCRefreshToken(ctx, authn.HashToken(current), now, tokens...)
	case isCode && ar.code != (authn.TokenHash{}):
		err = o.RedeemOIDCCode(ctx, ar.code, now, tokens...)
	default:
		err = o.CreateOIDCTokens(ctx, tokens...)
	}
	if errors.Is(err, authn.ErrUsed) || errors.Is(err, authn.ErrNotFound) || errors.Is(err, authn.ErrExpired) {
		return oidc.ErrInvalidGrant().WithDescription("the code or refresh token is not valid").WithParent(err)
	}
	if err != nil {
		return fmt.Errorf("store tokens: %w", storageErr(err))
	}
	return nil
}

// TokenRequestByRefreshToken finds a usable refresh token of an active
// person whom its client still admits. A used one is a replay: its family
// is revoked.
func (s *oidcStorage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	st, o, err := s.oidcStore()
	if err != nil {
		return nil, err
	}
	now := s.p.srv.now()
	t, err := o.GetOIDCRefreshToken(ctx, authn.HashToken(token))
	if err != nil {
		return nil, fmt.Errorf("find refresh token: %w", storageErr(err))
	}
	if !t.UsedAt.IsZero() && t.RevokedAt.IsZero() {
		s.p.srv.logger.Warn("oidc: refresh token reused; its family is revoked", "client", t.ClientID, "user", t.UserID)
		if _, err := o.RevokeOIDCGrant(ctx, t.GrantID, now); err != nil {
			return nil, fmt.Errorf("revoke family: %w", storageFailure{err})
		}
	}
	if !t.Usable(now) {
		return nil, errors.New("refresh token used, revoked or expired")
	}
	u, err := st.GetUser(ctx, t.UserID)
	if err = storageErr(err); isStorageFailure(err) {
		return nil, fmt.Errorf("read person of refresh token: %w", err)
	}
	if err != nil || u.Status != authn.StatusActive {
		return nil, fmt.Errorf("refresh token of an unknown or disabled person: %w", cmpErr(err, authn.ErrNotFound))
	}
	if err := s.stillAdmitted(ctx, st, t, u); err != nil {
		return nil, err
	}
	return &refreshRequest{t: t, scopes: t.Scopes, user: u}, nil
}

// stillAdmitted checks a refresh token against what the client asks of a
// sign-in now, as an authorization would (continueAuth): the client is
// still configured, admits the person (her groups as they are now: IT or
// the directory sync may have taken her out), and the sign-in the token
// came from meets its level (raised since, perhaps). A refusal is
// invalid_grant: the tool sends her to sign in, and she is told there.
func (s *oidcStorage) stillAdmitted(ctx context.Context, st authn.Store, t authn.OIDCToken, u authn.User) error {
	c := s.p.clients[t.ClientID]
	if c == nil {
		return errors.New("refresh token of a client no longer configured")
	}
	groups, err := groupNames(ctx, st, u.ID)
	if err != nil {
		return fmt.Errorf("refresh token: %w", storageFailure{err})
	}
	if !s.p.srv.admits(c.c.Groups, groups) {
		return errors.New("refresh token of a person the client no longer admits")
	}
	if !authn.Level(t.ACR).Meets(c.c.Level) {
		return fmt.Errorf("refresh token of a sign-in at %q, below the client's level %q", t.ACR, c.c.Level)
	}
	return nil
}

// cmpErr returns err, or alt when err is nil.
func cmpErr(err, alt error) error {
	if err != nil {
		return err
	}
	return alt
}

// GetRefreshTokenInfo tells the revocation endpoint whose refresh token it is.
func (s *oidcStorage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	_, o, err := s.oidcStore()
	if err != nil {
		return "", "", err
	}
	t, err := o.GetOIDCRefreshToken(ctx, authn.HashToken(token))
	if errors.Is(err, authn.ErrNotFound) {
		return "", "", op.ErrInvalidRefreshToken
	}
	if err != nil {
		return "", "", storageErr(err)
	}
	return t.UserID, t.ID, nil
}

// RevokeToken revokes a token the client holds (RFC 7009 §2.1): an access
// token alone, a refresh token with its family. An unknown token is no
// error (§2.2); another client's token is refused.
func (s *oidcStorage) RevokeToken(ctx context.Context, tokenID, _ string, clientID string) *oidc.Error {
	_, o, err := s.oidcStore()
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	t, err := o.GetOIDCToken(ctx, tokenID)
	if errors.Is(err, authn.ErrNotFound) {
		return nil
	}
	if err != nil {
		return oidc.ErrServerError().WithParent(storageErr(err))
	}
	if t.ClientID != clientID {
		return oidc.ErrUnauthorizedClient().WithDescription("the token was issued to another client")
	}
	if err := o.RevokeOIDCToken(ctx, tokenID, s.p.srv.now()); err != nil && !errors.Is(err, authn.ErrNotFound) {
		return oidc.ErrServerError().WithParent(storageErr(err))
	}
	return nil
}

// SetUserinfoFromToken answers the userinfo endpoint for a usable access
// token of an active person.
func (s *oidcStorage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	_, o, err := s.oidcStore()
	if err != nil {
		return err
	}
	t, err := o.GetOIDCToken(ctx, tokenID)
	if err != nil {
		return fmt.Errorf("find access token: %w", storageErr(err))
	}
	if t.Kind != authn.OIDCAccessToken || t.UserID != subject || !t.Usable(s.p.srv.now()) {
		return oidc.ErrAccessDenied().WithDescription("access token is not valid")
	}
	c, err := s.userClaims(ctx, t.UserID, nil, t.Scopes)
	if err != nil {
		return err
	}
	info.Subject = t.UserID
	info.Name, info.PreferredUsername, info.Email = c.Name, c.PreferredUsername, c.Email
	if c.EmailVerified != nil {
		info.AppendClaims("email_verified", *c.EmailVerified)
	}
	if c.Groups != nil {
		info.AppendClaims("groups", c.Groups)
	}
	return nil
}

// userClaims are the claims about a person for the scopes granted, in the
// ID token and at the userinfo endpoint: name and preferred_username for
// "profile"; email and email_verified (always present) for "email"; groups
// (a list, perhaps empty) for "groups".
type userClaims struct {
	Name              string   `json:"name,omitempty"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	Email             string   `json:"email,omitempty"`
	EmailVerified     *bool    `json:"email_verified,omitempty"`
	Groups            []string `json:"groups,omitzero"` // nil: not asked for
}

// userClaims returns the claims of u, or of the person userID read now if
// u is nil, for scopes. A disabled or unknown person gets none.
func (s *oidcStorage) userClaims(ctx context.Context, userID string, u *authn.User, scopes []string) (userClaims, error) {
	st, _, err := s.oidcStore()
	if err != nil {
		return userClaims{}, err
	}
	if u == nil {
		read, err := st.GetUser(ctx, userID)
		if err != nil {
			return userClaims{}, fmt.Errorf("read user: %w", storageErr(err))
		}
		u = &read
	}
	switch {
	case u.ID != userID:
		return userClaims{}, oidc.ErrAccessDenied().WithDescription("the account does not exist")
	case u.Status != authn.StatusActive:
		return userClaims{}, oidc.ErrAccessDenied().WithDescription("the account is disabled")
	}
	var c userClaims
	if hasScope(scopes, oidc.ScopeProfile) {
		c.Name, c.PreferredUsername = u.DisplayName, u.Username
	}
	if hasScope(scopes, oidc.ScopeEmail) {
		c.Email = u.Email
		// Verified only when the person proved the address by the link
		// mailed to it (enroll.Service.ConfirmEmail) and it has not changed
		// since. An address typed in by IT, or read from a directory, is
		// not verified by that alone.
		verified := u.EmailVerified()
		c.EmailVerified = &verified
	}
	if hasScope(scopes, "groups") {
		groups, err := st.UserGroups(ctx, u.ID)
		if err != nil {
			return userClaims{}, fmt.Errorf("read groups: %w", storageFailure{err})
		}
		c.Groups = make([]string, 0, len(groups))
		for _, gr := range groups {
			c.Groups = append(c.Groups, gr.Name)
		}
	}
	return c, nil
}

// userOf returns the person read with the code or the refresh token of
// req, or nil.
func userOf(req op.TokenRequest) *authn.User {
	switch r := req.(type) {
	case authRequest:
		return r.user
	case *refreshRequest:
		return &r.user
	}
	return nil
}

// sessionSID is the "sid" of a session: derived from its hash, so it says
// nothing about the session id itself.
func sessionSID(h authn.SessionHash) string {
	sum := sha256.Sum256(append([]byte("keyhall oidc sid "), h[:]...))
	return hex.EncodeToString(sum[:16])
}
