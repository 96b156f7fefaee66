package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/desk"
)

// adminView is what the console's pages see.
type adminView struct {
	Actor   desk.Actor
	IsAdmin bool
	Tab     string // "overview", "people", "audit", "letters": the current one

	Overview *desk.Overview
	InvAges  []ageCount

	Query  string
	People []authn.User
	Next   string // the next page's address; "" on the last

	Person *desk.Person
	// InvitationAge is how old her open invitation is, in words.
	InvitationAge string
	Issued        *desk.Issued // an invitation to read out at the desk
	// RoleChoices are the role changes an admin may ask for on her page.
	RoleChoices []roleChoice

	Filter     auditFilterView
	Events     []authn.AuditEvent
	NextEvents string
	Letters    *lettersForm // the letters page's form

	// ExportCSV and ExportJSONL are the export links with the page's filters.
	ExportCSV, ExportJSONL string
	// Chain says what the chain check found, when she asked for it;
	// ChainBroken when it found a break.
	Chain       string
	ChainBroken bool
}

type ageCount struct {
	Label string
	N     int
}

type auditFilterView struct{ Person, Actor, Action, From, To string }

func (s *Server) adminPage(w http.ResponseWriter, r *http.Request, status int, page string, av *adminView, notice, errText string) {
	av.IsAdmin = av.Actor.Role == desk.RoleAdmin
	v := &view{Page: page, Admin: av, Notice: notice, Error: errText}
	if err := s.render(w, r, status, v); err != nil {
		s.fail(w, r, http.StatusInternalServerError, msgInternal, err)
	}
}

// adminOverview shows the first page: factors per group, open
// invitations, refusals, the last sync, approvals, resets.
func (s *Server) adminOverview(w http.ResponseWriter, r *http.Request, d *desk.Service, a desk.Actor) {
	o, err := d.Overview(r.Context(), a)
	if err != nil {
		s.deskFail(w, r, err, nil)
		return
	}
	s.adminPage(w, r, http.StatusOK, "admin", overviewView(r, a, &o), "", "")
}

// overviewView is the overview page's view of o.
func overviewView(r *http.Request, a desk.Actor, o *desk.Overview) *adminView {
	av := &adminView{Actor: a, Tab: "overview", Overview: o}
	l := lang(r)
	keys := []string{"admin.age.day", "admin.age.week", "admin.age.month", "admin.age.older"}
	for i, n := range o.Invitations {
		if i < len(keys) {
			av.InvAges = append(av.InvAges, ageCount{Label: adminTexts[keys[i]].in(l), N: n})
		}
	}
	return av
}

// adminPeople searches people, 50 a page.
func (s *Server) adminPeople(w http.ResponseWriter, r *http.Request, d *desk.Service, a desk.Actor) {
	q := r.URL.Query()
	query := strings.TrimSpace(q.Get("q"))
	av := &adminView{Actor: a, Tab: "people", Query: query}
	if query != "" || q.Has("after") {
		p, err := d.Search(r.Context(), a, query, q.Get("after"))
		if err != nil {
			s.deskFail(w, r, err, nil)
			return
		}
		av.People = p.People
		if p.Next != "" {
			av.Next = "/admin/people?" + url.Values{"q": {query}, "after": {p.Next}}.Encode()
		}
	}
	s.adminPage(w, r, http.StatusOK, "admin_people", av, "", "")
}

// adminPerson shows a person's page.
func (s *Server) adminPerson(w http.ResponseWriter, r *http.Request, d *desk.Service, a desk.Actor) {
	s.showPerson(w, r, d, a, http.StatusOK, "", "", nil)
}

// showPerson draws the page of the person r names, with a notice or an
// error of an action and an invitation to read out.
func (s *Server) showPerson(w http.ResponseWriter, r *http.Request, d *desk.Service, a desk.Actor, status int, notice, errText string, issued *desk.Issued) {
	p, err := d.Person(r.Context(), a, r.PathValue("id"))
	if err != nil {
		s.deskFail(w, r, err, nil)
		return
	}
	nameDevices(&p)
	av := &adminView{Actor: a, Tab: "people", Person: &p, Issued: issued, RoleChoices: roleChoices(d, a, &p)}
	av.InvitationAge = invitationAge(p, s.now(), lang(r))
	s.adminPage(w, r, status, "admin_person", av, notice, errText)
}

// invitationAge says how long ago her open invitation was issued.
func invitationAge(p desk.Person, now time.Time, l string) string {
	if p.Invitation == nil {
		return ""
	}
	d := now.Sub(p.Invitation.CreatedAt)
	switch {
	case d < time.Hour:
		return fmt.Sprintf(adminTexts["admin.age.minutes"].in(l), int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf(adminTexts["admin.age.hours"].in(l), int(d.Hours()))
	}
	return fmt.Sprintf(adminTexts["admin.age.days"].in(l), int(d.Hours()/24))
}

// nameDevices names her sessions' devices as her account page does.
func nameDevices(p *desk.Person) {
	for i := range p.Sessions {
		p.Sessions[i].Device = deviceName(p.Sessions[i].Device)
	}
}

// adminAudit shows the audit log with filters, 100 a page, and for an
// admin the export links and, on her asking (verify=1), the chain check.
func (s *Server) adminAudit(w http.ResponseWriter, r *http.Request, d *desk.Service, a desk.Actor) {
	f, aq, ok := s.auditQuery(r)
	av := &adminView{Actor: a, Tab: "audit", Filter: f}
	filters := url.Values{"person": {f.Person}, "actor": {f.Actor}, "action": {f.Action}, "from": {f.From}, "to": {f.To}}.Encode()
	av.ExportCSV, av.ExportJSONL = "/admin/audit/export?format=csv&"+filters, "/admin/audit/export?format=jsonl&"+filters
	if !ok {
		s.adminPage(w, r, http.StatusBadRequest, "admin_audit", av, "", msgAdminBadDate.in(lang(r)))
		return
	}
	q := r.URL.Query()
	aq.Limit = 100
	if b := q.Get("before"); b != "" {
		aq.BeforeSeq, _ = strconv.ParseInt(b, 10, 64)
	}
	evs, err := d.AuditLog(r.Context(), a, aq)
	var de *desk.Error
	if errors.As(err, &de) && errors.Is(err, desk.ErrForbidden) && a.Role == desk.RoleHelpdesk && q.Get("verify") == "" {
		// The helpdesk's page without a person: the filters, and what to do.
		s.adminPage(w, r, http.StatusOK, "admin_audit", av, "", message{DE: de.De, EN: de.En}.in(lang(r)))
		return
	}
	if err != nil {
		s.deskFail(w, r, err, nil)
		return
	}
	av.Events = evs
	if len(evs) == aq.Limit {
		nq := url.Values{"person": {f.Person}, "actor": {f.Actor}, "action": {f.Action}, "from": {f.From}, "to": {f.To},
			"before": {strconv.FormatInt(evs[len(evs)-1].Seq, 10)}}
		av.NextEvents = "/admin/audit?" + nq.Encode()
	}
	if q.Get("verify") != "" {
		// On her asking only, and bounded: a big log is checked as far as
		// chainCheckBudget allows, and the page says how far.
		c, err := d.VerifyAudit(r.Context(), a, chainCheckBudget)
		if err != nil {
			s.deskFail(w, r, err, nil)
			return
		}
		av.Chain, av.ChainBroken = chainText(c, lang(r)), c.Break != nil
	}
	s.adminPage(w, r, http.StatusOK, "admin_audit", av, "", "")
}

// chainText says what a chain check found, in lang, and that it did not
// compare the chain against the signed checkpoints.
func chainText(c desk.ChainCheck, lang string) string {
	m := msgAdminChainIntact
	switch {
	case c.Break != nil:
		why, ok := map[string]message{authn.BreakMissing: msgAdminChainMissing, authn.BreakLink: msgAdminChainLink,
			authn.BreakChanged: msgAdminChainChanged, authn.BreakRedacted: msgAdminChainRedacted}[c.Break.Reason]
		if !ok {
			why = message{c.Break.Reason, c.Break.Reason}
		}
		m = message{fmt.Sprintf(msgAdminChainBreak.DE, c.Break.Seq, c.Events, why.DE), fmt.Sprintf(msgAdminChainBreak.EN, c.Break.Seq, c.Events, why.EN)}
		return m.in(lang) + " " + msgAdminChainNoCheckpoint.in(lang)
	case c.Partial:
		m = msgAdminChainPartial
	}
	return fmt.Sprintf(m.in(lang), c.Events) + " " + msgAdminChainNoCheckpoint.in(lang)
}

// chainCheckBudget bounds the chain check a console page runs.
const chainCheckBudget = 20 * time.Second

// auditQuery reads the audit page's filters; ok is false when a day is no
// date.
func (s *Server) auditQuery(r *http.Request) (auditFilterView, authn.AuditQuery, bool) {
	q := r.URL.Query()
	f := auditFilterView{Person: strings.TrimSpace(q.Get("person")), Actor: strings.TrimSpace(q.Get("actor")),
		Action: strings.TrimSpace(q.Get("action")), From: q.Get("from"), To: q.Get("to")}
	aq := authn.AuditQuery{Action: f.Action}
	if f.Person != "" {
		aq.Subject = "user:" + s.personID(r, f.Person)
	}
	if f.Actor != "" {
		aq.Actor = f.Actor
		if !strings.Contains(f.Actor, ":") {
			aq.Actor = "user:" + s.personID(r, f.Actor)
		}
	}
	ok := true
	for _, x := range []struct {
		in  string
		out *time.Time
		add int
	}{{f.From, &aq.From, 0}, {f.To, &aq.To, 1}} {
		if x.in == "" {
			continue
		}
		t, err := time.ParseInLocation("2006-01-02", x.in, time.Local)
		if err != nil {
			ok = false
			continue
		}
		*x.out = t.AddDate(0, 0, x.add)
	}
	return f, aq, ok
}

// adminAuditExport answers the audit page's events (its filters, every
// page of them) as a CSV or JSON Lines download, for an admin; the desk
// audits the export.
func (s *Server) adminAuditExport(w http.ResponseWriter, r *http.Request, d *desk.Service, a desk.Actor) {
	// A GET that writes an audit event and reads the whole log: only from
	// the console's own page, never from a link on another site (also not
	// one of the city's other hosts, which count as the same site).
	if fs := r.Header.Get("Sec-Fetch-Site"); fs != "" && fs != "same-origin" {
		s.adminRefusedCrossOrigin(r)
		s.failPage(w, r, http.StatusForbidden, msgCrossOrigin, fmt.Errorf("console: export asked from %s", fs), nil)
		return
	}
	_, aq, ok := s.auditQuery(r)
	if !ok {
		s.failPage(w, r, http.StatusBadRequest, msgAdminBadDate, errors.New("console: export: a day is no date"), nil)
		return
	}
	format := r.URL.Query().Get("format")
	types := map[string]string{desk.FormatCSV: "text/csv; charset=utf-8", desk.FormatJSONL: "application/jsonl; charset=utf-8"}
	if types[format] == "" {
		format = desk.FormatCSV
	}
	name := "keyhall-audit-" + s.now().UTC().Format("20060102-150405") + "." + format
	// The headers go out with the first byte: a refusal before it is
	// still answered as a page.
	out := &lazyDownload{w: w, header: func(h http.Header) {
		h.Set("Content-Type", types[format])
		h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
		h.Set("Cache-Control", "no-store")
	}}
	n, err := d.ExportAudit(r.Context(), a, out, format,
		authn.AuditQuery{Subject: aq.Subject, Actor: aq.Actor, Action: aq.Action, From: aq.From, To: aq.To})
	switch {
	case err != nil && !out.started:
		s.deskFail(w, r, err, nil)
	case err != nil:
		// Too late for a page: the download ends short, the desk audited
		// it as incomplete, the cause goes to the log.
		s.logger.Error("console: audit export broke off", "events", n, "err", err)
	case !out.started:
		out.Write(nil)
	}
}

// lazyDownload writes a download's headers at its first write.
type lazyDownload struct {
	w       http.ResponseWriter
	header  func(http.Header)
	started bool
}

func (l *lazyDownload) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		l.header(l.w.Header())
		l.w.WriteHeader(http.StatusOK)
	}
	return l.w.Write(p)
}

// personID is the id of the person with username name, or name itself when
// there is none (an id typed in).
func (s *Server) personID(r *http.Request, name string) string {
	if c, err := authn.CanonicalName(name); err == nil {
		if ref := s.store.Load(); ref != nil {
			if u, err := ref.GetUserByUsername(r.Context(), c); err == nil {
				return u.ID
			}
		}
	}
	return name
}

// adminAction is one action: it calls the desk and returns what to say.
type adminAction func(r *http.Request, d *desk.Service, a desk.Actor, id, reason string) (notice message, issued *desk.Issued, letter []byte, err error)

func (s *Server) actionHandler(act adminAction) adminHandler {
	return func(w http.ResponseWriter, r *http.Request, d *desk.Service, a desk.Actor) {
		id := r.PathValue("id")
		reason := strings.TrimSpace(r.PostFormValue("reason"))
		notice, issued, letter, err := act(r, d, a, id, reason)
		if err != nil {
			p, perr := d.Person(r.Context(), a, id)
			if perr != nil {
				s.deskFail(w, r, perr, nil)
				return
			}
			nameDevices(&p)
			av := &adminView{Actor: a, Tab: "people", Person: &p, RoleChoices: roleChoices(d, a, &p)}
			av.IsAdmin = a.Role == desk.RoleAdmin
			av.InvitationAge = invitationAge(p, s.now(), lang(r))
			s.deskFail(w, r, err, &view{Page: "admin_person", Admin: av})
			return
		}
		if letter != nil {
			s.sendLetter(w, r, letter)
			return
		}
		s.showPerson(w, r, d, a, http.StatusOK, notice.in(lang(r)), "", issued)
	}
}

// sendLetter answers with the letter's PDF as a download, never cached.
func (s *Server) sendLetter(w http.ResponseWriter, r *http.Request, pdf []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Disposition", `attachment; filename="keyhall-letter.pdf"`)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(pdf)
}

func deliveryOf(r *http.Request) desk.Delivery { return desk.Delivery(r.PostFormValue("delivery")) }

func (s *Server) adminInvite(r *http.Request, d *desk.Service, a desk.Actor, id, reason string) (message, *desk.Issued, []byte, error) {
	is, err := d.Invite(r.Context(), a, id, desk.InviteRequest{Reason: reason, Delivery: deliveryOf(r)})
	if err != nil {
		return message{}, nil, nil, err
	}
	return issuedNotice(is)
}

func issuedNotice(is desk.Issued) (message, *desk.Issued, []byte, error) {
	switch {
	case is.Letter != nil:
		return message{}, nil, is.Letter, nil
	case is.MailedTo != "" && is.MailErr == nil:
		return msgAdminMailed, nil, nil, nil
	case is.MailErr != nil:
		return message{}, nil, nil, fmt.Errorf("mail the invitation: %w", is.MailErr)
	}
	return msgAdminIssued, &is, nil, nil
}

func (s *Server) adminReset(r *http.Request, d *desk.Service, a desk.Actor, id, reason string) (message, *desk.Issued, []byte, error) {
	out, err := d.Reset(r.Context(), a, id, desk.ResetRequest{Reason: reason, Delivery: deliveryOf(r),
		Check: desk.IdentityCheck{Method: r.PostFormValue("check"), Text: strings.TrimSpace(r.PostFormValue("check_text"))}})
	return resetNotice(out, err)
}

func resetNotice(out desk.ResetOutcome, err error) (message, *desk.Issued, []byte, error) {
	if err != nil {
		return message{}, nil, nil, err
	}
	if out.Pending != nil {
		return msgAdminPending, nil, nil, nil
	}
	m, is, letter, err := issuedNotice(out.Issued)
	if err == nil && letter == nil {
		m = msgAdminReset
	}
	// What did not reach her or her tools is said, not hidden (a letter
	// download has no page to say it on: the letter itself tells her).
	for _, w := range []struct {
		failed bool
		msg    message
	}{{out.NoticeErr != nil, msgAdminNoNotice}, {out.ToolsErr != nil, msgAdminToolsNotTold}} {
		if w.failed {
			m = message{DE: m.DE + " " + w.msg.DE, EN: m.EN + " " + w.msg.EN}
		}
	}
	return m, is, letter, err
}

func (s *Server) adminApprove(w http.ResponseWriter, r *http.Request, d *desk.Service, a desk.Actor) {
	kind := approvalKind(r, d, a, r.PathValue("id"))
	m, is, letter, err := resetNotice(d.Approve(r.Context(), a, r.PathValue("id")))
	if kind == authn.ApprovalRole && err == nil {
		m, is = msgAdminRoleChanged, nil
	}
	switch {
	case err != nil:
		s.deskFail(w, r, err, nil)
	case letter != nil:
		s.sendLetter(w, r, letter)
	default:
		o, oerr := d.Overview(r.Context(), a)
		if oerr != nil {
			s.deskFail(w, r, oerr, nil)
			return
		}
		s.adminPage(w, r, http.StatusOK, "admin", &adminView{Actor: a, Tab: "overview", Overview: &o, Issued: is}, m.in(lang(r)), "")
	}
}

func (s *Server) adminRevoke(r *http.Request, d *desk.Service, a desk.Actor, id, reason string) (message, *desk.Issued, []byte, error) {
	_, err := d.RevokeFactor(r.Context(), a, id, r.PostFormValue("credential"), reason)
	return msgAdminRevoked, nil, nil, err
}

func (s *Server) adminEndSessions(r *http.Request, d *desk.Service, a desk.Actor, id, reason string) (message, *desk.Issued, []byte, error) {
	_, err := d.EndSessions(r.Context(), a, id, reason)
	return msgAdminEnded, nil, nil, err
}

func (s *Server) adminLiftThrottle(r *http.Request, d *desk.Service, a desk.Actor, id, reason string) (message, *desk.Issued, []byte, error) {
	return msgAdminLifted, nil, nil, d.LiftThrottle(r.Context(), a, id, reason)
}

func (s *Server) adminDisable(r *http.Request, d *desk.Service, a desk.Actor, id, reason string) (message, *desk.Issued, []byte, error) {
	return msgAdminDisabled, nil, nil, d.Disable(r.Context(), a, id, reason)
}

func (s *Server) adminEnable(r *http.Request, d *desk.Service, a desk.Actor, id, reason string) (message, *desk.Issued, []byte, error) {
	return msgAdminEnabled, nil, nil, d.Enable(r.Context(), a, id, reason)
}

func (s *Server) adminFreeze(r *http.Request, d *desk.Service, a desk.Actor, id, reason string) (message, *desk.Issued, []byte, error) {
	_, err := d.Freeze(r.Context(), a, id, reason)
	return msgAdminFrozen, nil, nil, err
}

func (s *Server) adminUnfreeze(r *http.Request, d *desk.Service, a desk.Actor, id, reason string) (message, *desk.Issued, []byte, error) {
	n, err := d.Unfreeze(r.Context(), a, id, reason, r.PostFormValue("restore") == "yes")
	m := msgAdminUnfrozen
	if n > 0 {
		m = message{DE: fmt.Sprintf(msgAdminRestored.DE, n), EN: fmt.Sprintf(msgAdminRestored.EN, n)}
	}
	return m, nil, nil, err
}
