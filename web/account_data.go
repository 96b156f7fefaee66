package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/citizens"
	"github.com/keyhall/keyhall/enroll/desk"
)

// Her data on /account (DSGVO Art. 15, 17, 20), the citizens service's
// Export and Delete in HTTP:
//
//	GET  /account            "Ihre Daten": what is held, and the two links
//	GET  /account/data.json  all of it, as a download (no-store)
//	GET  /account/delete     what goes and what stays; a refusal (directory
//	                         person, last admin) says whom to ask instead
//	POST /account/delete     sign-in older than citizens.ConfirmWithin (or
//	                         not by key or app) → her key or app again,
//	                         back to GET /account/delete; else erased,
//	                         cookie cleared → /account/deleted
//
// Cross-site POSTs are refused before any handler (crossOrigin).

// accountData is the "Ihre Daten" section of /account and the page before
// a deletion.
type accountData struct {
	Profile     citizens.Profile
	Groups      []string
	Tools       []citizens.Tool
	Invitations int
	// Refused is why she may not delete her account herself ("" if she
	// may), in her language.
	Refused string
	// Confirmed: her sign-in confirms a deletion now
	// (citizens.ConfirmsDeletion); else the button asks for a key or code.
	Confirmed bool
	// HasKey: she has a key, so the confirmation asks for it (else for an
	// app code).
	HasKey bool
}

// citizensFor returns the citizens service, or answers 503 and returns nil.
func (s *Server) citizensFor(w http.ResponseWriter, r *http.Request) *citizens.Service {
	ref := s.store.Load()
	if ref == nil || ref.citizens == nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, errors.New("the citizens service is not available"))
		return nil
	}
	return ref.citizens
}

// accountDataOf is what the "Ihre Daten" section shows of u; nil when
// the citizens service is not available.
func (s *Server) accountDataOf(ctx context.Context, u authn.User, lang string) (*accountData, error) {
	ref := s.store.Load()
	if ref == nil || ref.citizens == nil {
		return nil, nil
	}
	d, err := ref.citizens.Summary(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	a := &accountData{Profile: d.Profile, Groups: d.Groups, Tools: d.Tools, Invitations: len(d.Invitations)}
	a.HasKey = slices.ContainsFunc(d.Factors, func(f citizens.Factor) bool { return f.Kind == "key" })
	err = ref.citizens.MayDelete(ctx, u)
	if refused, ok := errors.AsType[*citizens.DeleteRefused](err); ok {
		a.Refused = message{DE: refused.De, EN: refused.En}.in(lang)
	} else if err != nil {
		return nil, err
	}
	return a, nil
}

// accountDataJSON sends everything Keyhall holds about the signed-in
// person as a JSON file (citizens.Data).
func (s *Server) accountDataJSON(w http.ResponseWriter, r *http.Request) {
	_, _, u, ok := s.accountSession(w, r)
	if !ok {
		return
	}
	svc := s.citizensFor(w, r)
	if svc == nil {
		return
	}
	d, err := svc.Export(r.Context(), u.ID)
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, fmt.Errorf("export data: %w", err))
		return
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, msgInternal, fmt.Errorf("export data: %w", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="keyhall-daten.json"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(append(b, '\n'))
}

// accountDeletePage shows what a deletion removes and what stays, and
// the button that deletes (her sign-in confirms it) or that asks for her
// key or code first; or why she may not delete the account herself.
func (s *Server) accountDeletePage(w http.ResponseWriter, r *http.Request) {
	_, sess, u, ok := s.accountSession(w, r)
	if !ok {
		return
	}
	s.showDeletePage(w, r, http.StatusOK, sess, u, nil)
}

// showDeletePage renders the deletion page with status and, if msg is
// set, an alert.
func (s *Server) showDeletePage(w http.ResponseWriter, r *http.Request, status int, sess authn.Session, u authn.User, msg *message) {
	l := lang(r)
	a, err := s.accountDataOf(r.Context(), u, l)
	if err == nil && a == nil {
		err = errors.New("the citizens service is not available")
	}
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	a.Confirmed = citizens.ConfirmsDeletion(sess, s.now())
	w.Header().Set("Cache-Control", "no-store")
	v := &view{Page: "account_delete", Username: u.Username,
		Account: &accountView{Username: u.Username, DisplayName: u.DisplayName, Data: a}}
	if msg != nil {
		v.Error = msg.in(l)
	}
	if err := s.render(w, r, status, v); err != nil {
		s.fail(w, r, http.StatusInternalServerError, msgInternal, err)
	}
}

// accountDelete deletes the signed-in person's account when her sign-in
// confirms it; otherwise it starts her sign-in again at her key (or app)
// and leads back to the deletion page.
func (s *Server) accountDelete(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	_, sess, u, ok := s.accountSession(w, r)
	if !ok {
		return
	}
	svc := s.citizensFor(w, r)
	if svc == nil {
		return
	}
	// Who may not delete herself is told so before any confirmation.
	err := svc.MayDelete(r.Context(), u)
	if err == nil && (!citizens.ConfirmsDeletion(sess, s.now()) || r.PostFormValue("confirm") != "yes") {
		s.confirmAgain(w, r, u)
		return
	}
	if err == nil {
		err = svc.Delete(r.Context(), u.ID, "account", s.clientAddr(r))
	}
	if refused, ok := errors.AsType[*citizens.DeleteRefused](err); ok {
		s.showDeletePage(w, r, http.StatusConflict, sess, u, &message{DE: refused.De, EN: refused.En})
		return
	}
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, fmt.Errorf("delete account: %w", err))
		return
	}
	// Her sessions are gone with her; the cookies go too.
	if err := s.sessions.signOut(r, w); err != nil {
		s.logger.Warn("clear the cookie of a deleted account", "err", err)
		http.SetCookie(w, hostCookie(SessionCookie, "", -1))
	}
	http.Redirect(w, r, "/account/deleted", http.StatusSeeOther)
}

// confirmAgain starts a sign-in of u that begins at her key, or at her
// app when she has no key, and returns to the deletion page: a fresh
// touch or code confirms the deletion (as the console asks for a key
// again, adminRefused).
func (s *Server) confirmAgain(w http.ResponseWriter, r *http.Request, u authn.User) {
	si := s.signInFor(w, r)
	if si == nil {
		return
	}
	p, err := si.Start(r.Context(), u.Username, deletePath, s.clientInfo(r))
	if err == nil && p.Next != authn.StepKey && p.Next != authn.StepTOTP {
		st := s.storeFor(w, r)
		if st == nil {
			return
		}
		creds, cerr := st.ListCredentials(r.Context(), u.ID)
		step := authn.StepTOTP
		if cerr == nil && slices.ContainsFunc(creds, func(c authn.Credential) bool { return c.Kind == authn.KindWebAuthn }) {
			step = authn.StepKey
		}
		p, err = si.SwitchTo(r.Context(), p.PendingID, step)
	}
	if err != nil {
		s.stepFailed(w, r, "login", p, err)
		return
	}
	s.advance(w, r, p)
}

// deletePath is the deletion page, where a confirming sign-in returns.
const deletePath = "/account/delete"

// accountDeleted is the page after a deletion; it needs no session.
func (s *Server) accountDeleted(w http.ResponseWriter, r *http.Request) {
	s.page(w, r, &view{Page: "account_deleted"})
}

// OIDCGrantsEnded tells the tools of grants whose tokens ended with an
// erasure (citizens.Tools): a back-channel logout to each that listens,
// in the background with retries.
func (s *Server) OIDCGrantsEnded(_ context.Context, grants []authn.OIDCGrantRef) {
	if s.oidc != nil {
		s.oidc.notify(grants)
	}
}

// ToolName names a tool as /account does (citizens.ToolNamer).
func (s *Server) ToolName(id string) string { return s.toolName(id) }

// newCitizens builds the citizens service on st from Config.Citizens; nil
// (and the data section off) when enrollment is unavailable or the
// service cannot be built.
func (s *Server) newCitizens(st authn.Store, en *enroll.Service) *citizens.Service {
	if en == nil {
		return nil
	}
	cfg := s.citizensCfg
	cfg.Store, cfg.Enroll = st, en
	if cfg.PublicURL == nil {
		cfg.PublicURL = s.publicURL
	}
	if cfg.Tools == nil {
		cfg.Tools = s
	}
	if cfg.EncryptionKey == ([32]byte{}) {
		cfg.EncryptionKey = s.signIn.EncryptionKey
	}
	if cfg.Mailer == nil {
		cfg.Mailer = s.enrollCfg.Mailer
	}
	if cfg.Notices.PublicURL == nil {
		cfg.Notices = s.enrollCfg.Notices
		if cfg.Notices.PublicURL == nil {
			cfg.Notices.PublicURL = s.publicURL
		}
	}
	if cfg.AdminGroups == nil {
		if s.deskCfg.AdminGroup != "" {
			cfg.AdminGroups = append(cfg.AdminGroups, s.deskCfg.AdminGroup)
		}
		cfg.AdminGroups = append(cfg.AdminGroups, s.deskCfg.Roles[desk.RoleAdmin]...)
	}
	if cfg.Logger == nil {
		cfg.Logger = s.logger
	}
	if cfg.Now == nil {
		cfg.Now = s.now
	}
	c, err := citizens.New(cfg)
	if err != nil {
		s.logger.Error("her data and account deletion are unavailable", "err", fmt.Errorf("web: set up the citizens service: %w", err))
		return nil
	}
	return c
}
