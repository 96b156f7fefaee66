package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// factorsPath is the self-service page of one's keys, apps and codes.
const factorsPath = "/account/factors"

// factorRow is one key or app on /account/factors.
type factorRow struct {
	ID       string
	App      bool
	Nickname string // as stored, for the rename form
	Name     string // what names it beside its method (factorRowsOf); "" for none
	Model    string // "" when unknown or already its Name
	// Unverified: a model is named (as Name or Model) that only the key
	// reported, no attestation by a trusted root proved it.
	Unverified bool
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// factorNotices are the messages /account/factors shows after a redirect
// (?e=), by a fixed code.
var factorNotices = map[string]message{
	"codes":   msgFactorCodesDone,
	"removed": msgFactorRemoved,
	"renamed": msgFactorRenamed,
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
	if sess.RecoveryOnly {
		creds, err := st.ListCredentials(r.Context(), u.ID)
		if err != nil {
			s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
			return
		}
		v.Enroll.AfterCode = s.recoveryOnlyOf(r, sess, u, creds, v.Enroll.CodesLeft)
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
	// Offer only what this sign-in may add (enroll.ScopeOf), so that no
	// button leads to a refusal.
	scope := enroll.ScopeOf(sess)
	ev := &enrollView{Name: cmp.Or(u.DisplayName, u.Username), RecoveryOnly: sess.RecoveryOnly,
		AllowApp: !slicesHasApp(creds) && scope.Has(authn.ScopeApp), MayAddKey: scope.Has(authn.ScopeKey),
		MayNewCodes: scope.Has(authn.ScopeRecoveryCodes)}
	// What her policy and her password admit (enroll.Service.Offers): no
	// app where her group's level refuses one, no app or codes without a
	// password that Keyhall can check.
	if ref := s.store.Load(); ref != nil && ref.enroll != nil {
		offer, err := ref.enroll.Offers(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		ev.AllowApp = ev.AllowApp && offer.App && (offer.Password.Has || offer.NoPassword)
		ev.OfferCodes = offer.RecoveryCodes
	}
	models, err := enroll.LoadModels(ctx, st, creds...)
	if err != nil {
		return nil, err
	}
	ev.Factors = factorRowsOf(creds, models)
	if ev.CodesLeft, err = st.CountRecoveryCodes(ctx, u.ID); err != nil {
		return nil, fmt.Errorf("count recovery codes: %w", err)
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
// change (change true) the sign-in must be fresh (enroll.SignInFresh, the
// enrollment service's rule, which it checks again), else the browser is
// sent to sign in again and come back. It answers itself and
// returns false when there is no usable session.
func (s *Server) factorSession(w http.ResponseWriter, r *http.Request, change bool) (authn.Session, authn.User, bool) {
	return s.signedIn(w, r, factorsPath, change)
}

// signedIn is factorSession for the page back (factorsPath, /account): the
// browser is sent to sign in and come back there.
func (s *Server) signedIn(w http.ResponseWriter, r *http.Request, back string, change bool) (authn.Session, authn.User, bool) {
	sess, u, err := s.currentSession(r)
	again := "/login?return_to=" + url.QueryEscape(back)
	switch {
	case errors.Is(err, errNoSession):
		http.Redirect(w, r, again, http.StatusSeeOther)
		return sess, u, false
	case err != nil:
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return sess, u, false
	case change && !enroll.SignInFresh(sess, s.now()):
		http.Redirect(w, r, again, http.StatusSeeOther)
		return sess, u, false
	}
	return sess, u, true
}

// accountAddFactor opens an enrollment for the signed-in person and leads
// her to add a key (the key page) or an app (its QR code at once). What
// her sign-in may add is the enrollment service's rule (enroll.ScopeOf):
// a key needs a sign-in with a key or a recovery code; the enrollment
// remembers what it was opened for and to which session it belongs.
func (s *Server) accountAddFactor(w http.ResponseWriter, r *http.Request) {
	svc := s.enrollForm(w, r)
	if svc == nil {
		return
	}
	sess, _, ok := s.factorSession(w, r, true)
	if !ok {
		return
	}
	want := authn.ScopeKey
	if r.PostFormValue("kind") == "app" {
		want = authn.ScopeApp
	}
	p, err := svc.Open(r.Context(), sess, want)
	if err != nil {
		s.enrollFailed(w, r, p, err, nil)
		return
	}
	if want == authn.ScopeApp {
		s.beginApp(w, r, svc, p.ID)
		return
	}
	setEnrollCookie(w, p.ID)
	http.Redirect(w, r, "/enroll/key", http.StatusSeeOther)
}

// accountRecoveryCodes makes new recovery codes for the person, which
// replace her old ones when she confirms she stored them
// (enroll.Service.KeepRecoveryCodes): only after a sign-in with a key
// (enroll.ScopeOf).
func (s *Server) accountRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	svc := s.enrollForm(w, r)
	if svc == nil {
		return
	}
	sess, _, ok := s.factorSession(w, r, true)
	if !ok {
		return
	}
	p, err := svc.Open(r.Context(), sess, authn.ScopeRecoveryCodes)
	if err != nil {
		s.enrollFailed(w, r, p, err, nil)
		return
	}
	s.newCodes(w, r, svc, p.ID)
}

// factorChange is the common start of renaming and removing a factor: the
// form, the enrollment service, and a fresh session (a stale one is sent to
// sign in again). Whether the session may change factors at all is the
// enrollment service's rule (Rename, Remove). It answers itself and
// returns false otherwise.
func (s *Server) factorChange(w http.ResponseWriter, r *http.Request) (*enroll.Service, authn.Session, authn.User, bool) {
	if !s.parseForm(w, r) {
		return nil, authn.Session{}, authn.User{}, false
	}
	svc := s.enrollFor(w, r)
	if svc == nil {
		return nil, authn.Session{}, authn.User{}, false
	}
	sess, u, ok := s.factorSession(w, r, true)
	if !ok {
		return nil, sess, u, false
	}
	return svc, sess, u, true
}

// accountRemoveFactor removes one key or app of the signed-in person,
// never her last one nor the last that her group's policy requires (the
// enrollment service checks that in the store's transaction), and a key
// only after a sign-in at the key's level. It asks first: a form without
// confirm=yes gets the question, with the factor named, and removes nothing
// (a page, not a script: the CSP allows no inline code).
func (s *Server) accountRemoveFactor(w http.ResponseWriter, r *http.Request) {
	svc, sess, u, ok := s.factorChange(w, r)
	if !ok || s.recoveryHolds(w, r, u.ID, r.PostFormValue("id"), factorsPath) { // recover.go
		return
	}
	if r.PostFormValue("confirm") != "yes" && !sess.RecoveryOnly { // a recovery-only session is refused below
		s.confirmRemove(w, r, u, sess, r.PostFormValue("id"))
		return
	}
	_, err := svc.Remove(r.Context(), sess, r.PostFormValue("id"))
	if err != nil {
		s.factorRefused(w, r, u, sess, err)
		return
	}
	http.Redirect(w, r, factorsPath+"?e=removed", http.StatusSeeOther)
}

// accountRenameFactor gives one key or app of the signed-in person a new
// nickname.
func (s *Server) accountRenameFactor(w http.ResponseWriter, r *http.Request) {
	svc, sess, u, ok := s.factorChange(w, r)
	if !ok {
		return
	}
	err := svc.Rename(r.Context(), sess, r.PostFormValue("id"), r.PostFormValue("nickname"))
	if err != nil {
		s.factorRefused(w, r, u, sess, err)
		return
	}
	http.Redirect(w, r, factorsPath+"?e=renamed", http.StatusSeeOther)
}

// factorRefusals are the messages of a refused change on /account/factors,
// by reason.
var factorRefusals = map[enroll.Reason]struct {
	status int
	msg    message
}{
	enroll.ReasonLastFactor: {http.StatusConflict, msgFactorLast},
	enroll.ReasonKeyNeeded:  {http.StatusConflict, msgFactorKeyNeeded},
	enroll.ReasonNickname:   {http.StatusBadRequest, msgFactorNickname},
	enroll.ReasonKeyLevel:   {http.StatusForbidden, msgFactorRemoveNeedsLevel},
	enroll.ReasonScope:      {http.StatusForbidden, msgFactorRecoveryOnly},
}

// factorRefused shows the factor list again with why a change was refused:
// an unknown factor, one that must stay, a bad nickname; any other error
// means the storage is unavailable.
func (s *Server) factorRefused(w http.ResponseWriter, r *http.Request, u authn.User, sess authn.Session, err error) {
	status, msg := http.StatusConflict, msgFactorUnknown
	if e, ok := errors.AsType[*enroll.Error](err); ok {
		if e.Reason == enroll.ReasonSignIn { // it went stale since factorSession
			http.Redirect(w, r, "/login?return_to="+url.QueryEscape(factorsPath), http.StatusSeeOther)
			return
		}
		ref, known := factorRefusals[e.Reason]
		if !known {
			s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
			return
		}
		status, msg = ref.status, ref.msg
	} else if !errors.Is(err, authn.ErrNotFound) {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	st := s.storeFor(w, r)
	if st == nil {
		return
	}
	v, verr := s.factorsView(r.Context(), st, u, sess)
	if verr != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, verr)
		return
	}
	s.failPage(w, r, status, msg, err, v)
}

// confirmRemove shows the question before a factor is removed: the factor
// list with the one to remove named and a button that removes it. An id
// that is not one of hers gets the list with the "not found" refusal.
func (s *Server) confirmRemove(w http.ResponseWriter, r *http.Request, u authn.User, sess authn.Session, id string) {
	st := s.storeFor(w, r)
	if st == nil {
		return
	}
	v, err := s.factorsView(r.Context(), st, u, sess)
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	for i := range v.Enroll.Factors {
		if v.Enroll.Factors[i].ID == id {
			v.Enroll.Confirm = &v.Enroll.Factors[i]
			s.page(w, r, v)
			return
		}
	}
	s.factorRefused(w, r, u, sess, fmt.Errorf("remove factor %q: %w", id, authn.ErrNotFound))
}
