package citizens

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// Retention (issue #15, docs/privacy.md): Retain, run by serve every
// RetainEvery, removes what Keyhall no longer needs to keep.
//
//  1. Sign-in records (authn.SigninActions) older than SigninRetention are
//     redacted, but only up to the newest audit checkpoint that was
//     signed and logged: the log collector's lines and checkpoints still
//     vouch for the chain, and `keyhall admin audit verify --checkpoint`
//     still verifies with an older checkpoint line.
//  2. A citizen (a local member of Group) whose account was not used for
//     InactiveAfter is mailed a notice that it will be deleted
//     DeletionNotice later; if she does not use it before then, it is
//     deleted (authn.EraseStore.EraseUser, audited as "user.erase" with
//     reason "inactive" under her pseudonym). Using it in between (a
//     sign-in, a session's activity) withdraws the notice. Without an
//     address, or when the mail fails, she is deleted all the same,
//     DeletionNotice after the notice was recorded; the log says so.
//
// "Used" is the newest of: her account's creation, her factors' creation
// and last use, her recovery codes' use, her sessions' last activity, the
// tokens issued to her tools, each renewal with a refresh token included
// (authn.InactiveUser.LastUsed); the erasure reads it again in its own
// transaction, so a use between the read and the erasure keeps her. Sessions are deleted some days after they
// end, but each sign-in also writes her factor's last use, so nothing is
// lost with them; sign-in records are not used, as they are redacted after
// SigninRetention, sooner than InactiveAfter.
const (
	// RetainEvery is how often serve runs Retain.
	RetainEvery = time.Hour
	// retainBatch bounds the accounts one Retain looks at; the next run
	// goes on.
	retainBatch = 500
)

// Report is what one Retain did.
type Report struct {
	SigninsRedacted int   // sign-in records redacted
	Checkpoint      int64 // the signed checkpoint they were cut at (0: none noted yet)
	Noticed         int   // citizens told their unused account will be deleted
	NoticesUnsent   int   // of those, the ones no mail reached (no address, or it failed)
	Withdrawn       int   // notices withdrawn because she used her account since
	Deleted         int   // accounts deleted
}

// Retain removes old sign-in records and unused citizen accounts, as the
// package's retention comment says. A zero SigninRetention or
// InactiveAfter turns that part off. It goes on past one person's failure
// and returns the errors joined with what it did.
func (s *Service) Retain(ctx context.Context) (Report, error) {
	var rep Report
	var errs []error
	if d := s.cfg.SigninRetention; d > 0 {
		now := s.now()
		ev := authn.AuditEvent{Time: now, Actor: "system", Action: "audit.retention",
			Details: map[string]string{"before": now.Add(-d).Format(time.RFC3339), "what": "signins"}}
		red, err := s.cfg.Store.RedactSignins(ctx, now.Add(-d), authn.SigninActions, ev)
		if err != nil {
			errs = append(errs, fmt.Errorf("redact old sign-in records: %w", err))
		}
		rep.SigninsRedacted, rep.Checkpoint = red.Redacted, red.Checkpoint
		if red.Checkpoint == 0 {
			s.log.Info("retention: no signed audit checkpoint yet; old sign-in records are kept until one is logged")
		} else if red.Redacted > 0 {
			s.log.Info("retention: old sign-in records redacted", "count", red.Redacted, "checkpoint", red.Checkpoint)
		}
	}
	if s.cfg.InactiveAfter > 0 {
		if err := s.retainAccounts(ctx, &rep); err != nil {
			errs = append(errs, err)
		}
	}
	return rep, errors.Join(errs...)
}

// retainAccounts tells, withdraws and deletes, one person at a time.
func (s *Service) retainAccounts(ctx context.Context, rep *Report) error {
	g, err := s.cfg.Store.GetGroupByName(ctx, s.cfg.Group)
	if errors.Is(err, authn.ErrNotFound) {
		return nil // no citizen yet
	}
	if err != nil {
		return fmt.Errorf("find the citizens' group: %w", err)
	}
	now := s.now()
	list, err := s.cfg.Store.InactiveMembers(ctx, g.ID, now.Add(-s.cfg.InactiveAfter), retainBatch)
	if err != nil {
		return err
	}
	var errs []error
	for _, iu := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch {
		case iu.NoticeAt.IsZero():
			if err := s.noticeInactive(ctx, iu.User, now, rep); err != nil {
				errs = append(errs, err)
			}
		case iu.LastUsed.After(iu.NoticeAt):
			if err := s.cfg.Store.DeleteInactiveNotice(ctx, iu.User.ID); err != nil {
				errs = append(errs, err)
				continue
			}
			rep.Withdrawn++
			s.log.Info("retention: account used again; its deletion is off", "user", iu.User.ID, "used", iu.LastUsed)
		case !now.Before(iu.NoticeAt.Add(DeletionNotice)):
			erased, err := s.eraseInactive(ctx, iu)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if erased {
				rep.Deleted++
			} else {
				rep.Withdrawn++
			}
		}
	}
	return errors.Join(errs...)
}

// noticeInactive records the notice first (the 30 days run from it), then
// mails it: a mail that cannot go out still leaves her the 30 days of the
// notice, and deletion follows them.
func (s *Service) noticeInactive(ctx context.Context, u authn.User, now time.Time, rep *Report) error {
	if err := s.cfg.Store.PutInactiveNotice(ctx, u.ID, now); err != nil {
		return fmt.Errorf("record the notice of %s: %w", u.ID, err)
	}
	rep.Noticed++
	deleteOn := now.Add(DeletionNotice)
	m := s.inactiveNotice(u, deleteOn)
	if m.To == "" || s.cfg.Mailer == nil {
		rep.NoticesUnsent++
		s.log.Warn("retention: unused account has no e-mail address; it is deleted without notice on the date",
			"user", u.ID, "delete_on", deleteOn)
		return nil
	}
	if err := s.cfg.Mailer.Send(ctx, m); err != nil {
		rep.NoticesUnsent++
		s.log.Warn("retention: the notice of an unused account's deletion was not sent; it is deleted on the date all the same",
			"user", u.ID, "delete_on", deleteOn, "err", err)
	}
	return nil
}

// eraseInactive deletes her account and tells the tools her sessions
// ended, if she did not use it since the notice: the erasure reads her
// last use again in its transaction (authn.Erasure.UnusedAfter), so a
// sign-in or a tool's refresh since InactiveMembers read it keeps her,
// and her notice is withdrawn (false).
func (s *Service) eraseInactive(ctx context.Context, iu authn.InactiveUser) (bool, error) {
	u := iu.User
	out, err := s.erase(ctx, u, eraseBy{Actor: "system", Reason: "inactive", Via: "retention", KeepAdmin: true,
		UnusedAfter: iu.NoticeAt,
		Details:     map[string]string{"last_used": iu.LastUsed.UTC().Format(time.RFC3339), "noticed": iu.NoticeAt.UTC().Format(time.RFC3339)}})
	switch {
	case errors.Is(err, authn.ErrNotFound):
		return false, nil // deleted meanwhile
	case errors.Is(err, authn.ErrUsedSince):
		if err := s.cfg.Store.DeleteInactiveNotice(ctx, u.ID); err != nil {
			return false, err
		}
		s.log.Info("retention: account used while it was being deleted; its deletion is off", "user", u.ID)
		return false, nil
	case err != nil:
		return false, fmt.Errorf("delete unused account %s: %w", u.ID, err)
	}
	s.log.Info("retention: unused account deleted", "pseudonym", authn.Pseudonym(u.ID), "last_used", iu.LastUsed,
		"noticed", iu.NoticeAt, "audit_redacted", out.Redacted)
	return true, nil
}

// inactiveNotice is the mail that tells her the account will be deleted
// on deleteOn unless she signs in; To is empty without an address.
func (s *Service) inactiveNotice(u authn.User, deleteOn time.Time) enroll.Message {
	to := u.VerifiedEmail
	if to == "" {
		to = u.Email
	}
	loc := s.cfg.Notices.Location
	if loc == nil {
		loc = time.Local
	}
	d := deleteOn.In(loc)
	login := s.cfg.PublicURL.JoinPath("login").String()
	name := strings.TrimSpace(u.DisplayName)
	if name == "" {
		name = u.Username
	}
	years := int(s.cfg.InactiveAfter.Hours() / 24 / 365)
	sinceDE, sinceEN := fmt.Sprintf("%d Tagen", int(s.cfg.InactiveAfter.Hours()/24)), fmt.Sprintf("%d days", int(s.cfg.InactiveAfter.Hours()/24))
	if years >= 1 && s.cfg.InactiveAfter%(365*24*time.Hour) == 0 {
		sinceDE, sinceEN = fmt.Sprintf("%d Jahren", years), fmt.Sprintf("%d years", years)
		if years == 1 {
			sinceDE, sinceEN = "einem Jahr", "a year"
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Guten Tag %s,\n\nSie haben Ihr Konto seit mehr als %s nicht benutzt. "+
		"Ihr Konto wird am %s gelöscht, wenn Sie sich nicht vorher anmelden:\n%s\n\n"+
		"Wenn Sie es nicht mehr brauchen, müssen Sie nichts tun: dann werden Ihre Daten gelöscht.\n\n",
		name, sinceDE, enroll.GermanDate(d), login)
	b.WriteString("----- English -----\n\n")
	fmt.Fprintf(&b, "Hello %s,\n\nyou have not used your account for more than %s. "+
		"Your account will be deleted on %s unless you sign in before then:\n%s\n\n"+
		"If you no longer need it, there is nothing to do: your data will then be deleted.\n",
		name, sinceEN, d.Format("2 January 2006"), login)
	if n := s.cfg.Notices.Sender.Name; n != "" {
		b.WriteString("\n-- \n" + n + "\n")
	}
	return enroll.Message{To: to, Subject: "Ihr Konto wird gelöscht / Your account will be deleted", Body: b.String()}
}
