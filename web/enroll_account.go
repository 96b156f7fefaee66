package web

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// freshAuth is how recent a sign-in must be to change one's factors.
const freshAuth = 5 * time.Minute

// factorsPath is the self-service page of one's keys, apps and codes.
const factorsPath = "/account/factors"

// factorRow is one key or app on /account/factors.
type factorRow struct {
	ID         string
	App        bool
	Nickname   string
	Model      string // "" when unknown
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// factorNotices are the messages /account/factors shows after a redirect
// (?e=), by a fixed code.
var factorNotices = map[string]message{
	"codes":   msgFactorCodesDone,
	"removed": msgFactorRemoved,
}

// accountFactors lists the signed-in person's keys and apps with what she
// may do with them.
func (s *Server) accountFactors(w http.ResponseWriter, r *http.Request) {
	st := s.storeFor(w, r)
	if st == nil {
		return
	}
	sess, u, ok := s.factorSession(w, r, false)
	if !ok {
		return
	}
	v, err := s.factorsView(r.Context(), st, u, sess)
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	if n, ok := factorNotices[r.URL.Query().Get("e")]; ok {
		v.Notice = n.in(lang(r))
	}
	s.page(w, r, v)
}

// factorsView reads the person's factors into the page.
func (s *Server) factorsView(ctx context.Context, st authn.Store, u authn.User, sess authn.Session) (*view, error) {
	creds, err := st.ListCredentials(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	ev := &enrollView{Name: cmpOr(u.DisplayName, u.Username), RecoveryOnly: sess.RecoveryOnly,
		AllowApp: !slicesHasApp(creds)}
	for _, c := range creds {
		row := factorRow{ID: c.ID, App: c.Kind == authn.KindTOTP, Nickname: c.Nickname, CreatedAt: c.CreatedAt, LastUsedAt: c.LastUsedAt}
		if a, err := uuid.FromBytes(c.AAGUID); err == nil {
			row.Model = enroll.ModelName(a)
		}
		ev.Factors = append(ev.Factors, row)
	}
	return &view{Page: "account_factors", Username: u.Username, Enroll: ev}, nil
}

func slicesHasApp(creds []authn.Credential) bool {
	for _, c := range creds {
		if c.Kind == authn.KindTOTP {
			return true
		}
	}
	return false
}

// factorSession returns the signed-in session for a factor page. For a
// change (change true) the sign-in must be at most freshAuth old, else the
// browser is sent to sign in again and come back. It answers itself and
// returns false when there is no usable session.
func (s *Server) factorSession(w http.ResponseWriter, r *http.Request, change bool) (authn.Session, authn.User, bool) {
	sess, u, err := s.currentSession(r)
	again := "/login?return_to=" + url.QueryEscape(factorsPath)
	switch {
	case errors.Is(err, errNoSession):
		http.Redirect(w, r, again, http.StatusSeeOther)
		return sess, u, false
	case err != nil:
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return sess, u, false
	case change && s.now().Sub(sess.AuthTime) > freshAuth:
		http.Redirect(w, r, again, http.StatusSeeOther)
		return sess, u, false
	}
	return sess, u, true
}

// accountAddFactor opens an enrollment for the signed-in person and leads
// her to add a key (the key page) or an app (its QR code at once). Allowed
// to a session from a recovery code too: that is what it is for.
func (s *Server) accountAddFactor(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	st, svc := s.storeAndEnroll(w, r)
	if svc == nil {
		return
	}
	_, u, ok := s.factorSession(w, r, true)
	if !ok {
		return
	}
	id, err := s.openSelfService(r.Context(), st, u.ID)
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	if r.PostFormValue("kind") == "app" {
		s.beginApp(w, r, svc, id)
		return
	}
	setEnrollCookie(w, id)
	http.Redirect(w, r, "/enroll/key", http.StatusSeeOther)
}

// storeAndEnroll returns the store and the enrollment service, or writes
// 503 and returns nils.
func (s *Server) storeAndEnroll(w http.ResponseWriter, r *http.Request) (authn.Store, *enroll.Service) {
	svc := s.enrollFor(w, r)
	if svc == nil {
		return nil, nil
	}
	return s.store.Load().Store, svc
}

// openSelfService opens an enrollment without an invitation for a person
// who proved herself by signing in: later factors only (the enrollment
// domain treats an EnrollPending without an invitation so).
func (s *Server) openSelfService(ctx context.Context, st authn.Store, userID string) ([]byte, error) {
	es, ok := st.(authn.EnrollStore)
	if !ok {
		return nil, fmt.Errorf("open self-service enrollment: the store %T cannot keep enrollments", st)
	}
	id := make([]byte, 32)
	rand.Read(id) // never fails (crypto/rand, Go ≥ 1.24)
	now := s.now().UTC()
	p := authn.EnrollPending{Hash: authn.HashPendingID(id), UserID: userID, CreatedAt: now, ExpiresAt: now.Add(enroll.IdleTTL)}
	if err := es.PutEnrollPending(ctx, p); err != nil {
		return nil, fmt.Errorf("open self-service enrollment: %w", err)
	}
	return id, nil
}

// accountRecoveryCodes replaces the person's recovery codes with new ones,
// shown once. Not for a session from a recovery code.
func (s *Server) accountRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	st, svc := s.storeAndEnroll(w, r)
	if svc == nil {
		return
	}
	sess, u, ok := s.factorSession(w, r, true)
	if !ok {
		return
	}
	if sess.RecoveryOnly {
		s.fail(w, r, http.StatusForbidden, msgFactorRecoveryOnly, errors.New("a recovery-only session asked for new recovery codes"))
		return
	}
	id, err := s.openSelfService(r.Context(), st, u.ID)
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	s.newCodes(w, r, svc, id)
}

// accountRemoveFactor removes one key or app of the signed-in person,
// never her last one nor the last that her group's policy requires.
func (s *Server) accountRemoveFactor(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	st, svc := s.storeAndEnroll(w, r)
	if svc == nil {
		return
	}
	sess, u, ok := s.factorSession(w, r, true)
	if !ok {
		return
	}
	if sess.RecoveryOnly {
		s.fail(w, r, http.StatusForbidden, msgFactorRecoveryOnly, errors.New("a recovery-only session tried to remove a factor"))
		return
	}
	id := r.PostFormValue("id")
	if msg, err := s.mayRemove(r.Context(), st, u.ID, id); err != nil || msg != nil {
		if err != nil {
			s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
			return
		}
		v, verr := s.factorsView(r.Context(), st, u, sess)
		if verr != nil {
			s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, verr)
			return
		}
		s.failPage(w, r, http.StatusConflict, *msg, nil, v)
		return
	}
	err := svc.RevokeCredential(r.Context(), u.ID, id, "user:"+u.ID, "self-service")
	if err != nil && !errors.Is(err, authn.ErrNotFound) {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	http.Redirect(w, r, factorsPath+"?e=removed", http.StatusSeeOther)
}

// mayRemove returns a message when removing credential id would leave the
// person without a factor, or with only an app where her policy needs a
// key; nil when it may go.
func (s *Server) mayRemove(ctx context.Context, st authn.Store, userID, id string) (*message, error) {
	creds, err := st.ListCredentials(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	keys, apps, found := 0, 0, false
	for _, c := range creds {
		switch {
		case c.ID == id:
			found = true
		case c.Kind == authn.KindTOTP:
			apps++
		default:
			keys++
		}
	}
	if !found {
		return &msgFactorUnknown, nil
	}
	if keys+apps == 0 {
		return &msgFactorLast, nil
	}
	if keys == 0 {
		groups, err := st.UserGroups(ctx, userID)
		if err != nil {
			return nil, fmt.Errorf("read groups: %w", err)
		}
		if !s.enrollCfg.Policy.For(groups).TOTPAlone() {
			return &msgFactorKeyNeeded, nil
		}
	}
	return nil, nil
}
