package web

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// accountView is what /account shows: who is signed in, since when and
// how, and her active sessions.
type accountView struct {
	Username     string
	DisplayName  string
	AuthTime     time.Time
	Method       string // how she signed in, in plain words (methodWords)
	ACR          string // in words
	RecoveryOnly bool
	AfterCode    *recoveryOnlyView // with RecoveryOnly: what to do next (recoveryonly.go)
	Sessions     []sessionRow
	SignIns      []signInRow
	// Factors are her keys and apps, CodesLeft her unused recovery codes.
	Factors   []factorRow
	CodesLeft int
	// LocalPassword: she is a local person, whose password Keyhall
	// keeps; HasPassword: she has one. She sets or changes it here.
	LocalPassword, HasPassword bool
	MinPassword                int
	// Data is the "Ihre Daten" section (account_data.go); nil without
	// the citizens service.
	Data *accountData
	// Recovery is her pending recovery by e-mail, which she may cancel
	// (recover.go); nil when she has none.
	Recovery *authn.Recovery
}

type sessionRow struct {
	Handle     string // sessionHandle: names the session in the form, never its hash
	Device     string
	ClientAddr string
	CreatedAt  time.Time
	LastSeenAt time.Time
	Current    bool
}

// accountSession returns the store and the signed-in person of an
// /account request and her session; a browser without a session is sent
// to sign in first, and false means the request is answered.
func (s *Server) accountSession(w http.ResponseWriter, r *http.Request) (authn.Store, authn.Session, authn.User, bool) {
	st := s.storeFor(w, r)
	if st == nil {
		return nil, authn.Session{}, authn.User{}, false
	}
	sess, u, err := s.currentSession(r)
	if errors.Is(err, errNoSession) {
		http.Redirect(w, r, "/login?return_to=%2Faccount", http.StatusSeeOther)
		return nil, authn.Session{}, authn.User{}, false
	}
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return nil, authn.Session{}, authn.User{}, false
	}
	return st, sess, u, true
}

// account shows the signed-in person her sign-in and sessions; a browser
// without a session is sent to sign in first.
func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	st, sess, u, ok := s.accountSession(w, r)
	if !ok {
		return
	}
	all, err := st.ListUserSessions(r.Context(), u.ID, s.now())
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, fmt.Errorf("list sessions: %w", err))
		return
	}
	l := lang(r)
	a := &accountView{
		Username: u.Username, DisplayName: u.DisplayName, AuthTime: sess.AuthTime,
		ACR: inWords(l, "acr.", sess.ACR), RecoveryOnly: sess.RecoveryOnly,
	}
	a.Method = methodWords(l, sess.AMR, sess.RecoveryOnly)
	creds, err := st.ListCredentials(r.Context(), u.ID)
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, fmt.Errorf("list credentials: %w", err))
		return
	}
	models, err := enroll.LoadModels(r.Context(), st, creds...)
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	a.Factors = factorRowsOf(creds, models)
	if a.CodesLeft, err = st.CountRecoveryCodes(r.Context(), u.ID); err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, fmt.Errorf("count recovery codes: %w", err))
		return
	}
	a.AfterCode = s.recoveryOnlyOf(r, sess, u, creds, a.CodesLeft)
	for _, o := range all {
		a.Sessions = append(a.Sessions, sessionRow{
			Handle: sessionHandle(o.Hash), Device: deviceName(o.UserAgent), ClientAddr: o.ClientAddr,
			CreatedAt: o.CreatedAt, LastSeenAt: o.LastSeenAt, Current: bytes.Equal(o.Hash[:], sess.Hash[:]),
		})
	}
	if a.LocalPassword, a.HasPassword, err = s.passwordOf(r.Context(), u); err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	a.MinPassword = authn.MinPasswordLength
	if a.SignIns, err = s.recentSignIns(r.Context(), st, u.ID, l); err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	if a.Data, err = s.accountDataOf(r.Context(), u, l); err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	if a.Recovery, err = s.pendingRecoveryOf(r, u.ID); err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store") // her sign-ins, addresses and data: not kept by the browser (review of #15)
	v := &view{Page: "account", Account: a}
	if n, ok := accountNotices[r.URL.Query().Get("e")]; ok {
		v.Notice = n.in(l)
	}
	s.page(w, r, v)
}

// inWords returns the text for an amr or acr value, or the value itself
// when there is none.
func inWords(lang, prefix, v string) string {
	if t, err := translate(lang, prefix+v); err == nil {
		return t
	}
	return v
}

// deviceName makes a short "browser · system" from a User-Agent header.
func deviceName(ua string) string {
	browser, system := "", ""
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"Firefox/", "Firefox"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	for _, o := range []struct{ token, name string }{
		{"iPad", "iPadOS"}, {"iPhone", "iOS"}, {"Android", "Android"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			system = o.name
			break
		}
	}
	switch {
	case browser != "" && system != "":
		return browser + " · " + system
	case browser != "" || system != "":
		return browser + system
	case ua == "":
		return "?"
	}
	return strings.ToValidUTF8(ua[:min(len(ua), 60)], "")
}

// logout ends this browser's session: revoked in the store, cookie deleted.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.sessions.signOut(r, w); err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, fmt.Errorf("sign out: %w", err))
		return
	}
	http.Redirect(w, r, "/login?e=signedout", http.StatusSeeOther)
}

// logoutEverywhere revokes every session of the signed-in person, on every
// device, and records it in the audit log.
func (s *Server) logoutEverywhere(w http.ResponseWriter, r *http.Request) {
	st := s.storeFor(w, r)
	if st == nil {
		return
	}
	_, u, err := s.currentSession(r)
	if errors.Is(err, errNoSession) {
		s.logout(w, r)
		return
	}
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	now := s.now()
	ev := authn.AuditEvent{
		Time: now, Actor: "user:" + u.ID, Action: "session.revoke_all", Subject: "user:" + u.ID,
		ClientAddr: s.clientAddr(r),
	}
	if _, err := st.RevokeUserSessions(r.Context(), u.ID, now, ev); err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, fmt.Errorf("revoke sessions: %w", err))
		return
	}
	if err := s.OIDCUserSignedOut(r.Context(), u.ID); err != nil {
		s.logger.Warn("could not end the OIDC tokens of a person", "user", u.ID, "err", err)
	}
	if err := s.sessions.signOut(r, w); err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, fmt.Errorf("sign out: %w", err))
		return
	}
	http.Redirect(w, r, "/login?e=everywhere", http.StatusSeeOther)
}
