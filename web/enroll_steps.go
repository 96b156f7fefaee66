package web

import (
	"cmp"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/keyhall/keyhall/enroll"
)

// enrollKeyPage shows the key registration: a nickname field and the
// button the page script turns into navigator.credentials.create(). A
// browser without an enrollment goes to the start page.
func (s *Server) enrollKeyPage(w http.ResponseWriter, r *http.Request) {
	if enrollID(r) == nil {
		http.Redirect(w, r, "/enroll", http.StatusSeeOther)
		return
	}
	s.page(w, r, &view{Page: "enroll_key", Enroll: &enrollView{AllowApp: r.URL.Query().Get("app") == "1"}})
}

// enrollResume answers a GET of a step that is only ever POSTed (the
// language switch, a reload): back to the key page while an enrollment is
// open, else to the start page.
func (s *Server) enrollResume(w http.ResponseWriter, r *http.Request) {
	to := "/enroll"
	if enrollID(r) != nil {
		to = "/enroll/key"
	}
	if l := r.URL.Query().Get("lang"); l == "de" || l == "en" {
		to += "?lang=" + l
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// enrollKeyBegin opens a key registration and returns its options
// (WebAuthn L3 §5.4, PublicKeyCredentialCreationOptions) to the script.
func (s *Server) enrollKeyBegin(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.readJSON(w, r); !ok {
		return
	}
	svc := s.enrollFor(w, r)
	if svc == nil {
		return
	}
	options, p, err := svc.BeginKey(r.Context(), enrollID(r))
	if err != nil {
		s.enrollFailed(w, r, p, err, &view{Page: "enroll_key"})
		return
	}
	setEnrollCookie(w, p.ID)
	s.writeOptions(w, options)
}

// enrollKeyFinish takes the form the script sends after the key answered:
// the credential (credential.toJSON() of navigator.credentials.create())
// and the nickname. The key is stored when it meets the person's policy;
// the page then names its model. A refusal shows the policy's message on
// the key page, ready for another try.
func (s *Server) enrollKeyFinish(w http.ResponseWriter, r *http.Request) {
	svc := s.enrollForm(w, r)
	if svc == nil {
		return
	}
	nickname := strings.TrimSpace(r.PostFormValue("nickname"))
	k, p, err := svc.FinishKey(r.Context(), enrollID(r), []byte(r.PostFormValue("credential")), nickname)
	if err != nil {
		ev := &enrollView{Nickname: nickname}
		if len(p.ID) > 0 {
			ev.AllowApp = chooseView(p).AllowApp
		}
		s.enrollFailed(w, r, p, err, &view{Page: "enroll_key", Enroll: ev})
		return
	}
	ev := &enrollView{Kind: "key", Nickname: k.Credential.Nickname, Model: k.Model, AllowApp: p.Offer.App}
	s.enrollAdded(w, r, svc, p, ev)
}

// enrollAdded shows that a factor was stored. In an invitation the person
// goes on (a spare key, an app, then the recovery codes); a signed-in
// person adding a factor from /account is done.
func (s *Server) enrollAdded(w http.ResponseWriter, r *http.Request, svc *enroll.Service, p enroll.Progress, ev *enrollView) {
	ev.Name = cmp.Or(p.User.DisplayName, p.User.Username)
	ev.SetPassword, ev.OfferCodes = p.Offer.SetPassword, p.Offer.RecoveryCodes
	ev.PasswordRequired = p.Offer.PasswordRequired
	if p.SelfService {
		ev.SelfService = true
		if sess, u, err := s.currentSession(r); err == nil && sess.RecoveryOnly {
			// She just added one: sign in with it now.
			ev.AfterCode = &recoveryOnlyView{NewFactor: true, Username: u.Username}
		}
		if _, err := svc.Finish(r.Context(), p.ID); err != nil {
			s.logger.Warn("end a self-service enrollment", "user", p.User.ID, "err", err)
		}
		setEnrollCookie(w, nil)
	} else {
		setEnrollCookie(w, p.ID)
	}
	s.page(w, r, &view{Page: "enroll_added", Enroll: ev})
}

// enrollAppBegin starts adding an authenticator app: the QR code and the
// secret to type, shown again only during this set-up (enrollAppShow).
func (s *Server) enrollAppBegin(w http.ResponseWriter, r *http.Request) {
	svc := s.enrollForm(w, r)
	if svc == nil {
		return
	}
	s.beginApp(w, r, svc, enrollID(r))
}

// beginApp asks the enrollment id for a new app key and shows it.
func (s *Server) beginApp(w http.ResponseWriter, r *http.Request, svc *enroll.Service, id []byte) {
	setup, p, err := svc.BeginTOTP(r.Context(), id)
	if err != nil {
		s.enrollFailed(w, r, p, err, &view{Page: "enroll_choose"})
		return
	}
	setEnrollCookie(w, p.ID)
	s.page(w, r, &view{Page: "enroll_app", LangPath: "/enroll/app", Enroll: appView(setup, "")})
}

// appView is the app page's content: the QR code, the otpauth:// link for
// an app on the same device, and the secret to type.
func appView(setup enroll.TOTPSetup, nickname string) *enrollView {
	return &enrollView{
		QR:       template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(setup.QRPNG)),
		URI:      template.URL(setup.URI), // otpauth://totp/…, made by enroll, not from the request
		Secret:   setup.Secret,
		Nickname: nickname,
	}
}

// enrollAppShow answers a GET of the app page (the language switch, a
// reload): the same QR code and secret again, so the entry she may have
// made in her app stays right.
func (s *Server) enrollAppShow(w http.ResponseWriter, r *http.Request) {
	if enrollID(r) == nil {
		s.enrollResume(w, r)
		return
	}
	svc := s.enrollFor(w, r)
	if svc == nil {
		return
	}
	setup, p, err := svc.ShowTOTP(r.Context(), enrollID(r))
	if err != nil {
		s.showFailed(w, r, p, err)
		return
	}
	setEnrollCookie(w, p.ID)
	s.page(w, r, &view{Page: "enroll_app", LangPath: "/enroll/app", Enroll: appView(setup, "")})
}

// enrollAppConfirm stores the app after a right code from it. A wrong code
// stores nothing; the page asks again (the key stays the same).
func (s *Server) enrollAppConfirm(w http.ResponseWriter, r *http.Request) {
	svc := s.enrollForm(w, r)
	if svc == nil {
		return
	}
	nickname := strings.TrimSpace(r.PostFormValue("nickname"))
	p, err := svc.ConfirmTOTP(r.Context(), enrollID(r), r.PostFormValue("code"), nickname)
	if err != nil {
		v := &view{Page: "enroll_app", LangPath: "/enroll/app", Enroll: &enrollView{Nickname: nickname}}
		// A wrong code (or too many): the same QR code and secret again.
		if e, ok := errors.AsType[*enroll.Error](err); ok && len(p.ID) > 0 &&
			(e.Reason == enroll.ReasonWrongCode || e.Reason == enroll.ReasonThrottled) {
			setup, again, showErr := svc.ShowTOTP(r.Context(), p.ID)
			if showErr != nil {
				s.enrollFailed(w, r, again, showErr, &view{Page: "enroll_choose"})
				return
			}
			p, v.Enroll = again, appView(setup, nickname)
		}
		s.enrollFailed(w, r, p, err, v)
		return
	}
	s.enrollAdded(w, r, svc, p, &enrollView{Kind: "app", Nickname: cmp.Or(nickname, "Authenticator-App"), AllowApp: false})
}

// enrollRecovery makes the person's ten recovery codes and shows them once.
func (s *Server) enrollRecovery(w http.ResponseWriter, r *http.Request) {
	svc := s.enrollForm(w, r)
	if svc == nil {
		return
	}
	s.newCodes(w, r, svc, enrollID(r))
}

// newCodes asks the enrollment id for new recovery codes and shows them.
func (s *Server) newCodes(w http.ResponseWriter, r *http.Request, svc *enroll.Service, id []byte) {
	codes, p, err := svc.NewRecoveryCodes(r.Context(), id)
	if err != nil {
		s.enrollFailed(w, r, p, err, &view{Page: "enroll_choose"})
		return
	}
	s.showCodes(w, r, p, codes)
}

// showCodes shows the recovery codes waiting for her confirmation; the
// language switch leads to the same codes (enrollCodesShow).
func (s *Server) showCodes(w http.ResponseWriter, r *http.Request, p enroll.Progress, codes []string) {
	setEnrollCookie(w, p.ID)
	s.page(w, r, &view{Page: "enroll_codes", LangPath: "/enroll/recovery", Enroll: s.codesView(p, codes)})
}

// codesView is the codes page's content; printed, it names the person,
// the organisation and the date.
func (s *Server) codesView(p enroll.Progress, codes []string) *enrollView {
	return &enrollView{Codes: codes, Name: cmp.Or(p.User.DisplayName, p.User.Username),
		Org: cmp.Or(s.enrollCfg.Notices.Sender.Name, s.signIn.RPName), Shown: s.now()}
}

// enrollCodesShow answers a GET of the codes page (the language switch, a
// reload): the same codes again, still waiting for her confirmation.
func (s *Server) enrollCodesShow(w http.ResponseWriter, r *http.Request) {
	if enrollID(r) == nil {
		s.enrollResume(w, r)
		return
	}
	svc := s.enrollFor(w, r)
	if svc == nil {
		return
	}
	codes, p, err := svc.ShowRecoveryCodes(r.Context(), enrollID(r))
	if err != nil {
		s.showFailed(w, r, p, err)
		return
	}
	s.showCodes(w, r, p, codes)
}

// showFailed answers a GET of a one-time page that has nothing to show
// again (no app setup or codes waiting: the page was left already) while
// the enrollment goes on: as enrollResume (the request carries the
// enrollment's cookie), under its new id. Anything
// else is a refusal as for any step.
func (s *Server) showFailed(w http.ResponseWriter, r *http.Request, p enroll.Progress, err error) {
	if e, ok := errors.AsType[*enroll.Error](err); ok && e.Reason == enroll.ReasonExpired && len(p.ID) > 0 {
		setEnrollCookie(w, p.ID)
		s.enrollResume(w, r)
		return
	}
	s.enrollFailed(w, r, p, err, &view{Page: "enroll_choose"})
}

// enrollDone ends the enrollment once the person confirms she keeps the
// codes safe: only now do the new codes replace her old ones. Then it
// leads her to sign in (or back to her account).
func (s *Server) enrollDone(w http.ResponseWriter, r *http.Request) {
	svc := s.enrollForm(w, r)
	if svc == nil {
		return
	}
	if r.PostFormValue("stored") != "yes" {
		v := &view{Page: "enroll_codes", LangPath: "/enroll/recovery", Enroll: &enrollView{}}
		if id := enrollID(r); id != nil {
			codes, p, err := svc.ShowRecoveryCodes(r.Context(), id)
			if err != nil {
				s.enrollFailed(w, r, p, err, &view{Page: "enroll_choose"})
				return
			}
			setEnrollCookie(w, p.ID)
			v.Enroll = s.codesView(p, codes)
		}
		s.failPage(w, r, http.StatusBadRequest, msgEnrollConfirmCodes, nil, v)
		return
	}
	if id := enrollID(r); id != nil {
		p, err := svc.KeepRecoveryCodes(r.Context(), id)
		if e, ok := errors.AsType[*enroll.Error](err); ok && len(p.ID) == 0 &&
			(e.Reason == enroll.ReasonExpired || e.Reason == enroll.ReasonSignIn) {
			// Too late: codes that were to replace hers are not stored, and
			// she must not throw her old sheet away.
			setEnrollCookie(w, nil)
			s.failPage(w, r, http.StatusGone, msgCodesNotKept, err, &view{Page: "error", Next: factorsPath})
			return
		}
		if err != nil {
			// The codes shown are not stored: she must hear it.
			s.enrollFailed(w, r, p, err, &view{Page: "enroll_choose"})
			return
		}
		fp, err := svc.Finish(r.Context(), p.ID)
		if len(fp.ID) > 0 {
			// Not finished: her invitation requires a password she has
			// not set yet. The choose page says so and leads to it.
			s.enrollFailed(w, r, fp, err, &view{Page: "enroll_choose"})
			return
		}
		if err != nil && !errors.As(err, new(*enroll.Error)) {
			s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
			return
		}
		s.registrationDone(r, p.User.ID) // register.go
	}
	setEnrollCookie(w, nil)
	if _, _, err := s.currentSession(r); err == nil {
		http.Redirect(w, r, "/account/factors?e=codes", http.StatusSeeOther)
		return
	}
	s.page(w, r, &view{Page: "enroll_done"})
}
