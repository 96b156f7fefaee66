package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/keyhall/keyhall/authn"
)

var (
	msgOIDCBadRequest = message{
		DE: "Die Anmeldeanfrage der Anwendung ist ungültig. Bitte wenden Sie sich an die IT.",
		EN: "The application's sign-in request is not valid. Please contact IT.",
	}
	msgOIDCRequestGone = message{
		DE: "Diese Anmeldung ist abgelaufen oder wurde schon verwendet. Bitte öffnen Sie die Anwendung erneut.",
		EN: "This sign-in has expired or was used already. Please open the application again.",
	}
	msgOIDCOtherBrowser = message{
		DE: "Diese Anmeldung wurde in einem anderen Browser begonnen. Bitte öffnen Sie die Anwendung in diesem Browser erneut.",
		EN: "This sign-in was started in another browser. Please open the application again in this browser.",
	}
	msgOIDCNotAllowed = message{
		DE: "Sie sind angemeldet, dürfen diese Anwendung aber nicht nutzen. Wenn Sie sie brauchen, wenden Sie sich an die IT.",
		EN: "You are signed in, but you may not use this application. If you need it, please contact IT.",
	}
	msgOIDCLevel = message{
		DE: "Diese Anwendung verlangt eine Anmeldung mit Sicherheitsschlüssel. Bitte melden Sie sich damit an oder wenden Sie sich an die IT.",
		EN: "This application needs a sign-in with a security key. Please sign in with it or contact IT.",
	}
)

// maxLoginRounds bounds how often one request sends the person to sign in.
const maxLoginRounds = 3

// continueAuth is where a browser goes after the authorization endpoint
// and after each sign-in. It issues a code only when this browser began the
// request, the session is usable, fresh enough (prompt=login, max_age),
// strong enough (the client's level, acr_values: otherwise step-up) and
// the person is in the client's groups. The library's own callback, which
// checks only that sign-in finished, is not served.
func (p *oidcProvider) continueAuth(w http.ResponseWriter, r *http.Request) {
	st, o := p.store()
	if o == nil {
		p.srv.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, errNoStore)
		return
	}
	now := p.srv.now()
	ar, err := o.GetOIDCAuthRequest(r.Context(), r.URL.Query().Get("id"))
	switch {
	case errors.Is(err, authn.ErrNotFound):
		p.srv.fail(w, r, http.StatusBadRequest, msgOIDCRequestGone, err)
		return
	case err != nil:
		p.srv.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	case ar.Done() || !now.Before(ar.ExpiresAt):
		p.srv.fail(w, r, http.StatusBadRequest, msgOIDCRequestGone, errors.New("oidc request done or expired"))
		return
	case !boundToThisBrowser(r, ar):
		p.srv.fail(w, r, http.StatusForbidden, msgOIDCOtherBrowser, errors.New("oidc request from another browser"))
		return
	}
	c := p.clients[ar.ClientID]
	if c == nil {
		p.srv.fail(w, r, http.StatusBadRequest, msgOIDCBadRequest, errors.New("oidc request of a client no longer configured"))
		return
	}
	sess, u, err := p.srv.currentSession(r)
	if err != nil && !errors.Is(err, errNoSession) {
		p.srv.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	if !p.signInGoodEnough(w, r, ar, c, sess, err == nil) {
		return
	}
	if !p.inClientGroups(w, r, st, ar, c, u) {
		return
	}
	p.issueCode(w, r, o, ar, sess)
}

// signInGoodEnough checks the session against the request; when it falls
// short it sends the person to sign in (or, for prompt=none, the client an
// error) and returns false.
func (p *oidcProvider) signInGoodEnough(w http.ResponseWriter, r *http.Request, ar authn.OIDCAuthRequest, c *oidcClient, sess authn.Session, ok bool) bool {
	silent := slices.Contains(ar.Prompt, oidc.PromptNone)
	if silent && ar.HintSubject != "" && (!ok || sess.UserID != ar.HintSubject) {
		// OIDC Core §3.1.2.1: the person the id_token_hint names is not
		// signed in here; whoever is must not be answered in her place.
		p.redirectError(w, r, ar.RedirectURI, ar.State, oidc.ErrLoginRequired().WithDescription("the person of id_token_hint is not signed in"))
		return false
	}
	if ok && sess.RecoveryOnly {
		if silent {
			p.redirectError(w, r, ar.RedirectURI, ar.State, oidc.ErrInteractionRequired().WithDescription("the person must set up a new factor first"))
			return false
		}
		// Her factors, to add a key or app and sign in with it, then on
		// here (recoveryonly.go): not a new sign-in with another code.
		http.Redirect(w, r, factorsFirst(r.URL.RequestURI()), http.StatusFound)
		return false
	}
	need := requiredLevel(c, ar.ACRValues)
	// A sign-in after the request began is always fresh enough; an older
	// one only within max_age (prompt=login makes max_age 0).
	stale := ok && ar.MaxAge >= 0 && sess.AuthTime.Before(ar.CreatedAt) && p.srv.now().Sub(sess.AuthTime) > ar.MaxAge
	weak := ok && !authn.Level(sess.ACR).Meets(need)
	if ok && !stale && !weak {
		return true
	}
	if silent {
		e := oidc.ErrLoginRequired()
		if ok {
			e = oidc.ErrInteractionRequired().WithDescription("a fresh or stronger sign-in is needed")
		}
		p.redirectError(w, r, ar.RedirectURI, ar.State, e)
		return false
	}
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	if n >= maxLoginRounds {
		p.srv.fail(w, r, http.StatusForbidden, msgOIDCLevel, errors.New("sign-in did not reach the level or freshness needed"))
		return false
	}
	http.Redirect(w, r, loginURL(ar.ID, n+1, need, stale || !ok && ar.MaxAge == 0), http.StatusFound)
	return false
}

// inClientGroups shows a clear page (for prompt=none: answers the client
// access_denied) and returns false when the client does not admit the
// person (Server.admits).
func (p *oidcProvider) inClientGroups(w http.ResponseWriter, r *http.Request, st authn.Store, ar authn.OIDCAuthRequest, c *oidcClient, u authn.User) bool {
	groups, err := groupNames(r.Context(), st, u.ID)
	if err != nil {
		p.srv.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return false
	}
	if p.srv.admits(c.c.Groups, groups) {
		return true
	}
	if slices.Contains(ar.Prompt, oidc.PromptNone) {
		p.redirectError(w, r, ar.RedirectURI, ar.State, oidc.ErrAccessDenied().WithDescription("the person may not use this client"))
		return false
	}
	p.srv.fail(w, r, http.StatusForbidden, msgOIDCNotAllowed, errors.New("person outside the client's groups"))
	return false
}

// issueCode marks the request done with the session's sign-in, stores the
// hash of a new code and sends the browser to the client with code, state
// and iss (RFC 9207 §2).
func (p *oidcProvider) issueCode(w http.ResponseWriter, r *http.Request, o authn.OIDCStore, ar authn.OIDCAuthRequest, sess authn.Session) {
	now := p.srv.now()
	in := authn.OIDCSignIn{UserID: sess.UserID, AMR: sess.AMR, ACR: sess.ACR, AuthTime: sess.AuthTime, Session: sess.Hash}
	err := o.CompleteOIDCAuthRequest(r.Context(), ar.ID, in, now)
	if errors.Is(err, authn.ErrUsed) || errors.Is(err, authn.ErrExpired) || errors.Is(err, authn.ErrNotFound) {
		p.srv.fail(w, r, http.StatusBadRequest, msgOIDCRequestGone, err)
		return
	}
	code := newSecretToken()
	if err == nil {
		err = o.SetOIDCCode(r.Context(), ar.ID, authn.HashToken(code), now.Add(p.cfg.CodeLifetime))
	}
	if err != nil {
		p.srv.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	v := url.Values{"code": {code}, "iss": {p.issuer}}
	if ar.State != "" {
		v.Set("state", ar.State)
	}
	http.Redirect(w, r, withQuery(ar.RedirectURI, v), http.StatusFound)
}
