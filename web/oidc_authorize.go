package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/keyhall/keyhall/authn"
)

// BindingCookie ties an authorization request to the browser that began
// it: a random 256-bit value, kept for the browser session and shared by
// the requests of all tabs; the store keeps its SHA-256 with each request.
const BindingCookie = "__Host-keyhall-oidc"

// authorize is the authorization endpoint (OIDC Core §3.1.2). It validates
// the request (the client, its exact redirect URI, response_type=code,
// PKCE with S256), binds it to this browser, stores it, and sends the
// browser on to oidcContinuePath, which signs the person in if needed.
func (p *oidcProvider) authorize(w http.ResponseWriter, r *http.Request) {
	req, err := op.ParseAuthorizeRequest(r, p.op.Decoder())
	if err != nil {
		p.authError(w, r, nil, err)
		return
	}
	hintSubject, redirectOK, err := p.validateAuthRequest(r.Context(), req, r.Form.Get("request_uri"))
	if err != nil {
		if !redirectOK {
			req = nil
		}
		p.authError(w, r, req, err)
		return
	}
	binding := p.bindBrowser(w, r)
	ctx := context.WithValue(r.Context(), bindingKey, sha256.Sum256(binding))
	ar, err := p.storage.CreateAuthRequest(ctx, req, hintSubject)
	if err != nil {
		p.authError(w, r, req, oidc.DefaultToServerError(err, "could not store the request"))
		return
	}
	http.Redirect(w, r, oidcContinuePath+"?id="+url.QueryEscape(ar.GetID()), http.StatusFound)
}

// validateAuthRequest checks req beyond what zitadel/oidc checks, with the
// request's request_uri (which zitadel/oidc does not read). It returns the
// subject of a valid id_token_hint ("" for none). redirectOK tells whether
// the redirect URI was verified, so an error may be sent there.
func (p *oidcProvider) validateAuthRequest(ctx context.Context, req *oidc.AuthRequest, requestURI string) (hintSubject string, redirectOK bool, err error) {
	c, ok := p.clients[req.ClientID]
	if !ok {
		return "", false, oidc.ErrInvalidRequestRedirectURI().WithDescription("unknown client_id")
	}
	if !c.redirectAllowed(req.RedirectURI) {
		return "", false, oidc.ErrInvalidRequestRedirectURI().WithDescription("redirect_uri is not registered for this client")
	}
	if err := checkAuthRequest(req, requestURI); err != nil {
		return "", true, err
	}
	sub, err := op.ValidateAuthRequestClient(ctx, req, c, p.op.IDTokenHintVerifier(ctx))
	if err != nil {
		return "", true, err
	}
	return sub, true, nil
}

// oauthRequestURINotSupported is the error for a request_uri (OIDC Core
// §6.3; RFC 9101 §10.2 registers the code).
const oauthRequestURINotSupported = "request_uri_not_supported"

// checkAuthRequest refuses what Keyhall does not offer: request objects,
// by value or by reference, other response types and modes, and a request
// without PKCE S256.
func checkAuthRequest(req *oidc.AuthRequest, requestURI string) error {
	switch {
	case req.RequestParam != "":
		return oidc.ErrRequestNotSupported()
	case requestURI != "":
		return &oidc.Error{ErrorType: oauthRequestURINotSupported, Description: "request_uri is not offered"}
	case req.ResponseType != oidc.ResponseTypeCode:
		return oidc.ErrUnauthorizedClient().WithDescription("only response_type=code is offered")
	case req.ResponseMode != "" && req.ResponseMode != oidc.ResponseModeQuery:
		return oidc.ErrInvalidRequest().WithDescription("only response_mode=query is offered")
	case req.CodeChallenge == "":
		// RFC 9700 §2.1.1: PKCE for every client, confidential ones too.
		return oidc.ErrInvalidRequest().WithDescription("code_challenge is required (PKCE with S256)")
	case req.CodeChallengeMethod != oidc.CodeChallengeMethodS256:
		return oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	case len(req.CodeChallenge) != 43:
		// RFC 7636 §4.2: BASE64URL(SHA256(code_verifier)), 43 characters.
		return oidc.ErrInvalidRequest().WithDescription("code_challenge must be the 43-character S256 hash of the code_verifier")
	}
	return nil
}

// bindBrowser returns the browser's binding value, setting a new one when
// it has none.
func (p *oidcProvider) bindBrowser(w http.ResponseWriter, r *http.Request) []byte {
	if c, err := r.Cookie(BindingCookie); err == nil {
		if v, err := parseSessionCookie(c.Value); err == nil {
			return v
		}
	}
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go ≥ 1.24)
	http.SetCookie(w, hostCookie(BindingCookie, base64.RawURLEncoding.EncodeToString(b[:]), 0))
	return b[:]
}

// boundToThisBrowser reports whether the request carries the binding
// cookie of ar (compared in constant time).
func boundToThisBrowser(r *http.Request, ar authn.OIDCAuthRequest) bool {
	c, err := r.Cookie(BindingCookie)
	if err != nil {
		return false
	}
	v, err := parseSessionCookie(c.Value)
	if err != nil {
		return false
	}
	sum := sha256.Sum256(v)
	return subtle.ConstantTimeCompare(sum[:], ar.Binding[:]) == 1
}

// authError answers a failed authorization request: to the client's
// redirect URI when req is given and the error allows it (with iss, RFC
// 9207 §2), else with a page for the person.
func (p *oidcProvider) authError(w http.ResponseWriter, r *http.Request, req *oidc.AuthRequest, err error) {
	e := oidc.DefaultToServerError(err, "authorization request failed")
	if req == nil || req.RedirectURI == "" || e.IsRedirectDisabled() {
		p.srv.fail(w, r, http.StatusBadRequest, msgOIDCBadRequest, err)
		return
	}
	p.redirectError(w, r, req.RedirectURI, req.State, e)
}

// redirectError sends an OAuth error to a verified redirect URI.
func (p *oidcProvider) redirectError(w http.ResponseWriter, r *http.Request, redirectURI, state string, e *oidc.Error) {
	p.srv.logger.Debug("oidc: authorization error to client", "error", e.ErrorType, "description", e.Description)
	v := url.Values{"error": {string(e.ErrorType)}, "iss": {p.issuer}}
	if e.Description != "" {
		v.Set("error_description", e.Description)
	}
	if state != "" {
		v.Set("state", state)
	}
	http.Redirect(w, r, withQuery(redirectURI, v), http.StatusFound)
}

// withQuery adds v to the query of uri, keeping what it has (OAuth 2.0
// redirect URIs may carry a query, RFC 6749 §3.1.2).
func withQuery(uri string, v url.Values) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	q := u.Query()
	for k, vs := range v {
		for _, x := range vs {
			q.Add(k, x)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// requiredLevel is the level a sign-in must reach for a request: the
// client's, raised to the lowest known level the client asked for in
// acr_values (the client accepts any of them).
func requiredLevel(c *oidcClient, acrValues []string) authn.Level {
	var asked []authn.Level
	for _, v := range acrValues {
		switch l := authn.Level(v); l {
		case authn.LevelMFA, authn.LevelPhr, authn.LevelPhrh:
			asked = append(asked, l)
		}
	}
	need := c.c.Level
	if len(asked) > 0 {
		low := slices.MinFunc(asked, func(a, b authn.Level) int {
			switch {
			case a == b:
				return 0
			case b.Meets(a):
				return -1
			}
			return 1
		})
		if low.Meets(need) {
			need = low
		}
	}
	return need
}

// loginURL sends the person to sign in (again), coming back to the
// request: with need=key when a security key is needed, prompt=login when
// a fresh sign-in is. n counts the rounds, so a sign-in page that cannot
// raise the level does not make a loop.
func loginURL(id string, n int, need authn.Level, fresh bool) string {
	back := oidcContinuePath + "?" + url.Values{"id": {id}, "n": {strconv.Itoa(n)}}.Encode()
	v := url.Values{"return_to": {back}}
	if need == authn.LevelPhr || need == authn.LevelPhrh {
		v.Set("need", "key")
		v.Set("level", string(need))
	}
	if fresh {
		v.Set("prompt", "login")
	}
	return "/login?" + v.Encode()
}
