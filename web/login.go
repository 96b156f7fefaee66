package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/keyhall/keyhall/authn"
)

// maxBody caps every request body on the sign-in path: a form or an
// assertion is a few KiB; anything larger is refused before it is read.
const maxBody = 64 << 10

// stepPaths are the pages of the sign-in steps.
var stepPaths = map[authn.Step]string{
	authn.StepKey:      "/login/key",
	authn.StepTOTP:     "/login/totp",
	authn.StepRecovery: "/login/recovery",
	authn.StepPassword: "/login/password",
}

// loginNotices are the messages /login shows after a redirect (?e=), by a
// fixed code, so no text is ever taken from the address.
var loginNotices = map[string]struct {
	msg   message
	alert bool
}{
	"expired":    {msgExpired, true},
	"signedout":  {msgSignedOut, false},
	"everywhere": {msgSignedOutEverywhere, false},
}

// clientInfo is what authn records about the browser asking.
func (s *Server) clientInfo(r *http.Request) authn.ClientInfo {
	return authn.ClientInfo{Addr: s.clientAddr(r), UserAgent: r.UserAgent(), Device: s.deviceMark(r)}
}

// parseForm reads a POSTed form of at most maxBody bytes.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		status := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			status = http.StatusRequestEntityTooLarge
		}
		s.fail(w, r, status, msgBadRequest, err)
		return false
	}
	return true
}

// loginPage asks for the username, and offers a passkey sign-in without one.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := &view{Page: "login", ReturnTo: s.returnTo(q.Get("return_to")), NeedKey: needsKey(q)}
	if sess, _, err := s.currentSession(r); err == nil && sess.RecoveryOnly && !strings.HasPrefix(v.ReturnTo, "/account") {
		// A tool sent her (nginx's 401 leads here): not another code,
		// her factors first (recoveryonly.go).
		http.Redirect(w, r, factorsFirst(v.ReturnTo), http.StatusSeeOther)
		return
	}
	if m, ok := s.levelNotice(q); ok { // login_level.go
		v.Notice = m.in(lang(r))
	}
	if n, ok := loginNotices[q.Get("e")]; ok {
		if n.alert {
			v.Error = n.msg.in(lang(r))
		} else {
			v.Notice = n.msg.in(lang(r))
		}
	} else if s.endedByReset(r) {
		// She lands here from a tool or her account: tell her why.
		v.Error = s.withHelp(msgAccountReset).in(lang(r))
	}
	s.page(w, r, v)
}

// loginSubmit starts a sign-in for the username and leads to its first step.
func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	si := s.signInFor(w, r)
	if si == nil {
		return
	}
	username := strings.TrimSpace(r.PostFormValue("username"))
	returnTo := s.returnTo(r.PostFormValue("return_to"))
	if username == "" {
		s.failPage(w, r, http.StatusBadRequest, msgUsernameMissing, nil, &view{Page: "login", ReturnTo: returnTo})
		return
	}
	p, err := si.Start(r.Context(), username, returnTo, s.clientInfo(r))
	if err == nil && p.Next != authn.StepKey && r.PostFormValue("need") == "key" {
		// Step-up: a tool asked for a phishing-resistant sign-in, so
		// begin at the key (the app stays one click away, but its
		// sign-in will not be enough for that tool).
		p, err = si.SwitchTo(r.Context(), p.PendingID, authn.StepKey)
	}
	if err != nil {
		s.stepFailed(w, r, "login", p, err)
		return
	}
	s.advance(w, r, p)
}

// needsKey reports whether the sign-in was asked for by a tool that needs a
// phishing-resistant level: OIDC's step-up (need=key, level=phr|phrh) or
// forward-auth's (acr=phr|phrh).
func needsKey(q url.Values) bool {
	if q.Get("need") == "key" {
		return true
	}
	for _, l := range []string{q.Get("level"), q.Get("acr")} {
		if authn.Level(l).Meets(authn.LevelPhr) {
			return true
		}
	}
	return false
}

// stepPage shows the page of a pending sign-in's step. A browser without a
// pending sign-in goes back to /login; one on the wrong page goes to the
// right one.
func (s *Server) stepPage(step authn.Step) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := pendingID(r)
		if id == nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		si := s.signInFor(w, r)
		if si == nil {
			return
		}
		p, err := si.Restart(r.Context(), id)
		if err != nil {
			s.stepFailed(w, r, string(step), p, err)
			return
		}
		if p.Next != step {
			s.advance(w, r, p)
			return
		}
		s.page(w, r, stepView(step, p))
	}
}

// stepView is the page of step for Progress p. Every page offers every
// alternative factor (layout.html), whatever p.HasKey, p.HasTOTP and
// p.HasRecovery say: offering only the factors a person has would tell a
// stranger that the username exists.
func stepView(step authn.Step, p authn.Progress) *view {
	return &view{Page: string(step), Username: p.Username, ReturnTo: p.ReturnTo}
}

// switchFactor moves a sign-in that has no factor yet to another one
// ("Authenticator-App verwenden", "Wiederherstellungscode verwenden").
func (s *Server) switchFactor(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	to := authn.Step(r.PostFormValue("to"))
	if to != authn.StepKey && to != authn.StepTOTP && to != authn.StepRecovery {
		s.fail(w, r, http.StatusBadRequest, msgBadRequest, errors.New("switch to an unknown step"))
		return
	}
	si := s.signInFor(w, r)
	if si == nil {
		return
	}
	p, err := si.SwitchTo(r.Context(), pendingID(r), to)
	if err != nil {
		s.stepFailed(w, r, string(to), p, err)
		return
	}
	s.advance(w, r, p)
}

// codeStep handles the form of a step that takes one secret: an app code,
// a recovery code or a password.
func (s *Server) codeStep(step authn.Step, field string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.parseForm(w, r) {
			return
		}
		si := s.signInFor(w, r)
		if si == nil {
			return
		}
		id, secret, c := pendingID(r), r.PostFormValue(field), s.clientInfo(r)
		var (
			p   authn.Progress
			err error
		)
		switch step {
		case authn.StepTOTP:
			p, err = si.VerifyTOTP(r.Context(), id, secret, c)
		case authn.StepRecovery:
			p, err = si.VerifyRecoveryCode(r.Context(), id, secret, c)
		default:
			p, err = si.VerifyPassword(r.Context(), id, secret, c)
		}
		if err == nil && p.Next == authn.StepDone && p.Session.RecoveryOnly {
			// The code is used up only now: after the password, or at once
			// when the code alone signs her in (a citizen).
			s.recoveryCodeUsed(r, p)
		}
		if err != nil {
			s.stepFailed(w, r, string(step), p, err)
			return
		}
		s.advance(w, r, p)
	}
}

// advance leads a browser to what p says comes next: the next step's page
// with the new pending id, or, when done, the signed-in session and the
// address the sign-in was for.
func (s *Server) advance(w http.ResponseWriter, r *http.Request, p authn.Progress) {
	next, ok := s.complete(w, r, p)
	if !ok {
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// complete sets the cookies for Progress p and returns where the browser
// goes next; false when it has answered with an error already.
func (s *Server) complete(w http.ResponseWriter, r *http.Request, p authn.Progress) (string, bool) {
	if p.Next != authn.StepDone {
		path, ok := stepPaths[p.Next]
		if !ok {
			s.fail(w, r, http.StatusInternalServerError, msgInternal, errors.New("sign-in led to an unknown step "+string(p.Next)))
			return "", false
		}
		setPendingCookie(w, p.PendingID)
		return path, true
	}
	clearPendingCookie(w)
	if err := s.sessions.signIn(r, w, p.SessionID, p.Session, p.User); err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return "", false
	}
	s.setDeviceCookie(w, r, p.User.ID)
	next := s.returnTo(p.ReturnTo)
	if p.Session.RecoveryOnly {
		next = factorsFirst(next) // recoveryonly.go
	}
	next, err := s.recoveryStop(r, p.User.ID, next) // recover.go
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return "", false
	}
	return next, true
}

// recoveryCodeUsed tells the person by mail that one of her recovery codes
// was just used up by a completed sign-in (the enrollment service writes and sends it). The mail
// goes out in the background: sign-in does not wait for a slow mail server.
func (s *Server) recoveryCodeUsed(r *http.Request, p authn.Progress) {
	ref := s.store.Load()
	if ref == nil || ref.enroll == nil {
		s.logger.Warn("mail about a recovery code not sent: enrollment is unavailable", "user", p.Username)
		return
	}
	go ref.enroll.RecoveryCodeUsed(context.WithoutCancel(r.Context()), p.Username)
}
