package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// discovery answers /.well-known/openid-configuration (OpenID Connect
// Discovery 1.0 §4) with only what Keyhall offers: the code flow, S256,
// ES256, and no introspection, device or implicit grants.
func (p *oidcProvider) discovery(w http.ResponseWriter, r *http.Request) {
	c := op.CreateDiscoveryConfig(r.Context(), p.op, p.storage)
	c.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	c.ResponseModesSupported = []string{string(oidc.ResponseModeQuery)}
	c.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
	c.TokenEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodNone, oidc.AuthMethodBasic, oidc.AuthMethodPost}
	c.RevocationEndpointAuthMethodsSupported = c.TokenEndpointAuthMethodsSupported
	c.TokenEndpointAuthSigningAlgValuesSupported = nil
	c.RevocationEndpointAuthSigningAlgValuesSupported = nil
	c.IntrospectionEndpoint, c.IntrospectionEndpointAuthMethodsSupported = "", nil
	c.IntrospectionEndpointAuthSigningAlgValuesSupported = nil
	c.DeviceAuthorizationEndpoint, c.CheckSessionIframe = "", ""
	c.RequestObjectSigningAlgValuesSupported = nil
	c.ACRValuesSupported = []string{"mfa", "phr", "phrh"}
	b, err := json.Marshal(c)
	var doc map[string]any
	if err == nil {
		err = json.Unmarshal(b, &doc)
	}
	if err != nil {
		p.srv.fail(w, r, http.StatusInternalServerError, msgInternal, err)
		return
	}
	doc["authorization_response_iss_parameter_supported"] = true // RFC 9207 §3
	w.Header().Set("Cache-Control", "public, max-age=300")
	p.srv.writeJSONCached(w, doc)
}

// keys answers the JWKS: the signing key and the retired keys whose tokens
// may still be valid (publishedKeys).
func (p *oidcProvider) keys(w http.ResponseWriter, r *http.Request) {
	if _, o := p.store(); o == nil {
		p.srv.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, errNoStore)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	op.Keys(w, r, p.storage)
}

// token is the token endpoint: the authorization code and refresh token
// grants only (oidc_idtoken.go).
func (p *oidcProvider) token(w http.ResponseWriter, r *http.Request) {
	switch gt := r.FormValue("grant_type"); oidc.GrantType(gt) {
	case oidc.GrantTypeCode:
		p.codeExchange(w, r)
	case oidc.GrantTypeRefreshToken:
		p.refreshExchange(w, r)
	case "":
		op.RequestError(w, r, oidc.ErrInvalidRequest().WithDescription("grant_type missing"), nil)
	default:
		op.RequestError(w, r, oidc.ErrUnsupportedGrantType().WithDescription("only authorization_code and refresh_token are offered"), nil)
	}
}

// writeJSONCached writes v as JSON with the Cache-Control already set.
func (s *Server) writeJSONCached(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.logger.Debug("write response", "err", err)
	}
}

// tokenError answers a failed token request: 503 when the database failed
// (unavailable), else the OAuth error zitadel/oidc makes of err.
func (p *oidcProvider) tokenError(w http.ResponseWriter, r *http.Request, err error) {
	if isStorageFailure(err) {
		p.unavailable(w, r, err)
		return
	}
	op.RequestError(w, r, err, nil)
}

// unavailable answers 503 with OAuth's temporarily_unavailable and a
// Retry-After: the database failed, so nothing is known about the token or
// code the client sent, and the client must keep it and try again later
// (RFC 6749 §4.1.2.1; RFC 9110 §15.6.4).
func (p *oidcProvider) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	p.srv.logger.Warn("oidc: database unavailable", "path", r.URL.Path, "err", err)
	w.Header().Set("Retry-After", "5")
	httphelper.MarshalJSONWithStatus(w, &oidc.Error{ErrorType: oauthTemporarilyUnavailable,
		Description: "the service is temporarily unavailable; please try again shortly"}, http.StatusServiceUnavailable)
}

// oauthTemporarilyUnavailable is OAuth's error code for a server that
// cannot answer for now (RFC 6749 §4.1.2.1).
const oauthTemporarilyUnavailable = "temporarily_unavailable"

// userinfo is the userinfo endpoint (OIDC Core §5.3), as op.Userinfo, but a
// storage failure is a 503, not a 403.
func (p *oidcProvider) userinfo(w http.ResponseWriter, r *http.Request) {
	token, err := op.ParseUserinfoRequest(r, p.op.Decoder())
	if err != nil || token == "" {
		http.Error(w, "access token missing", http.StatusUnauthorized)
		return
	}
	tokenID, subject, ok := p.accessTokenID(token)
	if !ok {
		http.Error(w, "access token invalid", http.StatusUnauthorized)
		return
	}
	info := new(oidc.UserInfo)
	if err := p.storage.SetUserinfoFromToken(r.Context(), info, tokenID, subject, r.Header.Get("Origin")); err != nil {
		if isStorageFailure(err) {
			p.unavailable(w, r, err)
			return
		}
		e := oidc.ErrAccessDenied().WithDescription("access token is not valid").WithParent(err)
		errors.As(err, &e)
		httphelper.MarshalJSONWithStatus(w, e, http.StatusForbidden)
		return
	}
	httphelper.MarshalJSON(w, info)
}

// accessTokenID returns the token ID and subject an access token carries
// (encrypted "id:subject", accessTokenCrypto).
func (p *oidcProvider) accessTokenID(token string) (id, subject string, ok bool) {
	plain, err := p.op.Crypto().Decrypt(token)
	if err != nil {
		return "", "", false
	}
	id, subject, ok = strings.Cut(plain, ":")
	return id, subject, ok && !strings.Contains(subject, ":")
}

// revoke is the revocation endpoint (RFC 7009), as op.Revoke, but a
// storage failure is a 503, not a 500.
func (p *oidcProvider) revoke(w http.ResponseWriter, r *http.Request) {
	token, hint, clientID, err := op.ParseTokenRevocationRequest(r, p.op)
	if err != nil {
		op.RevocationRequestError(w, r, err)
		return
	}
	var subject string
	found := false
	if hint != "access_token" {
		userID, tokenID, err := p.storage.GetRefreshTokenInfo(r.Context(), clientID, token)
		switch {
		case err == nil:
			token, subject, found = tokenID, userID, true
		case !errors.Is(err, op.ErrInvalidRefreshToken):
			p.revocationError(w, r, oidc.ErrServerError().WithParent(err))
			return
		}
	}
	if !found {
		if id, sub, ok := p.accessTokenID(token); ok {
			token, subject = id, sub
		}
	}
	if err := p.storage.RevokeToken(r.Context(), token, subject, clientID); err != nil {
		p.revocationError(w, r, err)
		return
	}
	httphelper.MarshalJSON(w, nil)
}

func (p *oidcProvider) revocationError(w http.ResponseWriter, r *http.Request, err error) {
	if isStorageFailure(err) {
		p.unavailable(w, r, err)
		return
	}
	op.RevocationRequestError(w, r, err)
}
