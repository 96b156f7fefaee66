package web

import (
	"encoding/json"
	"net/http"

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

// keys answers the JWKS with the one public signing key.
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

func (p *oidcProvider) userinfo(w http.ResponseWriter, r *http.Request) { op.Userinfo(w, r, p.op) }

func (p *oidcProvider) revoke(w http.ResponseWriter, r *http.Request) { op.Revoke(w, r, p.op) }

// writeJSONCached writes v as JSON with the Cache-Control already set.
func (s *Server) writeJSONCached(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.logger.Debug("write response", "err", err)
	}
}
