package web

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"

	"github.com/gorilla/sessions"
	"github.com/keyhall/keyhall/authn"
)

// sessionValue names what a gorilla Session's Values hold.
type sessionValue int

const (
	valSession sessionValue = iota // authn.Session
	valUser                        // authn.User
)

// errStoreNotOpen means the database is not open yet: fail closed.
var errStoreNotOpen = errors.New("database not open yet")

// sessionStore is a gorilla sessions.Store whose cookie holds only the
// session's random id (unpadded base64url) and whose data lives in authn's
// Store, under the id's SHA-256. authn.SignIn creates the session row; this
// store reads it back, writes the cookie, and revokes the row when the
// session is saved with MaxAge < 0 (sign out).
type sessionStore struct {
	srv *Server
}

var _ sessions.Store = (*sessionStore)(nil)

// cookieOptions are the session cookie's flags: a browser-session cookie;
// the idle and absolute timeouts are enforced by the server.
func cookieOptions() *sessions.Options {
	return &sessions.Options{Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// Get returns the request's session, read once per request.
func (ss *sessionStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(ss, name)
}

// New reads the session named by the request's cookie. It always returns a
// session; IsNew is true when there is no usable one (no cookie, a garbled,
// unknown, revoked or timed-out one, or a disabled person). The error is
// non-nil only when the database could not be asked: the caller must fail
// closed.
func (ss *sessionStore) New(r *http.Request, name string) (*sessions.Session, error) {
	gs := sessions.NewSession(ss, name)
	gs.Options = cookieOptions()
	gs.IsNew = true
	c, err := r.Cookie(name)
	if err != nil {
		return gs, nil
	}
	h, ok := sessionCookieHash(c.Value)
	if !ok {
		return gs, nil
	}
	ref := ss.srv.store.Load()
	if ref == nil {
		return gs, errStoreNotOpen
	}
	sess, p, err := ss.srv.lookupSession(r.Context(), ref.Store, h)
	if errors.Is(err, errNoSession) {
		return gs, nil
	}
	if err != nil {
		return gs, err
	}
	gs.ID = c.Value
	gs.Values[valSession] = sess
	gs.Values[valUser] = p.user
	gs.IsNew = false
	return gs, nil
}

// Save writes the session's cookie. With Options.MaxAge < 0 it revokes the
// session in the store first and then deletes the cookie.
func (ss *sessionStore) Save(r *http.Request, w http.ResponseWriter, gs *sessions.Session) error {
	if gs.Options == nil {
		gs.Options = cookieOptions()
	}
	if gs.Options.MaxAge < 0 {
		if sess, ok := gs.Values[valSession].(authn.Session); ok {
			ref := ss.srv.store.Load()
			if ref == nil {
				return errStoreNotOpen
			}
			err := ref.RevokeSession(r.Context(), sess.Hash, ss.srv.now())
			if err != nil && !errors.Is(err, authn.ErrNotFound) {
				return fmt.Errorf("revoke session: %w", err)
			}
			// The tools that got tokens through this session hear of its end.
			if err := ss.srv.OIDCSessionEnded(r.Context(), sess.Hash); err != nil {
				ss.srv.logger.Warn("could not end the OIDC tokens of a session", "err", err)
			}
		}
		http.SetCookie(w, sessions.NewCookie(gs.Name(), "", gs.Options))
		ss.setDomainCookie(w, "", -1)
		return nil
	}
	h, ok := sessionCookieHash(gs.ID)
	if !ok {
		return errors.New("save session: the id is not a session id")
	}
	http.SetCookie(w, sessions.NewCookie(gs.Name(), gs.ID, gs.Options))
	ss.setDomainCookie(w, ss.srv.sealForwardCookie(h), gs.Options.MaxAge)
	return nil
}

// setDomainCookie sets (or, with maxAge < 0, deletes) the cookie that the
// city's subdomains receive for forward-auth (its value sealed: see
// fwdcookie.go), when a cookie domain is configured; otherwise there is no
// such cookie.
func (ss *sessionStore) setDomainCookie(w http.ResponseWriter, value string, maxAge int) {
	domain := ss.srv.fwd.cfg.CookieDomain
	if domain == "" || (value == "" && maxAge >= 0) {
		return
	}
	c := hostCookie(ForwardAuthCookie, value, maxAge)
	c.Domain = domain
	http.SetCookie(w, c)
}

// signIn makes the request's session the one authn just created: it ends
// the browser's previous session with its OIDC tokens, sets the id and
// values and writes the cookie.
func (ss *sessionStore) signIn(r *http.Request, w http.ResponseWriter, id []byte, sess authn.Session, u authn.User) error {
	gs, err := ss.Get(r, SessionCookie)
	if err != nil && gs == nil {
		return fmt.Errorf("read session: %w", err)
	}
	// A person signing in again on the same browser (a tool's step-up,
	// prompt=login or max_age, or /login itself) leaves no older session
	// behind, and no tokens of it either: the tools that got tokens
	// through it hear of its end, as at sign-out, and come back for new
	// ones through this session. Were they left, signing out would end
	// this session's tokens only.
	if old, ok := gs.Values[valSession].(authn.Session); ok && !gs.IsNew {
		if ref := ss.srv.store.Load(); ref != nil {
			err := ref.RevokeSession(r.Context(), old.Hash, ss.srv.now())
			if err != nil && !errors.Is(err, authn.ErrNotFound) {
				return fmt.Errorf("revoke previous session: %w", err)
			}
			if err := ss.srv.OIDCSessionEnded(r.Context(), old.Hash); err != nil {
				// She is signed in all the same; the tokens of the old
				// session last until they expire, past her sign-out.
				ss.srv.logger.Error("could not end the OIDC tokens of the session a new sign-in replaced; they stay valid until they expire",
					"session", sessionHandle(old.Hash), "user", old.UserID, "err", err)
			}
		}
	}
	gs.ID = base64.RawURLEncoding.EncodeToString(id)
	gs.Options = cookieOptions()
	gs.Values[valSession] = sess
	gs.Values[valUser] = u
	gs.IsNew = false
	return gs.Save(r, w)
}

// signOut revokes the request's session (if any) and deletes its cookie.
func (ss *sessionStore) signOut(r *http.Request, w http.ResponseWriter) error {
	gs, err := ss.Get(r, SessionCookie)
	if err != nil {
		return err
	}
	gs.Options = cookieOptions()
	gs.Options.MaxAge = -1
	return gs.Save(r, w)
}

// lookupSession returns the usable session whose id hashes to h and its
// person with her groups; errNoSession when there is none, any other error when the
// database could not be asked.
func (s *Server) lookupSession(ctx context.Context, st authn.Store, h authn.SessionHash) (authn.Session, *identity, error) {
	sess, err := st.GetSession(ctx, h)
	if errors.Is(err, authn.ErrNotFound) {
		return authn.Session{}, nil, errNoSession
	}
	if err != nil {
		return authn.Session{}, nil, fmt.Errorf("read session: %w", err)
	}
	now := s.now()
	if !sess.Usable(now, s.idle) {
		return authn.Session{}, nil, errNoSession
	}
	p, err := s.identity(ctx, st, sess.UserID)
	if errors.Is(err, authn.ErrNotFound) {
		return authn.Session{}, nil, errNoSession
	}
	if err != nil {
		return authn.Session{}, nil, fmt.Errorf("read user: %w", err)
	}
	if p.user.Status != authn.StatusActive {
		return authn.Session{}, nil, errNoSession
	}
	if ls := s.lastSeen.Load(); ls != nil {
		ls.Seen(sess, now)
	}
	return sess, p, nil
}
