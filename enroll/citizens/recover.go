package citizens

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// Recovery by e-mail (issue #15), for a person who lost every factor and
// her recovery codes, where her groups allow it (Config.EmailRecovery):
//
//	/recover: address ──AskRecovery (checks, throttle)──▶ the same answer for every address
//	          └─QueueRecovery, after the answer: her verified address, her groups allow it?
//	                └─ yes: link (LinkValidity, once, bound to the asking browser) by mail
//	link ──StartRecovery──▶ her sessions and OIDC tokens end, an invitation is made and
//	          redeemed at once (the ordinary /enroll pages), notice with a cancel link
//	cancel (notice, or /account) ──▶ the recovery's new factors go, the old stay
//	RecoveryDelay later, FinishRecoveries ──▶ her old keys, apps and codes go
//
// Her old factors keep working until then: a thief of her mailbox gets a
// new factor, but she, with her old key or app, sees the recovery on
// /account and cancels it; were her old factors stopped at once, the only
// cancel would be the notice's link, in the very mailbox the thief holds.

// Throttles of /recover: per address and client network, per client
// network, and per address from anywhere, counted for every request (the
// address need not exist), so that nobody floods a person's mailbox or the
// mail server, nor keeps her from asking (see throttle.go).
const (
	recoverWindow       = time.Hour
	recoverAddressLimit = 3 // per address and client network
	recoverNetworkLimit = 30
	// recoverLookupDelay: a lookup starts this long after its request
	// was answered, so that its work (a read, a write, a mail) does not
	// compete with the answer on its way out: the time taken tells nothing.
	recoverLookupDelay = 20 * time.Millisecond
	// recoverQueueMax bounds the lookups waiting or running; a request
	// past it is dropped and logged (she may ask again).
	recoverQueueMax = 256
)

var recoverLimits = limits{pair: recoverAddressLimit, network: recoverNetworkLimit, window: recoverWindow}

// RecoveryReason tells why a recovery step was refused.
type RecoveryReason string

// Why a recovery step was refused.
const (
	RecoverBadAddress   RecoveryReason = "address"   // not an e-mail address
	RecoverThrottled    RecoveryReason = "throttled" // too many requests from the network (for the address, or in all)
	RecoverLinkWrong    RecoveryReason = "wrong"     // no such link
	RecoverLinkUsed     RecoveryReason = "used"      // used, or its recovery ended
	RecoverLinkExpired  RecoveryReason = "expired"
	RecoverOtherBrowser RecoveryReason = "browser" // opened in a browser other than the one that asked
	RecoverNotAllowed   RecoveryReason = "refused" // her account may not (any more) recover by e-mail
	RecoverPending      RecoveryReason = "pending" // a recovery holds her old factors and password until it ends
	// RecoverCancelled: the cancel link's recovery was cancelled already
	// (by her from a signed-in page, or by this link): nothing left to do.
	RecoverCancelled RecoveryReason = "cancelled"
)

// RecoveryError is a refusal a person can act on, German and English; Err
// is the cause, for the log.
type RecoveryError struct {
	Reason RecoveryReason
	DE, EN string
	Err    error
}

func (e *RecoveryError) Error() string {
	return fmt.Sprintf("recovery refused (%s): %v", e.Reason, e.Err)
}

func (e *RecoveryError) Unwrap() error { return e.Err }

var recoverMsgs = map[RecoveryReason][2]string{
	RecoverBadAddress: {"Bitte geben Sie Ihre E-Mail-Adresse vollständig ein, zum Beispiel anna@beispiel.de.",
		"Please enter your full e-mail address, for example anna@example.org."},
	RecoverThrottled: {"Aus Ihrem Netz wurde gerade zu oft ein Link angefordert (für diese Adresse oder insgesamt). Bitte versuchen Sie es in einer Stunde noch einmal.",
		"A link was asked for too often from your network (for this address or in all). Please try again in an hour."},
	RecoverLinkWrong: {"Dieser Link ist ungültig. Bitte öffnen Sie ihn genau so, wie er in der E-Mail steht, oder fordern Sie einen neuen an.",
		"This link is not valid. Please open it exactly as it is in the mail, or ask for a new one."},
	RecoverLinkUsed: {"Dieser Link wurde schon verwendet. Bitte fordern Sie unter /recover einen neuen an.",
		"This link was used already. Please ask for a new one at /recover."},
	RecoverLinkExpired: {"Dieser Link ist abgelaufen (er gilt 30 Minuten). Bitte fordern Sie unter /recover einen neuen an.",
		"This link has expired (it works for 30 minutes). Please ask for a new one at /recover."},
	RecoverOtherBrowser: {"Bitte öffnen Sie den Link in dem Browser, in dem Sie ihn angefordert haben – oder fordern Sie in diesem Browser einen neuen an.",
		"Please open the link in the browser in which you asked for it – or ask for a new one in this browser."},
	RecoverPending: {"Ihr Zugang wird gerade per E-Mail wiederhergestellt. Bis die Wiederherstellung abgeschlossen oder abgebrochen ist, können Ihre bisherigen Anmeldemittel und Ihr Passwort nicht entfernt oder geändert werden.",
		"Your access is being recovered by e-mail. Until the recovery is finished or cancelled, your previous sign-in factors and your password cannot be removed or changed."},
	RecoverCancelled: {"Diese Wiederherstellung ist bereits abgebrochen. Ihre bisherigen Anmeldemittel gelten weiter, die bei der Wiederherstellung eingerichteten sind entfernt, und alle seit ihrem Beginn angemeldeten Sitzungen sind beendet. Melden Sie sich mit Ihrem bisherigen Schlüssel oder Ihrer App an.",
		"This recovery is cancelled already. Your previous factors keep working, the ones set up in the recovery are removed, and every session signed in since it began has ended. Sign in with your previous key or app."},
	RecoverNotAllowed: {"Für Ihr Konto ist die Wiederherstellung per E-Mail nicht möglich. Bitte wenden Sie sich an den IT-Service.",
		"Recovery by e-mail is not available for your account. Please contact the IT service."},
}

func recoverRefusal(r RecoveryReason, cause error) *RecoveryError {
	m := recoverMsgs[r]
	return &RecoveryError{Reason: r, DE: m[0], EN: m[1], Err: cause}
}

// IsRecoveryReason reports whether err is a RecoveryError for r.
func IsRecoveryReason(err error, r RecoveryReason) bool {
	e, ok := errors.AsType[*RecoveryError](err)
	return ok && e.Reason == r
}

// recoveryTokenLen is the length of a recovery token: 32 bytes in base64url.
const recoveryTokenLen = 43

// ErrRecoveryToken: a string that is not a recovery token.
var ErrRecoveryToken = errors.New("not a recovery token")

// NewRecoveryToken returns a new token for a recovery link, a cancel link
// or a browser binding: 256 random bits, base64url without padding.
func NewRecoveryToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand, Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseRecoveryToken checks that s is a token as NewRecoveryToken makes
// them (43 base64url characters, canonical) and returns the hash under
// which it is stored.
func ParseRecoveryToken(s string) (authn.TokenHash, error) {
	if len(s) != recoveryTokenLen {
		return authn.TokenHash{}, ErrRecoveryToken
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != 32 {
		return authn.TokenHash{}, ErrRecoveryToken
	}
	return authn.HashToken(s), nil
}

// RecoveryRequest is a request at /recover that passed AskRecovery: the
// address, canonical, the hash of the asking browser's binding cookie, and
// the client.
type RecoveryRequest struct {
	Email   string
	Binding authn.TokenHash
	Client  authn.ClientInfo
	// overCap: more requests for the address this hour than
	// addressMailCap; mailed only from her own network.
	overCap bool
}

// recoveryQueue runs the lookups of requests answered already.
type recoveryQueue struct {
	wg      sync.WaitGroup // the lookups under way
	running atomic.Int64   // how many
}

// AskRecovery checks a request at /recover: a plain address, and not too
// many requests for it from the client's network, nor from that network
// (see throttle.go). It looks nobody up,
// so it takes the same time for every address; QueueRecovery does the
// rest after the answer. binding is the hash of the asking browser's
// binding cookie.
func (s *Service) AskRecovery(ctx context.Context, email string, binding authn.TokenHash, client authn.ClientInfo) (RecoveryRequest, error) {
	addr, err := CanonicalEmail(email) // as registration makes usernames
	if err != nil {
		return RecoveryRequest{}, recoverRefusal(RecoverBadAddress, err)
	}
	n, err := s.countAddressRequest(ctx, "recover", "recover:addr", addr, client.Addr, recoverLimits)
	if err != nil {
		return RecoveryRequest{}, fmt.Errorf("count recovery request: %w", err)
	}
	if n.refused(recoverLimits) {
		return RecoveryRequest{}, recoverRefusal(RecoverThrottled, fmt.Errorf("%d requests for the address from %s, %d from it in all",
			n.pair, clientNetwork(client.Addr), n.network))
	}
	return RecoveryRequest{Email: addr, Binding: binding, Client: client, overCap: n.address > addressMailCap}, nil
}

// QueueRecovery queues the lookup of the request's address: start, called
// once the answer is sent, runs it in the background, which mails a link
// to each person the address belongs to whose verified address it is and
// whose groups allow recovery by e-mail; nobody else gets any mail (see
// lookupRecovery). WaitRecoveries waits for it from the moment it is
// queued.
func (s *Service) QueueRecovery(req RecoveryRequest) (start func()) {
	if s.rec.running.Add(1) > recoverQueueMax {
		s.rec.running.Add(-1)
		s.log.Warn("recovery request dropped: too many under way", "max", recoverQueueMax)
		return func() {}
	}
	s.rec.wg.Add(1)
	return func() {
		go func() {
			defer s.rec.wg.Done()
			defer s.rec.running.Add(-1)
			time.Sleep(recoverLookupDelay)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := s.lookupRecovery(ctx, req); err != nil {
				s.log.Error("recovery request failed", "err", err)
			}
		}()
	}
}

// WaitRecoveries waits until every queued lookup has ended.
func (s *Service) WaitRecoveries() { s.rec.wg.Wait() }

// lookupRecovery mails a recovery link to each person whose verified
// address is req.Email and who may recover by e-mail (mayRecover). Where
// it is not allowed nothing is mailed: a mail an attacker can trigger at
// will ("someone asked to recover your account") would teach the council
// to expect such mails; the page at /recover says whom to ask instead.
func (s *Service) lookupRecovery(ctx context.Context, req RecoveryRequest) error {
	people, err := s.usersByEmail(ctx, req.Email)
	if err != nil {
		return fmt.Errorf("look up recovery address: %w", err)
	}
	for _, u := range people {
		if err := s.mayRecover(ctx, u); err != nil {
			s.log.Info("no recovery link mailed", "user", u.ID, "why", err)
			continue
		}
		if req.overCap {
			own, err := s.ownNetwork(ctx, u.ID, req.Client.Addr)
			if err != nil {
				return fmt.Errorf("read her sign-in networks: %w", err)
			}
			if !own {
				s.log.Warn("no recovery link mailed: too many requests for the address this hour, and this one is not from a network she signed in from",
					"user", u.ID, "network", clientNetwork(req.Client.Addr), "cap", addressMailCap)
				continue
			}
		}
		if err := s.mailRecoveryLink(ctx, u, req); err != nil {
			return err
		}
	}
	return nil
}

// mayRecover reports (nil) whether the person may recover by e-mail now:
// active, her address verified, and every group of hers with a policy
// allows it (Config.EmailRecovery).
func (s *Service) mayRecover(ctx context.Context, u authn.User) error {
	switch {
	case u.Status != authn.StatusActive:
		return fmt.Errorf("account is %s", u.Status)
	case !u.EmailVerified():
		return errors.New("address not verified")
	}
	groups, err := s.cfg.Store.UserGroups(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("read groups: %w", err)
	}
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = g.Name
	}
	if !s.cfg.EmailRecovery(names) {
		return fmt.Errorf("groups %v do not allow recovery by e-mail", names)
	}
	return nil
}

// mailRecoveryLink stores a recovery for u bound to the request's browser
// and mails its link.
func (s *Service) mailRecoveryLink(ctx context.Context, u authn.User, req RecoveryRequest) error {
	now := s.now()
	token := NewRecoveryToken()
	r := authn.Recovery{ID: authn.NewID(), UserID: u.ID, Link: authn.HashToken(token), Binding: req.Binding,
		Email: u.Email, CreatedAt: now, LinkExpiresAt: now.Add(LinkValidity)}
	if err := s.cfg.Store.CreateRecovery(ctx, r); err != nil {
		return fmt.Errorf("store recovery link: %w", err)
	}
	ev := authn.AuditEvent{Time: now, Actor: "user:" + u.ID, Action: "recovery.link", Subject: "user:" + u.ID,
		ClientAddr: req.Client.Addr, Details: map[string]string{"recovery_id": r.ID, "expires_at": r.LinkExpiresAt.Format(time.RFC3339)}}
	if err := s.cfg.Store.AppendAudit(ctx, ev); err != nil {
		return fmt.Errorf("audit recovery link: %w", err)
	}
	link := s.cfg.PublicURL.JoinPath("recover", token).String()
	de, en := when(r.LinkExpiresAt)
	m := s.message(u, "Zugang wiederherstellen / Recover your access",
		fmt.Sprintf("Sie haben angefordert, Ihren Zugang per E-Mail wiederherzustellen. Öffnen Sie dazu diesen Link "+
			"im selben Browser, in dem Sie ihn angefordert haben:\n\n    %s\n\nDer Link gilt einmal und bis %s. "+
			"Danach richten Sie ein neues Anmeldemittel ein; alle Ihre Sitzungen werden beendet, und Ihre bisherigen "+
			"Anmeldemittel werden nach 72 Stunden entfernt.\n\nHaben Sie das nicht angefordert, ignorieren Sie diese E-Mail; "+
			"an Ihrem Konto ändert sich nichts.", link, de),
		fmt.Sprintf("You asked to recover your access by e-mail. Open this link in the same browser in which you asked "+
			"for it:\n\n    %s\n\nThe link works once and until %s. You then set up a new sign-in factor; all your "+
			"sessions end, and your previous factors are removed after 72 hours.\n\nIf you did not ask for this, ignore "+
			"this e-mail; nothing changes on your account.", link, en))
	s.notify(ctx, m)
	return nil
}

// recoveryFor finds the recovery of a link and checks it: not used,
// not expired, and opened in the browser that asked (binding).
func (s *Service) recoveryFor(ctx context.Context, token string, binding authn.TokenHash) (authn.Recovery, authn.User, error) {
	h, err := ParseRecoveryToken(token)
	if err != nil {
		return authn.Recovery{}, authn.User{}, recoverRefusal(RecoverLinkWrong, err)
	}
	r, err := s.cfg.Store.GetRecovery(ctx, h)
	switch {
	case errors.Is(err, authn.ErrNotFound):
		return r, authn.User{}, recoverRefusal(RecoverLinkWrong, err)
	case err != nil:
		return r, authn.User{}, fmt.Errorf("read recovery link: %w", err)
	case !r.StartedAt.IsZero() || !r.EndedAt.IsZero():
		return r, authn.User{}, recoverRefusal(RecoverLinkUsed, fmt.Errorf("recovery %s: %w", r.ID, authn.ErrUsed))
	case !s.now().Before(r.LinkExpiresAt):
		return r, authn.User{}, recoverRefusal(RecoverLinkExpired, fmt.Errorf("recovery %s: %w", r.ID, authn.ErrExpired))
	case subtle.ConstantTimeCompare(r.Binding[:], binding[:]) != 1:
		return r, authn.User{}, recoverRefusal(RecoverOtherBrowser, fmt.Errorf("recovery %s opened in another browser", r.ID))
	}
	u, err := s.cfg.Store.GetUser(ctx, r.UserID)
	if err != nil {
		return r, u, fmt.Errorf("read person of recovery: %w", err)
	}
	if err := s.mayRecover(ctx, u); err != nil {
		return r, u, recoverRefusal(RecoverNotAllowed, err)
	}
	return r, u, nil
}

// RecoveryTarget returns whose access a link recovers, changing nothing
// (the page the link opens: mail scanners open links too). A wrong, used
// or expired link, one opened in another browser, and a person who may no
// longer recover by e-mail are *RecoveryError.
func (s *Service) RecoveryTarget(ctx context.Context, token string, binding authn.TokenHash) (authn.User, error) {
	_, u, err := s.recoveryFor(ctx, token, binding)
	return u, err
}

// StartRecovery uses the link (once) from the browser that asked: her
// sessions end (and her OIDC tokens, the tools told), an invitation is
// made and redeemed at once, and a notice with a cancel link is mailed.
// It returns the enrollment, which goes on on the ordinary /enroll pages.
func (s *Service) StartRecovery(ctx context.Context, token string, binding authn.TokenHash, client authn.ClientInfo) (enroll.Progress, error) {
	r, u, err := s.recoveryFor(ctx, token, binding)
	if err != nil {
		return enroll.Progress{}, err
	}
	now := s.now()
	invToken, cancel := enroll.NewToken(), NewRecoveryToken()
	st := authn.RecoveryStart{Link: r.Link, At: now, DueAt: now.Add(RecoveryDelay), Cancel: authn.HashToken(cancel),
		Invitation: authn.Invitation{ID: authn.NewID(), UserID: u.ID, TokenHash: authn.HashToken(invToken),
			Purpose: authn.PurposeEnroll, CreatedBy: "user:" + u.ID, CreatedAt: now, ExpiresAt: now.Add(LinkValidity)},
		Event: authn.AuditEvent{Time: now, Actor: "user:" + u.ID, Action: "recovery.start", Subject: "user:" + u.ID,
			ClientAddr: client.Addr}}
	started, sessions, err := s.cfg.Store.StartRecovery(ctx, st)
	switch {
	case errors.Is(err, authn.ErrUsed):
		return enroll.Progress{}, recoverRefusal(RecoverLinkUsed, err)
	case errors.Is(err, authn.ErrExpired):
		return enroll.Progress{}, recoverRefusal(RecoverLinkExpired, err)
	case err != nil:
		return enroll.Progress{}, fmt.Errorf("start recovery: %w", err)
	}
	s.log.Info("recovery by e-mail started", "user", u.ID, "sessions_ended", sessions, "due", started.DueAt)
	s.toolsSignedOut(ctx, u.ID)
	s.notify(ctx, s.recoveryNotice(u, started, s.cfg.PublicURL.JoinPath("recover", "cancel", cancel).String()))
	p, err := s.cfg.Enroll.Redeem(ctx, enroll.Redemption{Token: invToken, Client: client})
	if err != nil {
		return p, fmt.Errorf("open the recovery's enrollment: %w", err)
	}
	return p, nil
}

// recoveryNotice tells her that a recovery started, when her old factors
// go, and how to cancel.
func (s *Service) recoveryNotice(u authn.User, r authn.Recovery, cancelLink string) enroll.Message {
	startDE, startEN := when(r.StartedAt)
	dueDE, dueEN := when(r.DueAt)
	account := s.cfg.PublicURL.JoinPath("account").String()
	return s.message(u, "Zugang per E-Mail wiederhergestellt / Access recovered by e-mail",
		fmt.Sprintf("am %s wurde Ihr Zugang über einen Link an diese Adresse wiederhergestellt. Alle Ihre Sitzungen "+
			"wurden beendet, und ein neues Anmeldemittel kann eingerichtet werden. Ihre bisherigen Anmeldemittel "+
			"(Schlüssel, Apps, Wiederherstellungscodes) funktionieren noch bis %s und werden dann entfernt.\n\n"+
			"Waren Sie das nicht? Dann brechen Sie die Wiederherstellung mit diesem Link ab (er gilt einmal); "+
			"Ihre bisherigen Anmeldemittel bleiben, die neuen werden entfernt:\n\n    %s\n\n"+
			"Sie können auch mit einem bisherigen Anmeldemittel anmelden und unter %s abbrechen.",
			startDE, dueDE, cancelLink, account),
		fmt.Sprintf("on %s your access was recovered through a link to this address. All your sessions were ended, "+
			"and a new sign-in factor can be set up. Your previous factors (keys, apps, recovery codes) keep working "+
			"until %s and are removed then.\n\nWas this not you? Then cancel the recovery with this link (it works "+
			"once); your previous factors stay, the new ones are removed:\n\n    %s\n\n"+
			"You can also sign in with a previous factor and cancel at %s.", startEN, dueEN, cancelLink, account))
}

// CancelRecovery cancels the recovery of the notice's cancel link: the
// keys and apps added since it started are removed, her recovery codes
// are those from before, the sessions since end (and her OIDC tokens, the
// tools told); audited. The link of a recovery that a newer one superseded
// cancels that one while it is pending (the report's Superseded says so).
// A wrong link, or one whose recovery ended, is a
// *RecoveryError (RecoverCancelled if it was cancelled already).
func (s *Service) CancelRecovery(ctx context.Context, token string, client authn.ClientInfo) (authn.RecoveryReport, error) {
	h, err := ParseRecoveryToken(token)
	if err != nil {
		return authn.RecoveryReport{}, recoverRefusal(RecoverLinkWrong, err)
	}
	return s.cancel(ctx, h, "", client, "notice")
}

// CancelOwnRecovery cancels the person's pending recovery from a signed-in
// page (/account, the page after her sign-in) as CancelRecovery does,
// ending the session that cancels too: every session of hers alive now
// was signed in after the recovery began (its start ended all others),
// with her old factors or a new one, and a mailbox thief signed in with
// the recovery's new key must not keep his (review of #15). She signs in
// again with her old key or app, which the cancel keeps. ErrNotFound when
// she has none.
func (s *Service) CancelOwnRecovery(ctx context.Context, userID string, client authn.ClientInfo) (authn.RecoveryReport, error) {
	return s.cancel(ctx, authn.TokenHash{}, userID, client, "account")
}

func (s *Service) cancel(ctx context.Context, h authn.TokenHash, userID string, client authn.ClientInfo, via string) (authn.RecoveryReport, error) {
	ev := authn.AuditEvent{Time: s.now(), Action: "recovery.cancel", ClientAddr: client.Addr,
		Details: map[string]string{"via": via}}
	if userID != "" {
		ev.Actor, ev.Subject = "user:"+userID, "user:"+userID
	}
	rep, err := s.cfg.Store.CancelRecovery(ctx, h, userID, authn.SessionHash{}, ev.Time, ev)
	switch {
	case errors.Is(err, authn.ErrNotFound) && userID == "":
		return rep, recoverRefusal(RecoverLinkWrong, err)
	case errors.Is(err, authn.ErrUsed) && rep.Recovery.Outcome == authn.RecoveryCancelled:
		return rep, recoverRefusal(RecoverCancelled, err)
	case errors.Is(err, authn.ErrUsed):
		return rep, recoverRefusal(RecoverLinkUsed, err)
	case err != nil:
		return rep, fmt.Errorf("cancel recovery: %w", err)
	}
	s.log.Info("recovery by e-mail cancelled", "user", rep.Recovery.UserID, "via", via, "recovery", rep.Recovery.ID,
		"by_link_of_superseded", rep.Superseded.ID, "credentials_removed", rep.Credentials, "sessions_ended", rep.Sessions)
	s.toolsSignedOut(ctx, rep.Recovery.UserID)
	return rep, nil
}

// CheckChange refuses, while a recovery of the person is pending, what
// would let its new factor take her account over before the 72 hours are
// up: removing one of her old keys or apps (credentialID), or changing
// her password (credentialID ""), which a cancel would not undo. A
// recovery's own new factors may go. nil when nothing holds them.
func (s *Service) CheckChange(ctx context.Context, userID, credentialID string) error {
	r, pending, err := s.PendingRecovery(ctx, userID)
	if err != nil || !pending {
		return err
	}
	if credentialID == "" {
		return recoverRefusal(RecoverPending, fmt.Errorf("password of %s held by recovery %s", userID, r.ID))
	}
	creds, err := s.cfg.Store.ListCredentials(ctx, userID)
	if err != nil {
		return fmt.Errorf("check change during recovery: %w", err)
	}
	for _, c := range creds {
		if c.ID == credentialID && c.CreatedAt.Before(r.Since) {
			return recoverRefusal(RecoverPending, fmt.Errorf("credential %s held by recovery %s", c.ID, r.ID))
		}
	}
	return nil
}

// PendingRecovery returns the person's pending recovery, if any (for
// /account: she may cancel it).
func (s *Service) PendingRecovery(ctx context.Context, userID string) (authn.Recovery, bool, error) {
	r, err := s.cfg.Store.PendingRecovery(ctx, userID)
	switch {
	case errors.Is(err, authn.ErrNotFound):
		return r, false, nil
	case err != nil:
		return r, false, err
	}
	return r, true, nil
}

// FinishRecoveries removes the old factors of every recovery whose
// RecoveryDelay has passed without a cancel, and returns how many it
// finished. A person who is not active keeps hers (a freeze cancels her
// recovery; a disabled person's waits until she is active again). It is one of serve's periodic jobs; several processes may run
// it at once (a recovery finished by another is skipped).
func (s *Service) FinishRecoveries(ctx context.Context) (int, error) {
	done := 0
	for {
		now := s.now()
		due, err := s.cfg.Store.DueRecoveries(ctx, now, 100)
		if err != nil {
			return done, fmt.Errorf("finish recoveries: %w", err)
		}
		finished := 0
		for _, r := range due {
			ev := authn.AuditEvent{Time: now, Actor: "system", Action: "recovery.finish", Subject: "user:" + r.UserID}
			rep, err := s.cfg.Store.FinishRecovery(ctx, r.ID, now, ev)
			switch {
			case errors.Is(err, authn.ErrUsed) || errors.Is(err, authn.ErrExpired) || errors.Is(err, authn.ErrNotFound):
				continue
			case errors.Is(err, authn.ErrNotActive):
				// Frozen or disabled since it was listed: her factors stay;
				// it finishes once she is active again.
				s.log.Warn("recovery by e-mail not finished: account not active", "user", r.UserID, "err", err)
				continue
			case err != nil:
				return done, fmt.Errorf("finish recoveries: %w", err)
			}
			finished++
			s.log.Info("recovery by e-mail finished: old factors removed", "user", r.UserID,
				"credentials_removed", rep.Credentials, "codes_removed", rep.RecoveryCodes)
		}
		done += finished
		if len(due) < 100 || finished == 0 {
			return done, nil
		}
	}
}

// toolsSignedOut ends the person's OIDC tokens and tells the tools.
func (s *Service) toolsSignedOut(ctx context.Context, userID string) {
	if s.cfg.Tools == nil {
		return
	}
	if err := s.cfg.Tools.OIDCUserSignedOut(ctx, userID); err != nil {
		s.log.Warn("could not end the OIDC tokens of a recovering person", "user", userID, "err", err)
	}
}

// notify sends m, if there is a mailer; a failure is logged.
func (s *Service) notify(ctx context.Context, m enroll.Message) {
	if s.cfg.Mailer == nil {
		s.log.Warn("no mailer: recovery mail not sent", "subject", m.Subject)
		return
	}
	enroll.Notify(ctx, s.cfg.Mailer, s.log, m)
}

// message is a mail to u, German first and English below.
func (s *Service) message(u authn.User, subject, de, en string) enroll.Message {
	name := strings.TrimSpace(u.DisplayName)
	if name == "" {
		name = u.Username
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Guten Tag %s,\n\n%s\n\n----- English -----\n\nHello %s,\n\n%s\n", name, de, name, en)
	if n := s.cfg.Notices.Sender.Name; n != "" {
		b.WriteString("\n-- \n" + n + "\n")
	}
	return enroll.Message{To: u.Email, Subject: subject, Body: b.String()}
}

// when writes t for a mail, German and English, in the local time zone.
func when(t time.Time) (de, en string) {
	t = t.Local()
	return enroll.GermanDateTime(t), t.Format("2 January 2006, 15:04 MST")
}
