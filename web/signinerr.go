package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// expiredURL is where a browser goes when its sign-in took too long.
const expiredURL = "/login?e=expired"

// stepFailed answers a refused sign-in step. A *authn.SignInError becomes
// the step's page again (or JSON for the script) with a message that says
// what to do next, and the new pending id authn issued for the retry; an
// expired sign-in goes back to /login; any other error means the storage is
// unavailable (503, fail closed).
func (s *Server) stepFailed(w http.ResponseWriter, r *http.Request, page string, p authn.Progress, err error) {
	se, ok := errors.AsType[*authn.SignInError](err)
	if !ok {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	if se.Reason == authn.ReasonExpired {
		again := s.expiredAgain(r)
		clearPendingCookie(w)
		if wantsJSON(r) {
			s.failPage(w, r, http.StatusUnauthorized, msgExpired, err, &view{Next: again})
			return
		}
		s.logger.Debug("sign-in expired", "route", r.Pattern, "client", s.clientAddr(r), "err", err)
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, again, http.StatusSeeOther)
		return
	}
	if len(p.PendingID) > 0 {
		setPendingCookie(w, p.PendingID)
	}
	if _, ok := stepPaths[p.Next]; ok {
		page = string(p.Next)
	}
	status, msg := refusal(se, page)
	if se.Reason == authn.ReasonKeyRefused {
		msg.DE, msg.EN = msg.DE+" "+msgKeyNotRegistered.DE, msg.EN+" "+msgKeyNotRegistered.EN
		msg = s.withHelp(msg)
	}
	if se.Reason == authn.ReasonThrottled {
		msg = s.withHelp(msg)
		w.Header().Set("Retry-After", strconv.Itoa(int(max(se.RetryAfter, time.Second).Seconds())))
	}
	v := stepView(authn.Step(page), p)
	if page == "login" {
		v.ReturnTo = s.returnTo(r.PostFormValue("return_to"))
	}
	s.failPage(w, r, status, msg, err, v)
}

// expiredAgain is where a browser whose sign-in expired starts again: the
// sign-in page, for the address the expired sign-in was going to (checked
// again as at its start), so that she still ends up in her tool.
func (s *Server) expiredAgain(r *http.Request) string {
	back := r.PostFormValue("return_to")
	if ref := s.store.Load(); back == "" && ref != nil && ref.signIn != nil {
		back = ref.signIn.ReturnToOf(pendingID(r))
	}
	if back = s.returnTo(back); back == "" || back == defaultReturnTo {
		return expiredURL
	}
	return expiredURL + "&" + url.Values{"return_to": {back}}.Encode()
}

// refusal maps a refused step to a status and a message for page.
func refusal(se *authn.SignInError, page string) (int, message) {
	switch se.Reason {
	case authn.ReasonWrongCode:
		if page == string(authn.StepRecovery) {
			return http.StatusUnauthorized, msgRecoveryWrong
		}
		return http.StatusUnauthorized, msgCodeWrong
	case authn.ReasonCodeReused:
		return http.StatusUnauthorized, msgCodeReused
	case authn.ReasonKeyRefused:
		return http.StatusUnauthorized, msgKeyRefused
	case authn.ReasonKeyCloned:
		return http.StatusUnauthorized, msgKeyCloned
	case authn.ReasonUVRequired:
		return http.StatusUnauthorized, msgUVRequired
	case authn.ReasonWrongPassword:
		return http.StatusUnauthorized, msgPasswordWrong
	case authn.ReasonNoPassword:
		return http.StatusForbidden, msgNoPassword
	case authn.ReasonThrottled:
		minutes := int((se.RetryAfter + time.Minute - 1) / time.Minute)
		return http.StatusTooManyRequests, msgThrottled(minutes)
	case authn.ReasonPolicy:
		return http.StatusForbidden, msgPolicy
	case authn.ReasonKeyNotAdmitted:
		return http.StatusForbidden, msgKeyNotAdmitted
	case authn.ReasonDisabled:
		return http.StatusForbidden, msgDisabled
	case authn.ReasonFrozen:
		return http.StatusForbidden, msgFrozen
	case authn.ReasonDirectoryUnavailable:
		return http.StatusServiceUnavailable, msgDirectoryUnavailable
	case authn.ReasonAccountExpired:
		return http.StatusForbidden, msgAccountExpired
	case authn.ReasonPasswordMustChange:
		return http.StatusForbidden, msgPasswordMustChange
	case authn.ReasonAccountLocked:
		return http.StatusForbidden, msgAccountLocked
	}
	return http.StatusBadRequest, msgBadRequest
}
