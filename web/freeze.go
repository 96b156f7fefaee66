package web

import (
	"errors"
	"net/http"

	"github.com/keyhall/keyhall/enroll"
)

// freezePage shows whose account a "this was not me" link freezes, and the
// button that does it. Opening the link changes nothing: mail scanners
// open links too; the person freezes with a POST (cross-origin protected).
func (s *Server) freezePage(w http.ResponseWriter, r *http.Request) {
	svc := s.enrollFor(w, r)
	if svc == nil {
		return
	}
	u, err := svc.FreezeTarget(r.Context(), r.PathValue("token"))
	if err != nil {
		s.freezeFailed(w, r, err)
		return
	}
	s.page(w, r, &view{Page: "freeze", Username: u.Username})
}

// freeze uses the link's token (enroll.Service.Freeze): her account is
// frozen and her sessions end; here her OIDC tokens are revoked and the
// tools told.
func (s *Server) freeze(w http.ResponseWriter, r *http.Request) {
	svc := s.enrollForm(w, r)
	if svc == nil {
		return
	}
	rep, err := svc.Freeze(r.Context(), r.PathValue("token"), s.clientAddr(r))
	if err != nil {
		s.freezeFailed(w, r, err)
		return
	}
	if err := s.OIDCUserSignedOut(r.Context(), rep.UserID); err != nil {
		s.logger.Warn("could not end the OIDC tokens of a frozen person", "user", rep.UserID, "err", err)
	}
	s.page(w, r, &view{Page: "freeze", Notice: texts["freeze.done"].in(lang(r))})
}

// freezeFailed answers a link that is wrong, used or expired (the page
// says so, without the form), or a storage failure.
func (s *Server) freezeFailed(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := errors.AsType[*enroll.Error](err)
	if !ok {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	status := http.StatusGone
	if e.Reason == enroll.ReasonWrongCode {
		status = http.StatusNotFound
	}
	s.failPage(w, r, status, message{DE: e.DE, EN: e.EN}, err, &view{Page: "freeze"})
}
