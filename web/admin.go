package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/desk"
)

// The IT console at /admin: the desk's read model and actions, for people
// with a desk role (enroll/desk). Who may see it is decided here, once, for
// every route (adminActor); what she may do to whom, by the desk.
//
//	no session, no role  → 404, as any unknown address (no hint)
//	role, not a key (phrh) → her key sign-in again, back here after it
//	POST, sign-in older than adminFresh → her key sign-in again
//	POST from another origin → 403 (crossOrigin, before any handler)
//
// Refusals of a signed-in person are audited ("admin.refused"); an
// anonymous request is not (it would let anyone fill the audit log), only
// logged.

// adminFresh is how recent a sign-in must be for an action on the console.
const adminFresh = 10 * time.Minute

// adminRoutes registers the console's routes.
func (s *Server) adminRoutes(mux *http.ServeMux) {
	s.handle(mux, "GET /admin", s.adminGet(s.adminOverview))
	s.handle(mux, "GET /admin/people", s.adminGet(s.adminPeople))
	s.handle(mux, "GET /admin/people/{id}", s.adminGet(s.adminPerson))
	s.handle(mux, "GET /admin/audit", s.adminGet(s.adminAudit))
	s.handle(mux, "GET /admin/audit/export", s.adminGet(s.adminAuditExport))
	s.handle(mux, "GET /admin/letters", s.adminGet(s.adminLetters))
	s.handle(mux, "POST /admin/letters", s.adminPost(s.adminLettersPost))
	s.handle(mux, "POST /admin/notice-letters", s.adminPost(s.adminNoticeLetters))
	// A person's page's actions, each with a reason, each the desk's.
	s.handle(mux, "POST /admin/people/{id}/invite", s.adminPost(s.actionHandler(s.adminInvite)))
	s.handle(mux, "POST /admin/people/{id}/reset", s.adminPost(s.actionHandler(s.adminReset)))
	s.handle(mux, "POST /admin/people/{id}/revoke", s.adminPost(s.actionHandler(s.adminRevoke)))
	s.handle(mux, "POST /admin/people/{id}/end-sessions", s.adminPost(s.actionHandler(s.adminEndSessions)))
	s.handle(mux, "POST /admin/people/{id}/lift-throttle", s.adminPost(s.actionHandler(s.adminLiftThrottle)))
	s.handle(mux, "POST /admin/people/{id}/disable", s.adminPost(s.actionHandler(s.adminDisable)))
	s.handle(mux, "POST /admin/people/{id}/enable", s.adminPost(s.actionHandler(s.adminEnable)))
	s.handle(mux, "POST /admin/people/{id}/freeze", s.adminPost(s.actionHandler(s.adminFreeze)))
	s.handle(mux, "POST /admin/people/{id}/unfreeze", s.adminPost(s.actionHandler(s.adminUnfreeze)))
	s.handle(mux, "POST /admin/people/{id}/role", s.adminPost(s.actionHandler(s.adminRole)))
	s.handle(mux, "POST /admin/approvals/{id}/approve", s.adminPost(s.adminApprove))
}

// adminHandler is a console handler with the desk and the actor resolved.
type adminHandler func(w http.ResponseWriter, r *http.Request, d *desk.Service, a desk.Actor)

func (s *Server) adminGet(h adminHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if d, a, ok := s.adminActor(w, r); ok {
			h(w, r, d, a)
		}
	}
}

func (s *Server) adminPost(h adminHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.parseForm(w, r) {
			return
		}
		if d, a, ok := s.adminActor(w, r); ok {
			h(w, r, d, a)
		}
	}
}

// adminActor decides whether the request may reach the console, and
// answers when not (see the top of this file).
func (s *Server) adminActor(w http.ResponseWriter, r *http.Request) (*desk.Service, desk.Actor, bool) {
	ref := s.store.Load()
	if ref == nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, errors.New("console: database not open yet"))
		return nil, desk.Actor{}, false
	}
	if ref.desk == nil {
		s.notFound(w, r)
		return nil, desk.Actor{}, false
	}
	d := ref.desk
	sess, u, err := s.currentSession(r)
	if errors.Is(err, errNoSession) {
		s.notFound(w, r)
		return nil, desk.Actor{}, false
	}
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return nil, desk.Actor{}, false
	}
	role, err := d.RoleOf(r.Context(), u.ID)
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return nil, desk.Actor{}, false
	}
	a := desk.Actor{Audit: "user:" + u.ID, UserID: u.ID, Username: u.Username, Directory: u.Directory,
		ExternalID: u.ExternalID, Role: role, Via: "console", ClientAddr: s.clientAddr(r)}
	switch {
	case role == "" || sess.RecoveryOnly:
		s.adminRefused(w, r, d, a, "no role", false)
	case s.keyBelowConsole(sess): // admin_keylevel.go
		s.adminKeyNotAttested(w, r, d, a)
	case !authn.Level(sess.ACR).Meets(authn.LevelPhrh):
		s.adminRefused(w, r, d, a, "not signed in with a hardware key", true)
	case r.Method != http.MethodGet && s.now().Sub(sess.AuthTime) > adminFresh:
		s.adminRefused(w, r, d, a, "sign-in older than 10 minutes", true)
	default:
		return d, a, true
	}
	return nil, desk.Actor{}, false
}

// adminRefused audits a refusal and answers it: 404 without a role, else
// the key sign-in that leads back to the page.
func (s *Server) adminRefused(w http.ResponseWriter, r *http.Request, d *desk.Service, a desk.Actor, why string, signIn bool) {
	if err := d.Refused(r.Context(), a.Audit, a.ClientAddr, r.Method+" "+r.URL.Path, why); err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	if !signIn {
		s.notFound(w, r)
		return
	}
	back := r.URL.RequestURI()
	if r.Method != http.MethodGet {
		back = "/admin"
		if id := r.PathValue("id"); id != "" && strings.HasPrefix(r.URL.Path, "/admin/people/") {
			back = "/admin/people/" + url.PathEscape(id)
		}
	}
	// A key touch again, not a new login: her sign-in starts at the key
	// page, her username known. Starting one stores nothing (the pending
	// sign-in travels sealed in its cookie).
	if ref := s.store.Load(); ref != nil && ref.signIn != nil {
		p, err := ref.signIn.Start(r.Context(), a.Username, back, s.clientInfo(r))
		if err == nil && p.Next != authn.StepKey {
			p, err = ref.signIn.SwitchTo(r.Context(), p.PendingID, authn.StepKey)
		}
		if err == nil {
			s.advance(w, r, p)
			return
		}
		s.logger.Warn("console: start the key sign-in again", "err", err)
	}
	q := url.Values{"return_to": {back}, "need": {"key"}, "level": {string(authn.LevelPhrh)}}
	http.Redirect(w, r, "/login?"+q.Encode(), http.StatusSeeOther)
}

// adminRefusedCrossOrigin audits a console POST (or export) the cross-origin
// protection refused, when it carries a session with a role.
func (s *Server) adminRefusedCrossOrigin(r *http.Request) {
	ref := s.store.Load()
	if ref == nil || ref.desk == nil || !strings.HasPrefix(r.URL.Path, "/admin") {
		return
	}
	_, u, err := s.currentSession(r)
	if err != nil {
		return
	}
	if err := ref.desk.Refused(r.Context(), "user:"+u.ID, s.clientAddr(r), r.Method+" "+r.URL.Path, "cross-origin"); err != nil {
		s.logger.Warn("console: audit a cross-origin refusal", "err", err)
	}
}

// deskFail answers an error of the desk: its words for a refusal, else
// the cause to the log.
func (s *Server) deskFail(w http.ResponseWriter, r *http.Request, err error, v *view) {
	var de *desk.Error
	if errors.As(err, &de) {
		status := http.StatusBadRequest
		switch {
		case errors.Is(err, desk.ErrForbidden):
			status = http.StatusForbidden
		case errors.Is(err, authn.ErrNotFound):
			status = http.StatusNotFound
		}
		s.failPage(w, r, status, message{DE: de.De, EN: de.En}, err, v)
		return
	}
	s.failPage(w, r, http.StatusInternalServerError, msgInternal, fmt.Errorf("console: %w", err), v)
}

// newDesk builds the IT desk on st from Config.Desk; nil (and the console
// off) when enrollment is unavailable or the desk cannot be built.
func (s *Server) newDesk(st authn.Store, en *enroll.Service) *desk.Service {
	if en == nil {
		return nil
	}
	cfg := s.deskCfg
	cfg.Store, cfg.Enroll = st, en
	if cfg.Tools == nil {
		cfg.Tools = s
	}
	// Notices name links on this server (a notice without its address
	// would panic); mail goes as enrollment's does.
	if cfg.Notices.PublicURL == nil {
		cfg.Notices = s.enrollCfg.Notices
		if cfg.Notices.PublicURL == nil {
			cfg.Notices.PublicURL = s.publicURL
		}
	}
	if cfg.Mailer == nil {
		cfg.Mailer = s.enrollCfg.Mailer
	}
	if cfg.Logger == nil {
		cfg.Logger = s.logger
	}
	if cfg.Now == nil {
		cfg.Now = s.now
	}
	if cfg.Policy.Groups == nil {
		cfg.Policy = s.signIn.Policy
	}
	d, err := desk.New(cfg)
	if err != nil {
		s.logger.Error("the IT console is unavailable", "err", fmt.Errorf("web: set up the desk: %w", err))
		return nil
	}
	return d
}
