package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// passwordOf reports whether u is a local person (whose password Keyhall
// keeps) and whether she has one: the enrollment service's answer
// (enroll.Service.Offers). Without that service she can set none here,
// and one whose groups sign her in without a password (the citizens,
// Offer.NoPassword) has none to set: the page offers none to either.
func (s *Server) passwordOf(ctx context.Context, u authn.User) (local, has bool, err error) {
	ref := s.store.Load()
	if ref == nil || ref.enroll == nil {
		return false, false, nil
	}
	o, err := ref.enroll.Offers(ctx, u.ID)
	if err != nil || o.NoPassword {
		return false, false, err
	}
	return o.Password.Local, o.Password.Has, nil
}

// accountPassword sets or changes the signed-in local person's password,
// after a fresh sign-in that did not come from a recovery code (the
// enrollment service's rule); a sign-in older than that is sent to sign
// in again and come back.
func (s *Server) accountPassword(w http.ResponseWriter, r *http.Request) {
	svc := s.enrollForm(w, r)
	if svc == nil {
		return
	}
	sess, _, ok := s.signedIn(w, r, "/account", true)
	if !ok || s.recoveryHolds(w, r, sess.UserID, "", "/account") { // recover.go
		return
	}
	back := &view{Page: "error", Next: "/account"}
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("password2") {
		s.failPage(w, r, http.StatusBadRequest, msgPasswordsDiffer, nil, back)
		return
	}
	if err := svc.ChangePassword(r.Context(), sess, pw, s.clientInfo(r)); err != nil {
		e, ok := errors.AsType[*enroll.Error](err)
		if !ok {
			s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
			return
		}
		s.failPage(w, r, enrollStatus(e.Reason), message{DE: e.DE, EN: e.EN}, err, back)
		return
	}
	http.Redirect(w, r, "/account?e=password", http.StatusSeeOther)
}
