package web

import (
	"net/http"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// enrollPasswordPage asks a local person, after her first factor, for the
// password that follows an app, a recovery code or a key without PIN at
// sign-in. A browser without an enrollment goes to the start page.
// The form names her (autocomplete="username"), so that a password
// manager saves the password under her username.
func (s *Server) enrollPasswordPage(w http.ResponseWriter, r *http.Request) {
	id := enrollID(r)
	if id == nil {
		http.Redirect(w, r, "/enroll", http.StatusSeeOther)
		return
	}
	svc := s.enrollFor(w, r)
	if svc == nil {
		return
	}
	p, err := svc.Current(r.Context(), id)
	if err != nil {
		s.showFailed(w, r, p, err)
		return
	}
	setEnrollCookie(w, p.ID)
	s.page(w, r, &view{Page: "enroll_password", Enroll: passwordView(p)})
}

// passwordView is the password form for the person of p.
func passwordView(p enroll.Progress) *enrollView {
	return &enrollView{MinPassword: authn.MinPasswordLength, Username: p.User.Username,
		PasswordRequired: p.Offer.PasswordRequired}
}

// enrollPasswordSet stores the password she chose (the enrollment service
// checks it: long enough, not a common one) and shows what comes next:
// the recovery codes, another key or an app.
func (s *Server) enrollPasswordSet(w http.ResponseWriter, r *http.Request) {
	svc := s.enrollForm(w, r)
	if svc == nil {
		return
	}
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("password2") {
		again := &view{Page: "enroll_password", Enroll: &enrollView{MinPassword: authn.MinPasswordLength,
			Username: r.PostFormValue("username")}}
		s.failPage(w, r, http.StatusBadRequest, msgPasswordsDiffer, nil, again)
		return
	}
	p, err := svc.SetPassword(r.Context(), enrollID(r), pw, s.clientInfo(r))
	if err != nil {
		s.enrollFailed(w, r, p, err, &view{Page: "enroll_password", Enroll: passwordView(p)})
		return
	}
	s.enrollAdded(w, r, svc, p, &enrollView{Kind: "password", AllowApp: p.Offer.App})
}
