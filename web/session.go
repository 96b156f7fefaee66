package web

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// SessionCookie is the name of the cookie that carries a session id. The
// __Host- prefix makes the browser insist on Secure, Path=/ and no Domain.
const SessionCookie = "__Host-keyhall"

// sessionIDLen is the length of a session id in bytes (256 bits).
const sessionIDLen = 32

// sessionIDEncodedLen is the length of a session id in a cookie.
const sessionIDEncodedLen = (sessionIDLen*8 + 5) / 6

// errNoSession means the request carries no usable session: no cookie, a
// garbled one, an unknown, revoked or expired session, or a disabled person.
var errNoSession = errors.New("no usable session")

// sessionIDEncoding is unpadded base64url that refuses non-zero trailing
// bits, made once (Strict returns a new Encoding on every call).
var sessionIDEncoding = base64.RawURLEncoding.Strict()

// parseSessionCookie decodes a cookie value into a session id: exactly 32
// bytes in unpadded base64url, nothing else.
func parseSessionCookie(v string) ([]byte, error) {
	if len(v) != sessionIDEncodedLen {
		return nil, fmt.Errorf("session cookie has %d characters", len(v))
	}
	id, err := sessionIDEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("decode session cookie: %w", err)
	}
	if len(id) != sessionIDLen { // base64 skips CR and LF
		return nil, fmt.Errorf("session cookie holds %d bytes", len(id))
	}
	return id, nil
}

// sessionCookieHash returns the hash of the session id in a cookie value
// (see parseSessionCookie), or false when the value is not a session id.
// It allocates nothing: forward-auth calls it for every request a proxy
// guards.
func sessionCookieHash(v string) (authn.SessionHash, bool) {
	var enc [sessionIDEncodedLen]byte
	var id [sessionIDLen]byte
	if len(v) != len(enc) {
		return authn.SessionHash{}, false
	}
	copy(enc[:], v)
	if n, err := sessionIDEncoding.Decode(id[:], enc[:]); err != nil || n != len(id) {
		return authn.SessionHash{}, false
	}
	return authn.HashSessionID(id[:]), true
}

// currentSession returns the request's signed-in session and person, read
// through the gorilla session store. It returns errNoSession when there is
// none, and any other error when the database could not be asked (the
// caller answers 503: fail closed).
func (s *Server) currentSession(r *http.Request) (authn.Session, authn.User, error) {
	gs, err := s.sessions.Get(r, SessionCookie)
	if err != nil {
		return authn.Session{}, authn.User{}, err
	}
	sess, ok1 := gs.Values[valSession].(authn.Session)
	u, ok2 := gs.Values[valUser].(authn.User)
	if gs.IsNew || !ok1 || !ok2 {
		return authn.Session{}, authn.User{}, errNoSession
	}
	return sess, u, nil
}

// sessionInfo tells the pages' script (and a curious tool) who is signed in.
func (s *Server) sessionInfo(w http.ResponseWriter, r *http.Request) {
	if s.storeFor(w, r) == nil {
		return
	}
	sess, u, err := s.currentSession(r)
	if errors.Is(err, errNoSession) {
		s.fail(w, r, http.StatusUnauthorized, msgNotSignedIn, nil)
		return
	}
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	// A session from a recovery code may only add a factor: to a script
	// asking who is signed in, it is no one's sign-in yet.
	if sess.RecoveryOnly {
		s.fail(w, r, http.StatusForbidden, msgFactorRecoveryOnly, errors.New("a recovery-only session asked who is signed in"))
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{
		"sub":                u.ID,
		"preferred_username": u.Username,
		"name":               u.DisplayName,
		"amr":                sess.AMR,
		"acr":                sess.ACR,
		"auth_time":          sess.AuthTime.Unix(),
		"expires_at":         sess.ExpiresAt.UTC().Format(time.RFC3339),
	})
}
