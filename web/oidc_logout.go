package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/keyhall/keyhall/authn"
)

// endSessionState carries, through zitadel/oidc's EndSession, the
// browser's session and whether it was ended (so its cookie is cleared),
// and the post_logout_redirect_uri asked for (endSessionClient checks it).
type endSessionState struct {
	session    *authn.Session
	ended      bool
	postLogout string
}

// endSession is RP-initiated logout (OpenID Connect RP-Initiated Logout
// 1.0 §2): with a valid id_token_hint whose sid names the session signed
// in in this browser, Keyhall ends that session, revokes the tokens issued
// through it, tells the other clients by back-channel logout, and sends the
// browser to the registered post_logout_redirect_uri. A request that does
// not name this session ends nothing, whoever sends it: without a hint, or
// with the ID token of an earlier session (one that ended already) or of
// another person, it shows the account page, where the person may sign out
// herself (§2: the OP asks the person when the request does not show that
// she wants to). A browser without a session goes straight back.
func (p *oidcProvider) endSession(w http.ResponseWriter, r *http.Request) {
	state := &endSessionState{postLogout: r.FormValue("post_logout_redirect_uri")}
	sess, _, err := p.srv.currentSession(r)
	switch {
	case err == nil:
		state.session = &sess
	case !errors.Is(err, errNoSession):
		// Not knowing the session is not "nobody is signed in here": the
		// tool would be told she signed out while her session lives on.
		p.srv.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, fmt.Errorf("end session: read session: %w", err))
		return
	}
	ctx := context.WithValue(r.Context(), endSessionKey, state)
	op.EndSession(&clearOnEnd{ResponseWriter: w, state: state}, r.WithContext(ctx), p.op)
}

// clearOnEnd clears the session cookie in the response when the session
// was ended.
type clearOnEnd struct {
	http.ResponseWriter
	state *endSessionState
	wrote bool
}

func (w *clearOnEnd) WriteHeader(code int) {
	if !w.wrote && w.state.ended {
		http.SetCookie(w.ResponseWriter, hostCookie(SessionCookie, "", -1))
	}
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *clearOnEnd) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *clearOnEnd) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TerminateSessionFromRequest ends the browser's session when the
// id_token_hint names it: its sid is this session's (sessionSID).
func (s *oidcStorage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	state, _ := ctx.Value(endSessionKey).(*endSessionState)
	switch hint := req.IDTokenHintClaims; {
	case state == nil || state.session == nil:
		return req.RedirectURI, nil // nobody is signed in here: nothing to end
	case hint == nil || hint.SessionID == "" || hint.SessionID != sessionSID(state.session.Hash) ||
		state.session.UserID != req.UserID:
		return "/account", nil
	}
	st, _, err := s.oidcStore()
	if err != nil {
		return "", err
	}
	h := state.session.Hash
	if err := st.RevokeSession(ctx, h, s.p.srv.now()); err != nil && !errors.Is(err, authn.ErrNotFound) {
		return "", fmt.Errorf("end session: %w", err)
	}
	state.ended = true
	if err := s.p.srv.OIDCSessionEnded(ctx, h); err != nil {
		s.p.srv.logger.Warn("oidc: back-channel logout after RP-initiated logout", "err", err)
	}
	return req.RedirectURI, nil
}

// TerminateSession is not used: TerminateSessionFromRequest replaces it.
func (s *oidcStorage) TerminateSession(context.Context, string, string) error { return nil }

// OIDCSessionEnded is the hook for the end of one session (sign out): it
// revokes the OIDC tokens issued through it and sends a logout token to
// each client that holds some and has a back-channel logout URI. Delivery
// runs in the background, with retries; failures are logged.
func (s *Server) OIDCSessionEnded(ctx context.Context, h authn.SessionHash) error {
	return s.endOIDCTokens(func(o authn.OIDCStore) ([]authn.OIDCGrantRef, error) {
		return o.RevokeOIDCSessionTokens(ctx, h, s.now())
	})
}

// OIDCUserSignedOut is the hook for sign out everywhere, an IT reset and a
// disabled account: every OIDC token of the person is revoked and each
// client holding some is told, per session, by back-channel logout.
func (s *Server) OIDCUserSignedOut(ctx context.Context, userID string) error {
	return s.endOIDCTokens(func(o authn.OIDCStore) ([]authn.OIDCGrantRef, error) {
		return o.RevokeOIDCUserTokens(ctx, userID, s.now())
	})
}

// endOIDCTokens revokes tokens with revoke and tells the clients that held
// them (notify); nothing when there is no OIDC provider.
func (s *Server) endOIDCTokens(revoke func(authn.OIDCStore) ([]authn.OIDCGrantRef, error)) error {
	p := s.oidc
	if p == nil {
		return nil
	}
	_, o := p.store()
	if o == nil {
		return errNoStore
	}
	refs, err := revoke(o)
	if err != nil {
		return err
	}
	p.notify(refs)
	return nil
}

// notify starts a delivery for each ref whose client listens.
func (p *oidcProvider) notify(refs []authn.OIDCGrantRef) {
	for _, ref := range refs {
		c := p.clients[ref.ClientID]
		if c == nil || c.c.BackchannelLogoutURI == "" {
			continue
		}
		p.logouts.Add(1)
		go func() {
			defer p.logouts.Done()
			p.deliverLogout(c, ref)
		}()
	}
}

// deliverLogout POSTs a logout token to the client, retrying with a
// doubling pause (OpenID Back-Channel Logout 1.0 §2.5, §2.8).
func (p *oidcProvider) deliverLogout(c *oidcClient, ref authn.OIDCGrantRef) {
	ctx := context.Background()
	token, err := p.logoutToken(ctx, c, ref)
	if err != nil {
		p.srv.logger.Error("oidc: make logout token", "client", c.c.ID, "err", err)
		return
	}
	pause := p.cfg.BackchannelBackoff
	for attempt := 1; ; attempt++ {
		err = p.postLogout(ctx, c.c.BackchannelLogoutURI, token)
		if err == nil {
			return
		}
		if attempt >= p.cfg.BackchannelAttempts {
			p.srv.logger.Warn("oidc: back-channel logout failed", "client", c.c.ID, "attempts", attempt, "err", err)
			return
		}
		time.Sleep(pause)
		pause *= 2
	}
}

func (p *oidcProvider) postLogout(ctx context.Context, uri, token string) error {
	body := url.Values{"logout_token": {token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("post logout token: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("post logout token: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post logout token: status %d", resp.StatusCode)
	}
	return nil
}

// backchannelEvent is the event a logout token carries (§2.4).
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// logoutTokenLifetime is how long a logout token is valid.
const logoutTokenLifetime = 2 * time.Minute

// logoutToken makes the signed logout token of OpenID Back-Channel Logout
// 1.0 §2.4: iss, aud, iat, exp, jti, sub, sid, events; no nonce; typ
// logout+jwt.
func (p *oidcProvider) logoutToken(ctx context.Context, c *oidcClient, ref authn.OIDCGrantRef) (string, error) {
	k, err := p.signingKey(ctx)
	if err != nil {
		return "", err
	}
	now := p.srv.now()
	claims := map[string]any{
		"iss": p.issuer, "aud": c.c.ID, "iat": now.Unix(), "exp": now.Add(logoutTokenLifetime).Unix(),
		"jti": authn.NewID(), "sub": ref.UserID, "sid": sessionSID(ref.Session),
		"events": map[string]any{backchannelEvent: map[string]any{}},
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.id}},
		(&jose.SignerOptions{}).WithType("logout+jwt"))
	if err != nil {
		return "", fmt.Errorf("make signer: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign logout token: %w", err)
	}
	return jws.CompactSerialize()
}
