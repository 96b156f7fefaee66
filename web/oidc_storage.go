package web

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/keyhall/keyhall/authn"
)

// oidcStorage is op.Storage over Keyhall's store. The store is looked up
// per call: the server starts before its database is reachable.
type oidcStorage struct{ p *oidcProvider }

var (
	_ op.Storage                        = (*oidcStorage)(nil)
	_ op.CanTerminateSessionFromRequest = (*oidcStorage)(nil)
)

type oidcCtxKey int

const (
	bindingKey    oidcCtxKey = iota // [32]byte: the browser binding's hash, for CreateAuthRequest
	endSessionKey                   // *endSessionState, for TerminateSessionFromRequest
)

// authRequest is a stored authorization request as op.AuthRequest. code
// is the hash of the code it was found by (zero otherwise): the tokens are
// stored with the code's redemption, in one transaction. user is the
// person, read with the request by its code (nil otherwise), for the ID
// token's claims.
type authRequest struct {
	r    authn.OIDCAuthRequest
	code authn.TokenHash
	user *authn.User
}

var _ op.AuthRequest = authRequest{}

func (a authRequest) GetID() string          { return a.r.ID }
func (a authRequest) GetACR() string         { return a.r.ACR }
func (a authRequest) GetAMR() []string       { return a.r.AMR }
func (a authRequest) GetAudience() []string  { return []string{a.r.ClientID} }
func (a authRequest) GetAuthTime() time.Time { return a.r.AuthTime }
func (a authRequest) GetClientID() string    { return a.r.ClientID }
func (a authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	return &oidc.CodeChallenge{Challenge: a.r.CodeChallenge, Method: oidc.CodeChallengeMethod(a.r.CodeChallengeMethod)}
}
func (a authRequest) GetNonce() string                   { return a.r.Nonce }
func (a authRequest) GetRedirectURI() string             { return a.r.RedirectURI }
func (a authRequest) GetResponseType() oidc.ResponseType { return oidc.ResponseTypeCode }
func (a authRequest) GetResponseMode() oidc.ResponseMode {
	return oidc.ResponseMode(a.r.ResponseMode)
}
func (a authRequest) GetScopes() []string { return a.r.Scopes }
func (a authRequest) GetState() string    { return a.r.State }
func (a authRequest) GetSubject() string  { return a.r.UserID }
func (a authRequest) Done() bool          { return a.r.Done() }

// refreshRequest is a stored refresh token as op.RefreshTokenRequest, with
// its person, read when the token was found.
type refreshRequest struct {
	t      authn.OIDCToken
	scopes []string
	user   authn.User
}

func (r *refreshRequest) GetAMR() []string            { return r.t.AMR }
func (r *refreshRequest) GetAudience() []string       { return []string{r.t.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time      { return r.t.AuthTime }
func (r *refreshRequest) GetClientID() string         { return r.t.ClientID }
func (r *refreshRequest) GetScopes() []string         { return r.scopes }
func (r *refreshRequest) GetSubject() string          { return r.t.UserID }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.scopes = s }

// notFound is a plain error zitadel/oidc answers as the client's fault.
type notFound struct{ what string }

func (e notFound) Error() string { return e.what + " not found" }

// storageFailure marks an error of the database, not of the request: a
// token, code or session that could not be read is not known to be bad.
// The token, userinfo and revocation endpoints answer it with 503
// temporarily_unavailable (oidcProvider.unavailable), never with
// invalid_grant, 401 or 403, which tools take as final and drop the
// person's session for.
type storageFailure struct{ err error }

func (e storageFailure) Error() string { return "database: " + e.err.Error() }
func (e storageFailure) Unwrap() error { return e.err }

// storageErr returns err marked as a storage failure, unless it is nil or
// one of the store's answers about the thing asked for (ErrNotFound,
// ErrUsed, ErrExpired).
func storageErr(err error) error {
	if err == nil || errors.Is(err, authn.ErrNotFound) || errors.Is(err, authn.ErrUsed) || errors.Is(err, authn.ErrExpired) {
		return err
	}
	return storageFailure{err}
}

// isStorageFailure reports whether err, or an error it wraps (zitadel/oidc
// keeps ours as the parent of its own), is a storage failure.
func isStorageFailure(err error) bool {
	var f storageFailure
	return errors.As(err, &f)
}

func (s *oidcStorage) oidcStore() (authn.Store, authn.OIDCStore, error) {
	st, o := s.p.store()
	if o == nil {
		return nil, nil, storageFailure{errNoStore}
	}
	return st, o, nil
}

// CreateAuthRequest stores a validated request, bound to the browser
// whose cookie hash the authorize handler put into ctx; hintSubject is the
// subject of its id_token_hint ("" for none).
func (s *oidcStorage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, hintSubject string) (op.AuthRequest, error) {
	_, o, err := s.oidcStore()
	if err != nil {
		return nil, err
	}
	binding, ok := ctx.Value(bindingKey).([32]byte)
	if !ok {
		return nil, oidc.ErrServerError().WithParent(errors.New("auth request without browser binding"))
	}
	now := s.p.srv.now()
	r := authn.OIDCAuthRequest{
		ID: authn.NewID(), ClientID: req.ClientID, RedirectURI: req.RedirectURI, Scopes: req.Scopes,
		State: req.State, Nonce: req.Nonce, ResponseMode: string(req.ResponseMode),
		CodeChallenge: req.CodeChallenge, CodeChallengeMethod: string(req.CodeChallengeMethod),
		Prompt: req.Prompt, MaxAge: -1, ACRValues: req.ACRValues, LoginHint: req.LoginHint, HintSubject: hintSubject,
		Binding: binding, CreatedAt: now, ExpiresAt: now.Add(s.p.cfg.RequestLifetime),
	}
	if req.MaxAge != nil {
		r.MaxAge = time.Duration(*req.MaxAge) * time.Second
	}
	if err := o.CreateOIDCAuthRequest(ctx, r); err != nil {
		return nil, fmt.Errorf("create auth request: %w", err)
	}
	return authRequest{r: r}, nil
}

func (s *oidcStorage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	_, o, err := s.oidcStore()
	if err != nil {
		return nil, err
	}
	r, err := o.GetOIDCAuthRequest(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get auth request: %w", err)
	}
	return authRequest{r: r}, nil
}

// AuthRequestByCode finds the request of an unused, unexpired code of an
// active person, read with the person in one query, whose session has not
// ended: a code of a session she signed out of, or left by signing in
// again, would give tokens that no later sign-out reaches (an ended
// session's tokens are revoked and its codes used up when it ends,
// OIDCSessionEnded; its codes are refused here too, also when its end
// did not reach the store's codes). The code is used up when the tokens
// are stored (storeTokens). A code used before is a
// replay: redeeming it again revokes the tokens issued from it (RFC 6749
// §4.1.2).
func (s *oidcStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	_, o, err := s.oidcStore()
	if err != nil {
		return nil, err
	}
	h, now := authn.HashToken(code), s.p.srv.now()
	r, u, err := o.GetOIDCAuthRequestByCode(ctx, h)
	if err != nil {
		return nil, fmt.Errorf("find code: %w", storageErr(err))
	}
	// A code of an ended session is refused first: its end used the code
	// up (RevokeOIDCSessionTokens) and revoked every token of the session,
	// so it is no replay to warn of.
	if err := s.sessionAlive(ctx, r.Session, now); err != nil {
		return nil, err
	}
	if r.CodeUsedAt.IsZero() && now.Before(r.CodeExpiresAt) {
		if u.ID != r.UserID || u.Status != authn.StatusActive {
			return nil, errors.New("code of an unknown or disabled person")
		}
		return authRequest{r: r, code: h, user: &u}, nil
	}
	err = o.RedeemOIDCCode(ctx, h, now)
	if errors.Is(err, authn.ErrUsed) {
		s.p.srv.logger.Warn("oidc: authorization code used twice; tokens issued from it revoked", "client", r.ClientID)
	}
	return nil, fmt.Errorf("redeem code: %w", storageErr(cmpErr(err, authn.ErrUsed)))
}

// sessionAlive refuses the code of a session that has ended (signed out,
// replaced by a new sign-in, ended by IT, or expired); the client gets
// invalid_grant.
func (s *oidcStorage) sessionAlive(ctx context.Context, h authn.SessionHash, now time.Time) error {
	st, _, err := s.oidcStore()
	if err != nil {
		return err
	}
	sess, err := st.GetSession(ctx, h)
	switch {
	case errors.Is(err, authn.ErrNotFound):
		return errors.New("code of an unknown session")
	case err != nil:
		return fmt.Errorf("read session of code: %w", storageErr(err))
	case !sess.Usable(now, 0):
		return errors.New("code of a session that has ended")
	}
	return nil
}

// SaveAuthCode attaches a code made by zitadel/oidc (not used by Keyhall's
// own code response, but kept consistent).
func (s *oidcStorage) SaveAuthCode(ctx context.Context, id, code string) error {
	_, o, err := s.oidcStore()
	if err != nil {
		return err
	}
	return o.SetOIDCCode(ctx, id, authn.HashToken(code), s.p.srv.now().Add(s.p.cfg.CodeLifetime))
}

// DeleteAuthRequest keeps the request: its used code must stay known so
// that a replay is recognised. DeleteOIDCBefore removes it later.
func (s *oidcStorage) DeleteAuthRequest(context.Context, string) error { return nil }

func (s *oidcStorage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	return s.p.signingKey(ctx)
}

func (s *oidcStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.ES256}, nil
}

func (s *oidcStorage) KeySet(ctx context.Context) ([]op.Key, error) {
	return s.p.publishedKeys(ctx)
}

// GetClientByClientID returns the client; at the end_session endpoint, as
// an endSessionClient.
func (s *oidcStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, ok := s.p.clients[id]
	if !ok {
		return nil, notFound{"client"}
	}
	if state, ok := ctx.Value(endSessionKey).(*endSessionState); ok {
		return endSessionClient{oidcClient: c, asked: state.postLogout}, nil
	}
	return c, nil
}

func (s *oidcStorage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	c, ok := s.p.clients[id]
	if !ok || !c.secretMatches(secret) {
		return errors.New("unknown client or wrong secret")
	}
	return nil
}

func (s *oidcStorage) Health(ctx context.Context) error {
	st, _ := s.p.store()
	if st == nil {
		return errNoStore
	}
	return st.Ping(ctx)
}

// SetUserinfoFromScopes is deprecated in zitadel/oidc, which calls it only
// when it makes an ID token itself; Keyhall's token endpoint makes them
// (oidcProvider.idToken).
func (s *oidcStorage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (s *oidcStorage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errors.New("introspection is not offered")
}

func (s *oidcStorage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *oidcStorage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("JWT client authentication is not offered")
}

func (s *oidcStorage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("the JWT profile grant is not offered")
}

// hasScope reports whether scopes holds s.
func hasScope(scopes []string, s string) bool { return slices.Contains(scopes, s) }
