package web

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/citizens"
)

// registerCookie holds the browser's random binding value: a registration
// link works only in the browser whose cookie's hash it carries.
const registerCookie = "__Host-keyhall-register"

// registerCookieAge is how long the browser keeps its binding value: a
// day, far longer than a link is valid.
const registerCookieAge = 24 * time.Hour

// registerView is what the registration pages show.
type registerView struct {
	Email, Name string // the form as it was filled in, after a refusal
	Token       string // the link's token, on its confirmation page
	MaxName     int
}

// Citizens returns the citizens' service, nil until SetStore built it
// (serve runs its periodic removal of unfinished
// registrations).
func (s *Server) Citizens() *citizens.Service {
	if ref := s.store.Load(); ref != nil {
		return ref.citizens
	}
	return nil
}

// registerBinding returns the browser's binding value and (again) sets its
// cookie, making a new value when the browser has none: every answer of
// /register sets it the same way.
func registerBinding(w http.ResponseWriter, r *http.Request) []byte {
	var b []byte
	if c, err := r.Cookie(registerCookie); err == nil {
		if v, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil && len(v) == 32 {
			b = v
		}
	}
	if b == nil {
		b = make([]byte, 32)
		rand.Read(b) // never fails (crypto/rand, Go ≥ 1.24)
	}
	http.SetCookie(w, hostCookie(registerCookie, base64.RawURLEncoding.EncodeToString(b), int(registerCookieAge/time.Second)))
	return b
}

// bindingOf returns the browser's binding value without setting anything.
func bindingOf(r *http.Request) []byte {
	c, err := r.Cookie(registerCookie)
	if err != nil {
		return nil
	}
	v, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return nil
	}
	return v
}

// registerPage is the form: e-mail address and name.
func (s *Server) registerPage(w http.ResponseWriter, r *http.Request) {
	registerBinding(w, r)
	s.page(w, r, &view{Page: "register", Register: &registerView{MaxName: citizens.MaxDisplayName}})
}

// registerSubmit starts a registration (citizens.Service.Start). Its
// answer is the same page, status and headers whether the address has an
// account or not.
func (s *Server) registerSubmit(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	svc := s.citizensFor(w, r)
	if svc == nil {
		return
	}
	binding := registerBinding(w, r)
	req := citizens.Request{Email: r.PostFormValue("email"), DisplayName: r.PostFormValue("name"),
		Binding: binding, Client: s.clientInfo(r)}
	if err := svc.Start(r.Context(), req); err != nil {
		s.registerFailed(w, r, err, &view{Page: "register",
			Register: &registerView{Email: req.Email, Name: req.DisplayName, MaxName: citizens.MaxDisplayName}})
		return
	}
	s.page(w, r, &view{Page: "register_sent"})
}

// registerConfirmPage shows the button that opens the account a link was
// mailed for; a link that cannot be used gets its page at once. Opening
// the link changes nothing (mail scanners open links too).
func (s *Server) registerConfirmPage(w http.ResponseWriter, r *http.Request) {
	svc := s.citizensFor(w, r)
	if svc == nil {
		return
	}
	token := r.PathValue("token")
	if err := svc.CheckLink(r.Context(), token, bindingOf(r)); err != nil {
		s.registerFailed(w, r, err, nil)
		return
	}
	s.page(w, r, &view{Page: "register_confirm", Register: &registerView{Token: token}})
}

// registerConfirm uses the link (citizens.Service.Confirm) and leads into
// the enrollment it opened.
func (s *Server) registerConfirm(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	svc := s.citizensFor(w, r)
	if svc == nil {
		return
	}
	p, err := svc.Confirm(r.Context(), r.PathValue("token"), bindingOf(r), s.clientInfo(r))
	if err != nil {
		if _, ok := errors.AsType[*enroll.Error](err); ok {
			s.enrollFailed(w, r, p, err, &view{Page: "enroll_choose"})
			return
		}
		s.registerFailed(w, r, err, nil)
		return
	}
	setEnrollCookie(w, p.ID)
	s.page(w, r, &view{Page: "enroll_choose", Enroll: chooseView(p)})
}

// registerFailed answers a refused registration: the form v again, or
// the page that says what to do with a link; anything but a refusal means
// the storage is unavailable.
func (s *Server) registerFailed(w http.ResponseWriter, r *http.Request, err error, v *view) {
	e, ok := errors.AsType[*citizens.RegisterError](err)
	if !ok {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	status := http.StatusBadRequest
	switch e.Reason {
	case citizens.RegisterThrottled:
		status = http.StatusTooManyRequests
	case citizens.RegisterBusy:
		status = http.StatusServiceUnavailable
	case citizens.RegisterLinkWrong:
		status = http.StatusNotFound
	case citizens.RegisterLinkExpired, citizens.RegisterLinkUsed:
		status = http.StatusGone
	case citizens.RegisterOtherBrowser:
		status = http.StatusForbidden
	case citizens.RegisterTaken:
		status = http.StatusConflict
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter/time.Second)))
	}
	if v == nil {
		v = &view{Page: "register_invalid"}
	}
	s.failPage(w, r, status, message{DE: e.DE, EN: e.EN}, err, v)
}

// registrationDone marks a self-registered citizen's registration finished
// when her enrollment is (citizens.Service.RegistrationDone); a failure is
// logged: her registration would be removed a day later.
func (s *Server) registrationDone(r *http.Request, userID string) {
	ref := s.store.Load()
	if ref == nil || ref.citizens == nil || userID == "" {
		return
	}
	if err := ref.citizens.RegistrationDone(r.Context(), userID); err != nil {
		s.logger.Error("could not mark a registration finished; it will be removed as unfinished", "user", userID, "err", err)
	}
}
