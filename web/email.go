package web

import (
	"errors"
	"net/http"

	"github.com/keyhall/keyhall/enroll"
)

var msgEmailConfirmed = message{
	DE: "Danke. Ihre E-Mail-Adresse ist bestätigt.",
	EN: "Thank you. Your e-mail address is confirmed.",
}

// emailConfirmPage shows the button that confirms the address a link was
// mailed to. Opening the link changes nothing: mail scanners open links
// too; the person confirms with a POST (cross-origin protected).
func (s *Server) emailConfirmPage(w http.ResponseWriter, r *http.Request) {
	s.page(w, r, &view{Page: "email_confirm"})
}

// emailConfirm uses the link's token (enroll.Service.ConfirmEmail).
func (s *Server) emailConfirm(w http.ResponseWriter, r *http.Request) {
	svc := s.enrollForm(w, r)
	if svc == nil {
		return
	}
	_, err := svc.ConfirmEmail(r.Context(), r.PathValue("token"), s.clientInfo(r))
	if e, ok := errors.AsType[*enroll.Error](err); ok {
		s.failPage(w, r, http.StatusBadRequest, message{DE: e.DE, EN: e.EN}, err, &view{Page: "email_confirm"})
		return
	}
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	s.page(w, r, &view{Page: "email_confirm", Notice: msgEmailConfirmed.in(lang(r))})
}
