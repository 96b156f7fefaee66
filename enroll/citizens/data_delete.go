package citizens

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// Why a person may not delete her own account (DeleteRefused.Reason).
const (
	// RefusedDirectory: her account comes from the city's directory and
	// the next sync would make it again; IT removes her there.
	RefusedDirectory = "directory"
	// RefusedLastAdmin: she is the last active administrator; nobody
	// could run Keyhall without her.
	RefusedLastAdmin = "last_admin"
	// RefusedNotActive: she is disabled or frozen (and cannot sign in
	// to ask anyway).
	RefusedNotActive = "not_active"
	// RefusedNotCitizen: she is not in the citizens' group: IT made her
	// account for her work, and IT removes it.
	RefusedNotCitizen = "not_citizen"
	// RefusedRecovery: a recovery by e-mail of hers is pending; whoever
	// holds her mailbox must not end the account before she can cancel.
	RefusedRecovery = "recovery_pending"
)

// DeleteRefused is why a person may not delete her own account, with a
// message for her in German and English that says what to do instead.
type DeleteRefused struct {
	Reason string
	De, En string
}

func (e *DeleteRefused) Error() string { return "delete own account refused: " + e.Reason }

// ConfirmsDeletion reports whether sess confirms a deletion at now: a
// sign-in within ConfirmWithin with a key, a passkey or an app code — not
// with a recovery code, which only lets her enroll a new factor.
func ConfirmsDeletion(sess authn.Session, now time.Time) bool {
	if sess.RecoveryOnly || now.Sub(sess.AuthTime) > ConfirmWithin || sess.AuthTime.After(now.Add(time.Minute)) {
		return false
	}
	for _, m := range sess.AMR {
		if m == "hwk" || m == "swk" || m == "pop" || m == "otp" {
			return true
		}
	}
	return false
}

// MayDelete returns nil when u may delete her own account, else a
// *DeleteRefused: only citizens (members of Config.Group) may; not
// directory people (IT removes them in the directory), disabled or frozen
// people, one whose recovery by e-mail is pending (review of #15: a
// mailbox thief would end the account before she can cancel), nor the
// last active member of the admin groups (Config.AdminGroups).
func (s *Service) MayDelete(ctx context.Context, u authn.User) error {
	switch {
	case u.Source == authn.SourceDirectory:
		help := s.helpContact()
		return &DeleteRefused{Reason: RefusedDirectory,
			De: "Ihr Konto stammt aus dem Verzeichnis der Stadtverwaltung und würde beim nächsten Abgleich neu angelegt. " +
				"Wenden Sie sich bitte an den IT-Service" + help + ": Er trägt Sie dort aus, dann wird Ihr Konto hier gelöscht.",
			En: "Your account comes from the city's directory and would be made again by the next sync. " +
				"Please ask IT" + help + " to remove you there; then your account here is deleted."}
	case u.Status != authn.StatusActive:
		return &DeleteRefused{Reason: RefusedNotActive,
			De: "Ihr Konto ist gesperrt. Bitte wenden Sie sich an den IT-Service.",
			En: "Your account is locked. Please contact IT."}
	}
	groups, err := s.cfg.Store.UserGroups(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("may %s delete her account: %w", u.ID, err)
	}
	if !slices.ContainsFunc(groups, func(g authn.Group) bool { return g.Name == s.cfg.Group }) {
		help := s.helpContact()
		return &DeleteRefused{Reason: RefusedNotCitizen,
			De: "Ihr Konto hat der IT-Service für Ihre Arbeit eingerichtet. Um es zu löschen, wenden Sie sich bitte an den IT-Service" + help + ".",
			En: "IT set up your account for your work. To delete it, please ask IT" + help + "."}
	}
	if _, err := s.cfg.Store.PendingRecovery(ctx, u.ID); err == nil {
		return &DeleteRefused{Reason: RefusedRecovery,
			De: "Für Ihr Konto läuft eine Wiederherstellung per E-Mail. Solange sie nicht abgeschlossen oder abgebrochen ist (höchstens 72 Stunden), kann das Konto nicht gelöscht werden.",
			En: "A recovery by e-mail of your account is under way. Until it is finished or cancelled (72 hours at most), the account cannot be deleted."}
	} else if !errors.Is(err, authn.ErrNotFound) {
		return fmt.Errorf("may %s delete her account: %w", u.ID, err)
	}
	last, err := s.lastAdmin(ctx, u)
	if err != nil {
		return fmt.Errorf("may %s delete her account: %w", u.ID, err)
	}
	if last {
		return lastAdminRefused
	}
	return nil
}

// lastAdminRefused is MayDelete's answer to the last administrator, and
// Delete's when the erasure finds her the last (another administrator
// was deleted meanwhile).
var lastAdminRefused = &DeleteRefused{Reason: RefusedLastAdmin,
	De: "Sie sind die letzte Administratorin oder der letzte Administrator von Keyhall. Ernennen Sie zuerst eine " +
		"weitere Person zur Administration; dann können Sie Ihr Konto löschen.",
	En: "You are Keyhall's last administrator. Make another person an administrator first; then you can delete your account."}

// helpContact is " (<phone>, <e-mail>)" of the IT service, where
// configured (letter.help_phone, letter.help_email), else "".
func (s *Service) helpContact() string {
	var how []string
	for _, h := range []string{s.cfg.Notices.Sender.HelpPhone, s.cfg.Notices.Sender.HelpEmail} {
		if h != "" {
			how = append(how, h)
		}
	}
	if len(how) == 0 {
		return ""
	}
	return " (" + strings.Join(how, ", ") + ")"
}

// lastAdmin reports whether u is in an admin group and no other active
// person is in any.
func (s *Service) lastAdmin(ctx context.Context, u authn.User) (bool, error) {
	if len(s.cfg.AdminGroups) == 0 {
		return false, nil
	}
	hers, err := s.cfg.Store.UserGroups(ctx, u.ID)
	if err != nil {
		return false, err
	}
	if !slices.ContainsFunc(hers, func(g authn.Group) bool { return slices.Contains(s.cfg.AdminGroups, g.Name) }) {
		return false, nil
	}
	for _, name := range s.cfg.AdminGroups {
		g, err := s.cfg.Store.GetGroupByName(ctx, name)
		if errors.Is(err, authn.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		members, err := s.cfg.Store.GroupMembers(ctx, g.ID)
		if err != nil {
			return false, err
		}
		for _, m := range members {
			if m.ID != u.ID && m.Status == authn.StatusActive {
				return false, nil
			}
		}
	}
	return true, nil
}

// Delete removes the person userID at her own request (DSGVO Art. 17):
// if MayDelete allows it, her sessions and OIDC tokens end and everything
// about her is erased in one transaction (erase), the tools are told by
// back-channel logout, and a confirmation goes to her address if she had
// one. via names the door ("account" for /account); clientAddr is
// recorded in the pseudonymous "user.erase" event, as every event records
// where it came from. The caller checks that her sign-in confirms it
// (ConfirmsDeletion).
func (s *Service) Delete(ctx context.Context, userID, via, clientAddr string) error {
	u, err := s.cfg.Store.GetUser(ctx, userID)
	if err != nil {
		return fmt.Errorf("delete account %s: %w", userID, err)
	}
	if err := s.MayDelete(ctx, u); err != nil {
		return err
	}
	gone, err := s.erase(ctx, u, eraseBy{Actor: authn.Pseudonym(u.ID), Reason: "asked by the person", Via: via,
		ClientAddr: clientAddr, KeepAdmin: true})
	if errors.Is(err, authn.ErrLastMember) {
		return lastAdminRefused
	}
	if err != nil {
		return fmt.Errorf("delete account %s: %w", userID, err)
	}
	s.log.Info("account deleted at the person's request", "pseudonym", authn.Pseudonym(u.ID), "via", via,
		"audit_events_redacted", gone.Redacted, "tools_told", len(gone.Grants))
	if u.Email != "" && s.cfg.Mailer != nil && s.cfg.Notices.PublicURL != nil {
		// From the values read before: she is gone from the store now.
		enroll.Notify(ctx, s.cfg.Mailer, s.log, s.cfg.Notices.AccountErased(u, s.now()))
	}
	return nil
}

// eraseBy says who erases a person, why and through which door, for the
// "user.erase" audit event. Nothing in it may name her: Actor is her
// Pseudonym when she asked herself, else e.g. "system".
type eraseBy struct {
	Actor      string
	Reason     string // e.g. "asked by the person", "inactive for 2 years"
	Via        string // e.g. "account", "retention"
	ClientAddr string // "" for none
	// KeepAdmin: refuse (authn.ErrLastMember) to erase the last active
	// member of Config.AdminGroups, checked in the erasure's transaction.
	KeepAdmin bool
	// Details are added to the audit event's (they must not name her).
	Details map[string]string
	// UnusedAfter: erase only if she did not use her account after it
	// (authn.Erasure.UnusedAfter); retention's re-check.
	UnusedAfter time.Time
}

// erase removes u with everything about her (authn.EraseStore.EraseUser,
// with her sign-in's, her browsers', her refused sign-ins' and
// enrollment's throttle counters) and appends the
// pseudonymous "user.erase" event in the same transaction; then it tells
// the tools whose tokens ended (back-channel logout, in the background).
// Retention calls it for accounts unused too long.
func (s *Service) erase(ctx context.Context, u authn.User, by eraseBy) (authn.ErasedUser, error) {
	at := s.now()
	pseudonym := authn.Pseudonym(u.ID)
	ev := authn.AuditEvent{Time: at, Actor: by.Actor, Action: "user.erase", Subject: pseudonym, Reason: by.Reason,
		ClientAddr: by.ClientAddr, Details: map[string]string{"via": by.Via, "source": string(u.Source)}}
	maps.Copy(ev.Details, by.Details)
	keys := append(authn.ThrottleKeys(u.Username), enroll.ThrottleKeys(u.ID, u.Username)...)
	keys = append(keys, authn.RefusalThrottleKey(u.ID))
	for _, a := range []string{u.Email, u.VerifiedEmail, u.Username} { // registration's and recovery's counters
		if c, err := CanonicalEmail(a); err == nil { // as Start and AskRecovery name them
			k := s.addressKey(c)
			keys = append(keys, "register:mail:"+k, "recover:addr:"+k)
		}
	}
	e := authn.Erasure{UserID: u.ID, At: at, ThrottleKeys: keys,
		ThrottlePrefixes: authn.DeviceThrottlePrefixes(u.ID), Audit: ev, UnusedAfter: by.UnusedAfter}
	if by.KeepAdmin {
		e.KeepMember = s.cfg.AdminGroups
	}
	gone, err := s.cfg.Store.EraseUser(ctx, e)
	if err != nil {
		return authn.ErasedUser{}, err
	}
	if s.cfg.Tools != nil && len(gone.Grants) > 0 {
		s.cfg.Tools.OIDCGrantsEnded(ctx, gone.Grants)
	}
	return gone, nil
}
