package web

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/citizens"
)

// Recovery by e-mail (issue #15; the rules are enroll/citizens/recover.go):
// /recover asks for the address and answers the same for every address;
// the mailed link /recover/{token} works in the browser that asked (the
// binding cookie set here) and opens an ordinary enrollment; the notice's
// /recover/cancel/{token} and the button on /account cancel it.

// RecoverCookie binds a recovery link to the browser that asked for it:
// the store keeps the hash of its value with the link.
const RecoverCookie = "__Host-keyhall-recover"

// recoverView is what the recovery pages show.
type recoverView struct {
	Mode  string // "ask", "sent", "link", "cancel", "cancelled", "pending", "pending-cancelled"
	Email string // as typed, on the form again after an error
	Token string // the link's token, for its form
	Name  string // whose access the link recovers
	// DueAt and Next are for the page after a sign-in ("pending"): when
	// her old factors go, and where the sign-in was going (returnTo).
	DueAt time.Time
	Next  string
}

// recoveryFor returns the citizens' service, or answers 404 (recovery by
// e-mail is off) or 503 and returns nil.
func (s *Server) recoveryFor(w http.ResponseWriter, r *http.Request) *citizens.Service {
	if !s.recoverOn {
		s.fail(w, r, http.StatusNotFound, msgNotFound, nil)
		return nil
	}
	ref := s.store.Load()
	switch {
	case ref == nil:
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, errors.New("recovery not available: database not open yet"))
		return nil
	case ref.citizens == nil:
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, errors.New("recovery not available: it could not be set up (see the log of SetStore)"))
		return nil
	}
	return ref.citizens
}

// recoverBinding returns the hash of the browser's binding cookie; ok is
// false when it has none (or a malformed one).
func recoverBinding(r *http.Request) (authn.TokenHash, bool) {
	c, err := r.Cookie(RecoverCookie)
	if err != nil {
		return authn.TokenHash{}, false
	}
	h, err := citizens.ParseRecoveryToken(c.Value)
	return h, err == nil
}

// recoverPage asks for the address.
func (s *Server) recoverPage(w http.ResponseWriter, r *http.Request) {
	if s.recoveryFor(w, r) == nil {
		return
	}
	s.page(w, r, &view{Page: "recover", Recover: &recoverView{Mode: "ask"}})
}

// recoverAsk answers a request for a link: the same page, in the same
// time, for every address; the address is looked up only after the page
// is sent (citizens.Service.QueueRecovery).
func (s *Server) recoverAsk(w http.ResponseWriter, r *http.Request) {
	svc := s.recoveryFor(w, r)
	if svc == nil || !s.parseForm(w, r) {
		return
	}
	// The browser keeps its binding (an earlier link stays good in it),
	// for as long as the newest link works.
	tok := citizens.NewRecoveryToken()
	if c, err := r.Cookie(RecoverCookie); err == nil {
		if _, err := citizens.ParseRecoveryToken(c.Value); err == nil {
			tok = c.Value
		}
	}
	binding := authn.HashToken(tok)
	http.SetCookie(w, hostCookie(RecoverCookie, tok, int(citizens.LinkValidity/time.Second)))
	email := r.PostFormValue("email")
	req, err := svc.AskRecovery(r.Context(), email, binding, s.clientInfo(r))
	if err != nil {
		s.recoverFailed(w, r, err, &recoverView{Mode: "ask", Email: email})
		return
	}
	// The answer is out, whole (with its length, so the browser need not
	// wait for the handler to end), before anybody is looked up.
	page := &bufferedPage{ResponseWriter: w}
	if err := s.render(page, r, http.StatusOK, &view{Page: "recover", Recover: &recoverView{Mode: "sent"}}); err != nil {
		s.fail(w, r, http.StatusInternalServerError, msgInternal, err)
		return
	}
	lookup := svc.QueueRecovery(req)
	w.Header().Set("Content-Length", strconv.Itoa(page.body.Len()))
	w.WriteHeader(page.status)
	w.Write(page.body.Bytes())
	http.NewResponseController(w).Flush()
	lookup()
}

// bufferedPage keeps a page's status and body (its headers go to the
// ResponseWriter's) until they are written with their length.
type bufferedPage struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (b *bufferedPage) WriteHeader(status int)      { b.status = status }
func (b *bufferedPage) Write(p []byte) (int, error) { return b.body.Write(p) }

// recoverLinkPage shows whose access the link recovers and the button
// that starts it. Opening the link changes nothing (mail scanners open
// links too).
func (s *Server) recoverLinkPage(w http.ResponseWriter, r *http.Request) {
	svc := s.recoveryFor(w, r)
	if svc == nil {
		return
	}
	binding, _ := recoverBinding(r)
	token := r.PathValue("token")
	u, err := svc.RecoveryTarget(r.Context(), token, binding)
	if err != nil {
		s.recoverFailed(w, r, err, &recoverView{Mode: "link"})
		return
	}
	name := u.DisplayName
	if name == "" {
		name = u.Username
	}
	s.page(w, r, &view{Page: "recover", Recover: &recoverView{Mode: "link", Token: token, Name: name}})
}

// recoverStart uses the link: her sessions end, and the enrollment of a
// new factor opens on the ordinary /enroll pages.
func (s *Server) recoverStart(w http.ResponseWriter, r *http.Request) {
	svc := s.recoveryFor(w, r)
	if svc == nil || !s.parseForm(w, r) {
		return
	}
	binding, _ := recoverBinding(r)
	p, err := svc.StartRecovery(r.Context(), r.PathValue("token"), binding, s.clientInfo(r))
	if err != nil {
		s.recoverFailed(w, r, err, &recoverView{Mode: "link"})
		return
	}
	http.SetCookie(w, hostCookie(RecoverCookie, "", -1))
	setEnrollCookie(w, p.ID)
	s.page(w, r, &view{Page: "enroll_choose", Notice: recoverTexts["recover.started"].in(lang(r)), Enroll: chooseView(p)})
}

// recoverCancelPage shows the button that cancels the recovery of the
// notice's link; opening it changes nothing.
func (s *Server) recoverCancelPage(w http.ResponseWriter, r *http.Request) {
	if s.recoveryFor(w, r) == nil {
		return
	}
	token := r.PathValue("token")
	if _, err := citizens.ParseRecoveryToken(token); err != nil {
		s.recoverFailed(w, r, &citizens.RecoveryError{Reason: citizens.RecoverLinkWrong, DE: msgRecoverCancelWrong.DE, EN: msgRecoverCancelWrong.EN, Err: err},
			&recoverView{Mode: "cancel"})
		return
	}
	s.page(w, r, &view{Page: "recover", Recover: &recoverView{Mode: "cancel", Token: token}})
}

// recoverCancel cancels the recovery of the notice's link.
func (s *Server) recoverCancel(w http.ResponseWriter, r *http.Request) {
	svc := s.recoveryFor(w, r)
	if svc == nil || !s.parseForm(w, r) {
		return
	}
	rep, err := svc.CancelRecovery(r.Context(), r.PathValue("token"), s.clientInfo(r))
	if err != nil {
		if e, ok := errors.AsType[*citizens.RecoveryError](err); ok && e.Reason == citizens.RecoverCancelled {
			// Cancelled already (by her, or by whoever signed in during
			// it, which ended his session too): what she wanted is done.
			s.logger.Info("recovery cancel link: cancelled already", "err", err)
			s.page(w, r, &view{Page: "recover", Notice: message{DE: e.DE, EN: e.EN}.in(lang(r)), Recover: &recoverView{Mode: "cancelled"}})
			return
		} else if ok && e.Reason == citizens.RecoverLinkWrong {
			e.DE, e.EN = msgRecoverCancelWrong.DE, msgRecoverCancelWrong.EN
		} else if ok && e.Reason == citizens.RecoverLinkUsed {
			e.DE, e.EN = msgRecoverCancelUsed.DE, msgRecoverCancelUsed.EN
		}
		s.recoverFailed(w, r, err, &recoverView{Mode: "cancel"})
		return
	}
	v := &view{Page: "recover", Recover: &recoverView{Mode: "cancelled"}}
	if rep.Superseded.ID != "" {
		v.Notice = msgRecoverCancelledNewer.in(lang(r))
	}
	s.page(w, r, v)
}

// accountRecoveryCancel cancels the signed-in person's pending recovery
// from /account; the session that does it ends too (cancelOwnRecovery).
func (s *Server) accountRecoveryCancel(w http.ResponseWriter, r *http.Request) {
	_, _, u, ok := s.accountSession(w, r)
	if !ok {
		return
	}
	svc := s.recoveryFor(w, r)
	if svc == nil || !s.parseForm(w, r) {
		return
	}
	s.cancelOwnRecovery(w, r, svc, u.ID, "/account")
}

// cancelOwnRecovery cancels the signed-in person's pending recovery and
// answers with the page that asks her to sign in again: the cancel ends
// every session signed in since the recovery began, the caller's too
// (citizens.Service.CancelOwnRecovery), so that a mailbox thief signed in
// with the recovery's new factor keeps nothing; she signs in again with
// her old key or app, and then goes on to next.
func (s *Server) cancelOwnRecovery(w http.ResponseWriter, r *http.Request, svc *citizens.Service, userID, next string) {
	_, err := svc.CancelOwnRecovery(r.Context(), userID, s.clientInfo(r))
	switch {
	case err == nil:
	case errors.Is(err, authn.ErrNotFound) || citizens.IsRecoveryReason(err, citizens.RecoverLinkUsed) ||
		citizens.IsRecoveryReason(err, citizens.RecoverCancelled):
		// Nothing pending to cancel: finished (her old factors are gone
		// then, so she must not be sent to sign in with them) or cancelled
		// already. Her session stays, and the page says what happened.
		msg := msgRecoverNoneToCancel
		if citizens.IsRecoveryReason(err, citizens.RecoverCancelled) {
			msg = msgRecoverAlreadyCancelled
		}
		s.failPage(w, r, http.StatusConflict, msg, err, &view{Page: "error", Next: "/account"})
		return
	default:
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	http.SetCookie(w, hostCookie(SessionCookie, "", -1))
	w.Header().Set("Cache-Control", "no-store")
	s.page(w, r, &view{Page: "recover", Notice: msgRecoverCancelled.in(lang(r)),
		Recover: &recoverView{Mode: "pending-cancelled", Next: "/login?return_to=" + url.QueryEscape(next)}})
}

// pendingRecoveryOf returns the person's pending recovery for /account,
// or nil when she has none (or recovery by e-mail is off).
func (s *Server) pendingRecoveryOf(r *http.Request, userID string) (*authn.Recovery, error) {
	ref := s.store.Load()
	if !s.recoverOn || ref == nil || ref.citizens == nil {
		return nil, nil
	}
	rec, ok, err := ref.citizens.PendingRecovery(r.Context(), userID)
	if err != nil {
		return nil, fmt.Errorf("read pending recovery: %w", err)
	}
	if !ok {
		return nil, nil
	}
	return &rec, nil
}

// recoveryHolds answers 409 and reports true when a pending recovery of
// the person holds what she is about to change (citizens.Service.CheckChange:
// an old factor with credentialID, her password with "").
func (s *Server) recoveryHolds(w http.ResponseWriter, r *http.Request, userID, credentialID, back string) bool {
	ref := s.store.Load()
	if !s.recoverOn || ref == nil || ref.citizens == nil {
		return false
	}
	err := ref.citizens.CheckChange(r.Context(), userID, credentialID)
	if err == nil {
		return false
	}
	if e, ok := errors.AsType[*citizens.RecoveryError](err); ok {
		s.failPage(w, r, http.StatusConflict, message{DE: e.DE, EN: e.EN}, err, &view{Page: "error", Next: back})
		return true
	}
	s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
	return true
}

// recoverFailed answers a refusal with its page and a status that fits;
// any other error means the storage is unavailable.
func (s *Server) recoverFailed(w http.ResponseWriter, r *http.Request, err error, rv *recoverView) {
	e, ok := errors.AsType[*citizens.RecoveryError](err)
	if !ok {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	status := map[citizens.RecoveryReason]int{
		citizens.RecoverBadAddress:   http.StatusBadRequest,
		citizens.RecoverThrottled:    http.StatusTooManyRequests,
		citizens.RecoverLinkWrong:    http.StatusNotFound,
		citizens.RecoverLinkUsed:     http.StatusGone,
		citizens.RecoverLinkExpired:  http.StatusGone,
		citizens.RecoverOtherBrowser: http.StatusForbidden,
		citizens.RecoverNotAllowed:   http.StatusForbidden,
		citizens.RecoverPending:      http.StatusConflict,
	}[e.Reason]
	if status == 0 {
		status = http.StatusBadRequest
	}
	s.failPage(w, r, status, message{DE: e.DE, EN: e.EN}, err, &view{Page: "recover", Recover: rv})
}

// recoverPendingPath is the page a sign-in leads to first while a
// recovery by e-mail of the person is pending (recoveryStop): she learns
// of it at every sign-in, also one for a tool, and may cancel it before
// she goes on.
const recoverPendingPath = "/recover/pending"

// recoveryStop returns where a completed sign-in of userID goes instead
// of next: the page about her pending recovery, which leads on to next;
// next itself when she has none.
func (s *Server) recoveryStop(r *http.Request, userID, next string) (string, error) {
	rec, err := s.pendingRecoveryOf(r, userID)
	if err != nil || rec == nil {
		return next, err
	}
	return recoverPendingPath + "?return_to=" + url.QueryEscape(next), nil
}

// recoverPendingPage tells the signed-in person that her account is
// being recovered, with the cancel button and the way on to where her
// sign-in was going (checked again as at sign-in: returnTo).
func (s *Server) recoverPendingPage(w http.ResponseWriter, r *http.Request) {
	next := s.returnTo(r.URL.Query().Get("return_to"))
	_, u, ok := s.signedIn(w, r, next, false)
	if !ok {
		return
	}
	rec, err := s.pendingRecoveryOf(r, u.ID)
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	if rec == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.page(w, r, &view{Page: "recover", Recover: &recoverView{Mode: "pending", DueAt: rec.DueAt, Next: next}})
}

// recoverPendingCancel cancels the signed-in person's pending recovery
// from the page after her sign-in, with a fresh sign-in (an older one
// signs in again and comes back); the session that does it ends too
// (cancelOwnRecovery).
func (s *Server) recoverPendingCancel(w http.ResponseWriter, r *http.Request) {
	svc := s.recoveryFor(w, r)
	if svc == nil || !s.parseForm(w, r) {
		return
	}
	next := s.returnTo(r.PostFormValue("return_to"))
	_, u, ok := s.signedIn(w, r, recoverPendingPath+"?return_to="+url.QueryEscape(next), true)
	if !ok {
		return
	}
	s.cancelOwnRecovery(w, r, svc, u.ID, next)
}
