package web

import (
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// EnrollCookie carries the id of an enrollment in progress (enroll.Progress.ID).
// Like the pending sign-in's, it changes at every step.
const EnrollCookie = "__Host-keyhall-enroll"

// enrollView is what the enrollment pages and /account/factors show.
type enrollView struct {
	Token        string // the link's token, for the start form on /enroll/{token}
	Name         string // the person's name, when known
	Username     string // her username, for a password manager (autocomplete="username")
	NeedPassword bool   // ask for the directory password
	AllowApp     bool   // the person's policy admits an authenticator app here
	SelfService  bool   // a signed-in person adds a factor from /account
	Kind         string // "key" or "app": what was just added
	Nickname     string
	Model        string
	QR           template.URL // data:image/png;base64,… of the app's secret
	URI          template.URL // otpauth://totp/…: opens the app on the same device
	Secret       string       // the app's secret to type
	Codes        []string     // recovery codes, shown until she confirms them
	Org          string       // the organisation, on the printed codes
	Shown        time.Time    // when the codes were shown, on the printed codes
	Factors      []factorRow
	RecoveryOnly bool // the session came from a recovery code: only adding is allowed
	// AfterCode: a recovery-only session, and what it is to do next
	// (recoveryonly.go).
	AfterCode   *recoveryOnlyView
	Consumed    bool // a factor is stored: the person may go on to her recovery codes
	SetPassword bool // a local person without a password: her enrollment asks for one next
	// PasswordRequired: SetPassword, and her invitation requires it: she
	// cannot finish without one.
	PasswordRequired bool
	OfferCodes       bool // recovery codes would work for her (she has a password Keyhall can check)
	MayAddKey        bool // this sign-in may add a key (enroll.ScopeOf)
	MayNewCodes      bool // this sign-in may replace her recovery codes (enroll.ScopeOf)
	MinPassword      int  // the shortest password she may choose

	// On /account/factors: her unused recovery codes, and the factor she
	// asked to remove, until she confirms.
	CodesLeft int
	Confirm   *factorRow
}

// enrollFor returns the enrollment service, or writes 503 and returns nil
// when the database is not open yet or the service could not be built.
func (s *Server) enrollFor(w http.ResponseWriter, r *http.Request) *enroll.Service {
	ref := s.store.Load()
	switch {
	case ref == nil:
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, errors.New("enrollment not available: database not open yet"))
		return nil
	case ref.enroll == nil:
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, errors.New("enrollment not available: it could not be set up (see the log of SetStore)"))
		return nil
	}
	return ref.enroll
}

// enrollForm is the start of every enrollment POST: the form parsed and
// the enrollment service, or nil when it answered already.
func (s *Server) enrollForm(w http.ResponseWriter, r *http.Request) *enroll.Service {
	if !s.parseForm(w, r) {
		return nil
	}
	return s.enrollFor(w, r)
}

// newEnroll builds the enrollment service on st from Config.Enroll, taking
// the public URL, the encryption key, the directory, the logger and the
// clock from the server and the sign-in settings where they are unset. It
// logs and returns nil when it cannot: then /enroll answers 503.
func (s *Server) newEnroll(st authn.Store) *enroll.Service {
	cfg := s.enrollCfg
	cfg.Store = st
	if cfg.PublicURL == nil {
		cfg.PublicURL = s.publicURL
	}
	if cfg.RPName == "" {
		cfg.RPName = s.signIn.RPName
	}
	if cfg.Issuer == "" {
		cfg.Issuer = s.site.Name // the app's entry is named as the sign-in page names it (totp.instructions)
	}
	if cfg.EncryptionKey == ([32]byte{}) {
		cfg.EncryptionKey = s.signIn.EncryptionKey // sign-in must open the app secrets enrollment seals
	}
	if cfg.Argon2 == (authn.Argon2Params{}) {
		cfg.Argon2 = s.signIn.Argon2 // the passwords people set are checked at sign-in
	}
	if cfg.Directory == nil && s.signIn.Directory != nil {
		cfg.Directory = s.signIn.Directory
	}
	if cfg.PasswordLimit == 0 && cfg.PasswordWindow == 0 {
		// Directory passwords at enrollment count as at sign-in: below
		// the directory's lockout threshold.
		cfg.PasswordLimit, cfg.PasswordWindow = s.signIn.PasswordLimit, s.signIn.PasswordWindow
	}
	if cfg.Logger == nil {
		cfg.Logger = s.logger
	}
	if cfg.Now == nil {
		cfg.Now = s.now
	}
	if cfg.SessionIdle == 0 {
		cfg.SessionIdle = s.idle // a self-service enrollment ends with its session
	}
	svc, err := enroll.New(cfg)
	if err != nil {
		s.logger.Error("enrollment is unavailable", "err", fmt.Errorf("web: set up enrollment: %w", err))
		return nil
	}
	return svc
}

// setEnrollCookie hands the browser the id of its enrollment's next step;
// a nil id (the enrollment is over) deletes the cookie.
func setEnrollCookie(w http.ResponseWriter, id []byte) {
	if len(id) == 0 {
		http.SetCookie(w, hostCookie(EnrollCookie, "", -1))
		return
	}
	http.SetCookie(w, hostCookie(EnrollCookie, base64.RawURLEncoding.EncodeToString(id), int(enroll.IdleTTL/time.Second)))
}

// enrollID returns the enrollment id from the request's cookie, or nil.
func enrollID(r *http.Request) []byte {
	c, err := r.Cookie(EnrollCookie)
	if err != nil {
		return nil
	}
	id, err := parseSessionCookie(c.Value)
	if err != nil {
		return nil
	}
	return id
}

// enrollPage is the start page: the link's greeting or the form for the
// username and the code from the letter.
func (s *Server) enrollPage(w http.ResponseWriter, r *http.Request) {
	s.page(w, r, &view{Page: "enroll", Enroll: &enrollView{NeedPassword: s.enrollCfgAsksPassword()}})
}

// enrollCfgAsksPassword reports whether people may need their directory
// password to redeem an invitation by code: a directory is configured.
func (s *Server) enrollCfgAsksPassword() bool {
	return s.enrollCfg.Directory != nil || s.signIn.Directory != nil
}

// enrollLinkPage greets the person an invitation link is for. It only
// looks: the link is redeemed by the form it shows, so a mail scanner that
// follows links changes nothing. A link that can no longer be used gets the
// page that says to ask IT for a new letter.
func (s *Server) enrollLinkPage(w http.ResponseWriter, r *http.Request) {
	svc := s.enrollFor(w, r)
	if svc == nil {
		return
	}
	token := r.PathValue("token")
	info, err := svc.Inspect(r.Context(), token, s.clientInfo(r))
	if err != nil {
		if !s.enrollGoOn(w, r, svc, token, err) {
			s.enrollLinkRefused(w, r, err)
		}
		return
	}
	ev := &enrollView{Token: token, Name: cmp.Or(info.User.DisplayName, info.User.Username), NeedPassword: info.NeedsPassword}
	s.page(w, r, &view{Page: "enroll", Enroll: ev})
}

// enrollGoOn answers the used invitation link (token; refused with err) of
// a browser whose enrollment for the link's person is still open with the
// step that enrollment is at, and reports whether it answered: after an
// error that followed a stored factor, or a reload, the link leads the
// person on, never to a dead end.
func (s *Server) enrollGoOn(w http.ResponseWriter, r *http.Request, svc *enroll.Service, token string, err error) bool {
	id := enrollID(r)
	if id == nil || token == "" || !enroll.IsReason(err, enroll.ReasonUsed) {
		return false
	}
	p, err := svc.Resume(r.Context(), id, token)
	if len(p.ID) > 0 {
		setEnrollCookie(w, p.ID)
	}
	if err != nil {
		s.logger.Debug("a used link does not lead on", "err", err)
		return false
	}
	s.page(w, r, &view{Page: "enroll_choose", Notice: msgEnrollResumed.in(lang(r)), Enroll: chooseView(p)})
	return true
}

// enrollLinkRefused answers a link that cannot be used: unknown (404),
// used or expired (410), too many tries (429); any other error means the
// storage is unavailable.
func (s *Server) enrollLinkRefused(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := errors.AsType[*enroll.Error](err)
	switch {
	case !ok:
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
	case e.Reason == enroll.ReasonUsed:
		s.enrollInvalid(w, r, http.StatusGone, msgEnrollLinkUsed, err)
	case e.Reason == enroll.ReasonExpired:
		s.enrollInvalid(w, r, http.StatusGone, msgEnrollLinkExpired, err)
	case e.Reason == enroll.ReasonWrongCode:
		s.enrollInvalid(w, r, http.StatusNotFound, msgEnrollLinkWrong, err)
	default:
		s.enrollFailed(w, r, enroll.Progress{}, err, nil)
	}
}

// enrollRedeem redeems an invitation, from the link (token in the path) or
// from the form with username and code, and shows the choice of factor.
func (s *Server) enrollRedeem(w http.ResponseWriter, r *http.Request) {
	svc := s.enrollForm(w, r)
	if svc == nil {
		return
	}
	red := enroll.Redemption{
		Token:    r.PathValue("token"),
		Username: strings.TrimSpace(r.PostFormValue("username")),
		Code:     r.PostFormValue("code"),
		Password: r.PostFormValue("password"),
		Client:   s.clientInfo(r),
	}
	if red.Token == "" && (red.Username == "" || strings.TrimSpace(red.Code) == "") {
		s.failPage(w, r, http.StatusBadRequest, msgEnrollFormMissing, nil, s.redeemView(r, red))
		return
	}
	p, err := svc.Redeem(r.Context(), red)
	if err != nil {
		if !s.enrollGoOn(w, r, svc, red.Token, err) {
			s.enrollFailed(w, r, p, err, s.redeemView(r, red))
		}
		return
	}
	setEnrollCookie(w, p.ID)
	s.page(w, r, &view{Page: "enroll_choose", Enroll: chooseView(p)})
}

// redeemView is the start form again after a refusal, as it was filled in.
func (s *Server) redeemView(r *http.Request, red enroll.Redemption) *view {
	ev := &enrollView{Token: red.Token, NeedPassword: red.Token == "" && s.enrollCfgAsksPassword()}
	if red.Token != "" && r.PostForm.Has("password") {
		ev.NeedPassword = true
	}
	return &view{Page: "enroll", Username: red.Username, Enroll: ev}
}

// chooseView offers the factors the person's policy admits at this point:
// an app first only where an app alone is enough.
func chooseView(p enroll.Progress) *enrollView {
	allow := p.Offer.App
	if !p.Consumed {
		allow = allow && p.Rules.TOTPAlone()
	}
	consumed := p.Consumed && !p.SelfService
	return &enrollView{Name: cmp.Or(p.User.DisplayName, p.User.Username), AllowApp: allow, Consumed: consumed,
		SetPassword: consumed && p.Offer.SetPassword, PasswordRequired: consumed && p.Offer.PasswordRequired,
		OfferCodes: p.Offer.RecoveryCodes}
}

// enrollFailed answers a refused enrollment step. An *enroll.Error shows
// its text in the person's language: an invitation or step that can no
// longer be used on the page that says to ask IT, anything else on the page
// v, with the new enrollment id so the person can try again. Any other
// error means the storage is unavailable (503); if a step was stored before
// it (p.ID), the browser still gets the new id, so that its next request
// (the invitation link again, see enrollGoOn) leads on from there.
func (s *Server) enrollFailed(w http.ResponseWriter, r *http.Request, p enroll.Progress, err error, v *view) {
	e, ok := errors.AsType[*enroll.Error](err)
	if !ok {
		if len(p.ID) > 0 {
			setEnrollCookie(w, p.ID)
		}
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	msg := message{DE: e.DE, EN: e.EN}
	if len(p.ID) > 0 {
		setEnrollCookie(w, p.ID)
	}
	status := enrollStatus(e.Reason)
	switch e.Reason {
	case enroll.ReasonThrottled:
		wait := max(e.RetryAfter, time.Minute)
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())))
		msg = msgEnrollThrottled(int((wait + time.Minute - 1) / time.Minute))
	case enroll.ReasonUsed, enroll.ReasonDisabled, enroll.ReasonFrozen:
		setEnrollCookie(w, nil)
		s.enrollInvalid(w, r, status, msg, err)
		return
	case enroll.ReasonSignIn:
		// The sign-in a self-service enrollment belongs to is over: it is too.
		setEnrollCookie(w, nil)
		s.failPage(w, r, status, msg, err, &view{Page: "error", Next: "/login?return_to=" + url.QueryEscape(factorsPath)})
		return
	case enroll.ReasonExpired:
		if len(p.ID) == 0 {
			setEnrollCookie(w, nil)
			s.enrollInvalid(w, r, status, msg, err)
			return
		}
	case enroll.ReasonWrongCode:
		if v != nil && v.Page == "enroll" && v.Enroll != nil && v.Enroll.Token != "" {
			s.enrollInvalid(w, r, http.StatusNotFound, msgEnrollLinkWrong, err)
			return
		}
	}
	if v != nil && v.Page == "enroll_choose" && len(p.ID) > 0 {
		v.Enroll = chooseView(p)
	}
	s.failPage(w, r, status, msg, err, v)
}

// enrollStatus is the HTTP status of a refusal.
func enrollStatus(reason enroll.Reason) int {
	switch reason {
	case enroll.ReasonThrottled:
		return http.StatusTooManyRequests
	case enroll.ReasonWrongCode, enroll.ReasonWrongPassword:
		return http.StatusUnauthorized
	case enroll.ReasonExpired, enroll.ReasonUsed:
		return http.StatusGone
	case enroll.ReasonDuplicate:
		return http.StatusConflict
	case enroll.ReasonDirectoryUnavailable:
		return http.StatusServiceUnavailable
	case enroll.ReasonInvalid, enroll.ReasonNoFactor, enroll.ReasonNickname, enroll.ReasonPasswordWeak:
		return http.StatusBadRequest
	}
	return http.StatusForbidden // disabled, and what a group's policy refuses
}

// enrollInvalid is the page for an invitation that cannot be used: msg and
// the advice to ask IT for a new letter.
func (s *Server) enrollInvalid(w http.ResponseWriter, r *http.Request, status int, msg message, err error) {
	s.failPage(w, r, status, msg, err, &view{Page: "enroll_invalid"})
}
