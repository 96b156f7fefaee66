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
	if p.SelfService {
		ev.SelfService = true
		if err := svc.Finish(r.Context(), p.ID); err != nil {
			s.logger.Warn("end a self-service enrollment", "user", p.User.ID, "err", err)
		}
		setEnrollCookie(w, nil)
	} else {
		setEnrollCookie(w, p.ID)
	}
	s.page(w, r, &view{Page: "enroll_added", Enroll: ev})
}

// enrollAppBegin starts adding an authenticator app: the QR code and the
// key to type, both shown once.
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
	qr := template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(setup.QRPNG))
	s.page(w, r, &view{Page: "enroll_app", Enroll: &enrollView{QR: qr, Secret: setup.Secret}})
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
		s.enrollFailed(w, r, p, err, &view{Page: "enroll_app", Enroll: &enrollView{Nickname: nickname}})
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
	setEnrollCookie(w, p.ID)
	s.page(w, r, &view{Page: "enroll_codes", Enroll: &enrollView{Codes: codes, Name: cmp.Or(p.User.DisplayName, p.User.Username)}})
}

// enrollDone ends the enrollment once the person confirms she keeps the
// codes safe, and leads her to sign in (or back to her account).
func (s *Server) enrollDone(w http.ResponseWriter, r *http.Request) {
	svc := s.enrollForm(w, r)
	if svc == nil {
		return
	}
	if r.PostFormValue("stored") != "yes" {
		s.failPage(w, r, http.StatusBadRequest, msgEnrollConfirmCodes, nil, &view{Page: "enroll_codes", Enroll: &enrollView{}})
		return
	}
	if id := enrollID(r); id != nil {
		if err := svc.Finish(r.Context(), id); err != nil && !errors.As(err, new(*enroll.Error)) {
			s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
			return
		}
	}
	setEnrollCookie(w, nil)
	if _, _, err := s.currentSession(r); err == nil {
		http.Redirect(w, r, "/account/factors?e=codes", http.StatusSeeOther)
		return
	}
	s.page(w, r, &view{Page: "enroll_done"})
}
