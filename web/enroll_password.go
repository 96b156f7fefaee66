package web

import (
	"net/http"

	"github.com/keyhall/keyhall/authn"
)

// enrollPasswordPage asks a local person, after her first factor, for the
// password that follows an app, a recovery code or a key without PIN at
// sign-in. A browser without an enrollment goes to the start page.
func (s *Server) enrollPasswordPage(w http.ResponseWriter, r *http.Request) {
	if enrollID(r) == nil {
		http.Redirect(w, r, "/enroll", http.StatusSeeOther)
		return
	}
	s.page(w, r, &view{Page: "enroll_password", Enroll: &enrollView{MinPassword: authn.MinPasswordLength}})
}

// enrollPasswordSet stores the password she chose (the enrollment service
// checks it: long enough, not a common one) and shows what comes next:
// the recovery codes, another key or an app.
func (s *Server) enrollPasswordSet(w http.ResponseWriter, r *http.Request) {
	svc := s.enrollForm(w, r)
	if svc == nil {
		return
	}
	again := &view{Page: "enroll_password", Enroll: &enrollView{MinPassword: authn.MinPasswordLength}}
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("password2") {
		s.failPage(w, r, http.StatusBadRequest, msgPasswordsDiffer, nil, again)
		return
	}
	p, err := svc.SetPassword(r.Context(), enrollID(r), pw, s.clientInfo(r))
	if err != nil {
		s.enrollFailed(w, r, p, err, again)
		return
	}
	s.enrollAdded(w, r, svc, p, &enrollView{Kind: "password", AllowApp: p.Offer.App})
}
