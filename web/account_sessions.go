package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// recentSignInCount is how many of her last sign-ins /account shows.
const recentSignInCount = 10

// accountNotices are the messages /account shows after a redirect (?e=).
var accountNotices = map[string]message{
	"revoked":  msgSessionRevoked,
	"password": msgPasswordChanged,
	// recover.go
	"recovery-cancelled": msgRecoverCancelled,
}

// signInRow is one of the person's recent sign-ins, from the audit log.
type signInRow struct {
	Time         time.Time
	ClientAddr   string
	Method       string // in plain words (methodWords)
	Tool         string // the OIDC client or forward-auth host it was for; "" for Keyhall itself
	ACR          string // in words
	RecoveryOnly bool
}

// recentSignIns reads the person's last sign-ins, newest first.
func (s *Server) recentSignIns(ctx context.Context, st authn.Store, userID, lang string) ([]signInRow, error) {
	evs, err := st.RecentAudit(ctx, "user:"+userID, "signin", recentSignInCount)
	if err != nil {
		return nil, fmt.Errorf("list recent sign-ins: %w", err)
	}
	out := make([]signInRow, 0, len(evs))
	for _, e := range evs {
		recovery := e.Details["recovery_only"] == "true"
		out = append(out, signInRow{Time: e.Time, ClientAddr: e.ClientAddr, ACR: inWords(lang, "acr.", e.Details["acr"]),
			Method: methodWords(lang, strings.Fields(e.Details["amr"]), recovery), Tool: s.toolName(e.Details["tool"]), RecoveryOnly: recovery})
	}
	return out, nil
}

// toolName is how people know the tool a sign-in recorded (toolOf): an
// OIDC client's configured name, else what was recorded (a client id, a
// forward-auth host).
func (s *Server) toolName(tool string) string {
	if s.oidc != nil {
		if c, ok := s.oidc.clients[tool]; ok && c.c.Name != "" {
			return c.c.Name
		}
	}
	return tool
}

// sessionHandle names a session on /account and in the form that ends it:
// the first 16 hex digits of the SHA-256 of its hash. The hash itself is
// what the store looks sessions up by and never leaves the server; the
// handle is matched only against the person's own sessions.
func sessionHandle(h authn.SessionHash) string { return h.Handle() }

// accountRevokeSession ends one of the signed-in person's sessions ("Dort
// abmelden"), named by its handle: revoked in the store, audited, and the
// tools that got tokens through it told by back-channel logout. Ending
// this browser's own session signs it out.
func (s *Server) accountRevokeSession(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	st, sess, u, ok := s.accountSession(w, r)
	if !ok {
		return
	}
	target, found, err := s.ownSession(r.Context(), st, u.ID, r.PostFormValue("session"))
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	if !found {
		s.fail(w, r, http.StatusNotFound, msgSessionUnknown, errors.New("no session of this person with that handle"))
		return
	}
	if err := s.endSession(r, st, u, target); err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	if target.Hash == sess.Hash {
		s.logout(w, r)
		return
	}
	http.Redirect(w, r, "/account?e=revoked", http.StatusSeeOther)
}

// ownSession finds the person's active session with the given handle.
func (s *Server) ownSession(ctx context.Context, st authn.Store, userID, handle string) (authn.Session, bool, error) {
	handle = strings.ToLower(strings.TrimSpace(handle))
	if len(handle) != 16 {
		return authn.Session{}, false, nil
	}
	all, err := st.ListUserSessions(ctx, userID, s.now())
	if err != nil {
		return authn.Session{}, false, fmt.Errorf("list sessions: %w", err)
	}
	for _, o := range all {
		if sessionHandle(o.Hash) == handle {
			return o, true, nil
		}
	}
	return authn.Session{}, false, nil
}

// endSession revokes target, records it in the audit log and ends the OIDC
// tokens issued through it (back-channel logout).
func (s *Server) endSession(r *http.Request, st authn.Store, u authn.User, target authn.Session) error {
	now := s.now()
	if err := st.RevokeSession(r.Context(), target.Hash, now); err != nil && !errors.Is(err, authn.ErrNotFound) {
		return fmt.Errorf("revoke session: %w", err)
	}
	if err := s.OIDCSessionEnded(r.Context(), target.Hash); err != nil {
		s.logger.Warn("could not end the OIDC tokens of a session", "user", u.ID, "err", err)
	}
	ev := authn.AuditEvent{
		Time: now, Actor: "user:" + u.ID, Action: "session.revoke", Subject: "user:" + u.ID, ClientAddr: s.clientAddr(r),
		Details: map[string]string{"session": sessionHandle(target.Hash), "device": deviceName(target.UserAgent),
			"client_addr": target.ClientAddr},
	}
	if err := st.AppendAudit(r.Context(), ev); err != nil {
		s.logger.Warn("could not record ending a session", "user", u.ID, "err", err)
	}
	return nil
}
