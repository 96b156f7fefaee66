package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/keyhall/keyhall/authn"
)

// The token endpoint parses and checks a request with zitadel/oidc
// (op.ParseAccessTokenRequest, op.ValidateAccessTokenRequest and their
// refresh token twins: the client, PKCE, the redirect URI) and stores the
// tokens through oidcStorage (op.CreateAccessToken), but makes the ID token
// itself, a JWS like the one go-jose makes for zitadel/oidc (signJWT):
// zitadel/oidc's op.CreateIDToken marshals the claims three times (struct,
// map, merged map) and builds a signer per token, which was most of the
// endpoint's CPU time. The access token's encryption is Keyhall's too
// (accessTokenCrypto).

// codeExchange answers the authorization code grant (RFC 6749 §4.1.3, OIDC
// Core §3.1.3), as op.CodeExchange does.
func (p *oidcProvider) codeExchange(w http.ResponseWriter, r *http.Request) {
	req, err := op.ParseAccessTokenRequest(r, p.op.Decoder())
	if err != nil {
		op.RequestError(w, r, err, nil)
		return
	}
	if req.Code == "" {
		op.RequestError(w, r, oidc.ErrInvalidRequest().WithDescription("code missing"), nil)
		return
	}
	if !validCodeVerifier(req.CodeVerifier) {
		op.RequestError(w, r, oidc.ErrInvalidRequest().WithDescription("code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1)"), nil)
		return
	}
	ar, client, err := op.ValidateAccessTokenRequest(r.Context(), req, p.op)
	if err != nil {
		p.tokenError(w, r, err)
		return
	}
	p.respondTokens(w, r, ar, client, req.Code, "")
}

// validCodeVerifier reports whether v is a code_verifier as RFC 7636 §4.1
// defines it: 43 to 128 unreserved characters. A shorter one could be
// guessed from its challenge.
func validCodeVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, c := range []byte(v) {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

// refreshExchange answers the refresh token grant (RFC 6749 §6, OIDC Core
// §12), as op.RefreshTokenExchange does.
func (p *oidcProvider) refreshExchange(w http.ResponseWriter, r *http.Request) {
	req, err := op.ParseRefreshTokenRequest(r, p.op.Decoder())
	if err != nil {
		op.RequestError(w, r, err, nil)
		return
	}
	rr, client, err := op.ValidateRefreshTokenRequest(r.Context(), req, p.op)
	if err != nil {
		p.tokenError(w, r, err)
		return
	}
	p.respondTokens(w, r, rr, client, "", req.RefreshToken)
}

// tokenRequest is what both grants hand to respondTokens: authRequest or
// *refreshRequest.
type tokenRequest interface {
	op.TokenRequest
	op.IDTokenRequest
}

// respondTokens stores the access token (and refresh token) of req, makes
// the ID token and answers (RFC 6749 §5.1), as op.CreateTokenResponse does.
func (p *oidcProvider) respondTokens(w http.ResponseWriter, r *http.Request, req tokenRequest, client op.Client, code, refreshToken string) {
	ctx := r.Context()
	c, ok := client.(*oidcClient)
	if !ok {
		op.RequestError(w, r, oidc.ErrServerError().WithParent(fmt.Errorf("unexpected client %T", client)), nil)
		return
	}
	// Everything the ID token needs is read first: creating the access
	// token uses the refresh token up (rotation), so a read failing after
	// it would leave the tool with a 503 and a used refresh token, whose
	// retry looks like reuse and ends the whole grant.
	k, claims, err := p.idTokenClaims(ctx, req, c, code)
	if err != nil {
		p.tokenError(w, r, err)
		return
	}
	access, refresh, validity, err := op.CreateAccessToken(ctx, req, c.AccessTokenType(), p.op, c, refreshToken)
	if err != nil {
		p.tokenError(w, r, err)
		return
	}
	claims.AtHash = halfHash(access)
	idToken, err := k.signJWT(claims)
	if err != nil {
		p.tokenError(w, r, err)
		return
	}
	httphelper.MarshalJSON(w, &oidc.AccessTokenResponse{
		AccessToken:  access,
		IDToken:      idToken,
		RefreshToken: refresh,
		TokenType:    oidc.BearerToken,
		ExpiresIn:    uint64(validity.Seconds()),
		Scope:        req.GetScopes(),
	})
}

// idTokenClaims are the claims of an ID token (OIDC Core §2, §3.1.3.6,
// §5.1), the ones zitadel/oidc's op.CreateIDToken writes for Keyhall.
type idTokenClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	AuthTime int64    `json:"auth_time,omitempty"`
	Nonce    string   `json:"nonce,omitempty"`
	ACR      string   `json:"acr,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	AZP      string   `json:"azp"`
	ClientID string   `json:"client_id"`
	AtHash   string   `json:"at_hash,omitempty"`
	CHash    string   `json:"c_hash,omitempty"`
	SID      string   `json:"sid,omitempty"`
	userClaims
}

// idTokenClaims reads what the ID token of req for client c says, and the
// key to sign it with; the access token's hash is the caller's to add.
func (p *oidcProvider) idTokenClaims(ctx context.Context, req tokenRequest, c *oidcClient, code string) (*signingKey, idTokenClaims, error) {
	k, err := p.signingKey(ctx)
	if err != nil {
		return nil, idTokenClaims{}, err
	}
	g, err := p.storage.grantOf(req)
	if err != nil {
		return nil, idTokenClaims{}, err
	}
	now := time.Now() // as zitadel/oidc: the token's times are the real ones
	claims := idTokenClaims{
		Issuer:   op.IssuerFromContext(ctx),
		Subject:  req.GetSubject(),
		Audience: oidc.AppendClientIDToAudience(c.GetID(), req.GetAudience()),
		Expiry:   now.Add(c.IDTokenLifetime()).Unix(),
		IssuedAt: now.Unix(),
		ACR:      g.ACR,
		AMR:      req.GetAMR(),
		AZP:      c.GetID(),
		ClientID: c.GetID(),
	}
	if t := req.GetAuthTime(); !t.IsZero() {
		claims.AuthTime = t.Unix()
	}
	if ar, ok := req.(authRequest); ok {
		claims.Nonce = ar.r.Nonce
	}
	if code != "" {
		claims.CHash = halfHash(code)
	}
	if g.Session != (authn.SessionHash{}) && g.GrantID != "" {
		claims.SID = sessionSID(g.Session)
	}
	claims.userClaims, err = p.storage.userClaims(ctx, req.GetSubject(), userOf(req), c.RestrictAdditionalIdTokenScopes()(req.GetScopes()))
	if err != nil {
		return nil, idTokenClaims{}, err
	}
	return k, claims, nil
}

// halfHash is at_hash and c_hash for ES256: the left half of the SHA-256,
// base64url (OIDC Core §3.1.3.6).
func halfHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// signJWT signs claims as a compact JWS with ES256 (RFC 7515 §7.1, RFC 7518
// §3.4: the signature is R and S, 32 bytes each), as go-jose does, but
// with the header encoded once per key (jwsHeader): go-jose marshals the
// header and copies the token several times per signature.
func (k *signingKey) signJWT(claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	enc := base64.RawURLEncoding
	n := len(k.header) + 1 + enc.EncodedLen(len(payload))
	tok := make([]byte, 0, n+1+enc.EncodedLen(2*p256Size))
	tok = append(append(tok, k.header...), '.')
	tok = enc.AppendEncode(tok, payload)
	sum := sha256.Sum256(tok)
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	var sig [2 * p256Size]byte
	r.FillBytes(sig[:p256Size])
	s.FillBytes(sig[p256Size:])
	return string(enc.AppendEncode(append(tok, '.'), sig[:])), nil
}

// p256Size is the size of a P-256 scalar in bytes.
const p256Size = 32

// jwsHeader is the protected header of the ID tokens signed with key id,
// base64url: what go-jose writes for ES256 with typ JWT.
func jwsHeader(id string) (string, error) {
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{string(jose.ES256), id, "JWT"})
	if err != nil {
		return "", fmt.Errorf("encode header: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(h), nil
}
