package enroll

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// Reasons a password is refused or needed.
const (
	ReasonPasswordWeak    Reason = "password-weak"     // too short, too long, or on the list of common passwords
	ReasonPasswordNeeded  Reason = "password-needed"   // this factor needs a password after it, and the person has none
	ReasonNoLocalPassword Reason = "no-local-password" // a directory person's password is the directory's
)

var (
	msgPasswordShort = [2]string{
		fmt.Sprintf("Das Passwort ist zu kurz. Bitte wählen Sie mindestens %d Zeichen, gern einen ganzen Satz.", authn.MinPasswordLength),
		fmt.Sprintf("The password is too short. Please choose at least %d characters; a whole sentence is fine.", authn.MinPasswordLength),
	}
	msgPasswordLong = [2]string{
		"Das Passwort ist zu lang. Bitte wählen Sie ein kürzeres.",
		"The password is too long. Please choose a shorter one.",
	}
	msgPasswordCommon = [2]string{
		"Dieses Passwort ist zu bekannt: Es steht auf einer Liste häufiger oder gestohlener Passwörter. Bitte wählen Sie ein anderes.",
		"This password is too well known: it is on a list of common or stolen passwords. Please choose another.",
	}
	msgPasswordFirst = [2]string{
		"Legen Sie zuerst Ihr Passwort fest: Wiederherstellungscodes und die Authenticator-App brauchen es bei der Anmeldung.",
		"Please choose your password first: recovery codes and the authenticator app need it at sign-in.",
	}
	msgPasswordImpossible = [2]string{
		"Wiederherstellungscodes und die Authenticator-App brauchen bei der Anmeldung ein Passwort, und Keyhall kann Ihres nicht prüfen. Bitte registrieren Sie einen zweiten Sicherheitsschlüssel mit PIN als Ersatz.",
		"Recovery codes and the authenticator app need a password at sign-in, and Keyhall cannot check yours. Please register a second security key with a PIN as a spare.",
	}
	msgPasswordNotUsed = [2]string{
		"Sie melden sich ohne Passwort an (mit Ihrem Passkey oder Ihrer Authenticator-App); ein Passwort wird für Ihr Konto nicht verwendet.",
		"You sign in without a password (with your passkey or your authenticator app); your account does not use one.",
	}
	msgPasswordRequired = [2]string{
		"Ihr IT-Service verlangt ein Passwort: Bitte legen Sie jetzt Ihr Passwort fest. Ohne Passwort lässt sich die Einrichtung nicht abschließen.",
		"Your IT service requires a password: please choose your password now. Without one, the setup cannot be finished.",
	}
	msgPasswordDirectory = [2]string{
		"Ihr Passwort ist das Ihres Dienstkontos. Bitte ändern Sie es dort.",
		"Your password is that of your work account. Please change it there.",
	}
	msgPasswordNeedsFactor = [2]string{
		"Bitte registrieren Sie zuerst einen Sicherheitsschlüssel oder eine App; danach legen Sie Ihr Passwort fest.",
		"Please register a security key or an app first; then choose your password.",
	}
	msgPasswordRecoveryOnly = [2]string{
		"Nach einer Anmeldung mit einem Wiederherstellungscode können Sie das Passwort nicht ändern. Bitte richten Sie zuerst einen neuen Schlüssel ein und melden Sie sich damit an.",
		"After signing in with a recovery code you cannot change the password. Please set up a new key first and sign in with it.",
	}
)

// PasswordState is what Keyhall knows of a person's password.
type PasswordState struct {
	// Has: Keyhall can check a password of hers (a local hash, or the
	// directory's for a directory person when a directory is configured).
	Has bool
	// Local: she is a local person, whose password Keyhall keeps (and she
	// sets on /account or in her enrollment); a directory person's is the
	// directory's.
	Local bool
}

// PasswordState reads u's PasswordState: the one answer to whether she
// has a password, for the enrollment, the letter (HasPassword) and
// /account.
func (s *Service) PasswordState(ctx context.Context, u authn.User) (PasswordState, error) {
	if u.Source == authn.SourceDirectory {
		return PasswordState{Has: s.cfg.Directory != nil}, nil
	}
	_, err := s.cfg.Store.GetPasswordHash(ctx, u.ID)
	switch {
	case errors.Is(err, authn.ErrNotFound):
		return PasswordState{Local: true}, nil
	case err != nil:
		return PasswordState{Local: true}, fmt.Errorf("look up the password of %s: %w", u.Username, err)
	}
	return PasswordState{Has: true, Local: true}, nil
}

// Offer is what a person may be offered to add, by her groups' rules and
// her password: the one rule for the enrollment pages and /account.
type Offer struct {
	Password PasswordState
	// App: her rules admit an authenticator app (never where a group's
	// level is phr or phrh, which an app does not reach), and she has or
	// can choose the password that follows it.
	App bool
	// RecoveryCodes: codes would work for her, because she has a
	// password Keyhall can check (a code is followed by it at sign-in).
	RecoveryCodes bool
	// SetPassword: she is a local person without a password whose rules
	// admit a factor that needs one after it (an app, a key without PIN, a
	// recovery code): her enrollment asks her to choose one.
	SetPassword bool
	// NoPassword: her groups sign her in without a password
	// (KeyPolicy.NoPassword): an app and codes are offered without one,
	// and SetPassword is never set.
	NoPassword bool
	// PasswordRequired: SetPassword, in an invitation's enrollment whose
	// invitation requires a password (Terms.RequirePassword): she cannot
	// finish without one (Finish).
	PasswordRequired bool
}

// Offers returns what the person with userID may be offered.
func (s *Service) Offers(ctx context.Context, userID string) (Offer, error) {
	u, rules, err := s.person(ctx, userID)
	if err != nil {
		return Offer{}, err
	}
	return s.offer(ctx, u, rules)
}

func (s *Service) offer(ctx context.Context, u authn.User, rules Rules) (Offer, error) {
	pw, err := s.PasswordState(ctx, u)
	if err != nil {
		return Offer{}, err
	}
	// An app is followed by a password: offered where she has one, or
	// (a local person) can choose one.
	if rules.NoPassword() && u.Source == authn.SourceLocal {
		// Codes and an app sign her in alone: nothing to choose.
		return Offer{Password: pw, App: rules.AllowTOTP(), RecoveryCodes: true, NoPassword: true}, nil
	}
	o := Offer{Password: pw, App: rules.AllowTOTP() && (pw.Has || pw.Local), RecoveryCodes: pw.Has}
	o.SetPassword = pw.Local && !pw.Has
	return o, nil
}

// passwordRequired reports whether the invitation of the person with
// userID requires a password: her newest invitation, the one her
// enrollment opened with or, if IT issued another since, IT's latest word.
func (s *Service) passwordRequired(ctx context.Context, userID string) (bool, error) {
	inv, err := s.cfg.Store.LatestInvitation(ctx, userID)
	switch {
	case errors.Is(err, authn.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read invitation: %w", err)
	}
	return inv.RequirePassword, nil
}

// passwordMissing reports whether the invitation's enrollment p may not
// finish yet: its invitation requires a password and the local person
// has none.
func (s *Service) passwordMissing(ctx context.Context, p authn.EnrollPending) (bool, error) {
	if p.Session != (authn.SessionHash{}) {
		return false, nil
	}
	u, err := s.cfg.Store.GetUser(ctx, p.UserID)
	if err != nil {
		return false, fmt.Errorf("read person: %w", err)
	}
	state, err := s.PasswordState(ctx, u)
	if err != nil || !state.Local || state.Has {
		return false, err
	}
	return s.passwordRequired(ctx, p.UserID)
}

// checkNewPassword refuses a password a person may not choose: shorter
// than authn.MinPasswordLength, too long, or common (NIST SP 800-63B-4
// §3.1.1.2: length and a blocklist, no composition rules).
func checkNewPassword(pw string) error {
	err := authn.CheckNewPassword(pw)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, authn.ErrPasswordCommon):
		return refuseMsg(ReasonPasswordWeak, msgPasswordCommon, err)
	case errors.Is(err, authn.ErrPasswordTooLong):
		return refuseMsg(ReasonPasswordWeak, msgPasswordLong, err)
	}
	return refuseMsg(ReasonPasswordWeak, msgPasswordShort, err)
}

// storePassword hashes pw (argon2id, Config.Argon2) and stores it for u
// with an audit event of action.
func (s *Service) storePassword(ctx context.Context, u authn.User, pw, action string, c authn.ClientInfo) error {
	phc, err := authn.HashPassword(pw, s.cfg.Argon2)
	if err != nil {
		return err
	}
	ev := authn.AuditEvent{Time: s.now(), Actor: "user:" + u.ID, Action: action, Subject: "user:" + u.ID, ClientAddr: c.Addr}
	if err := s.cfg.Store.SetPasswordHash(ctx, u.ID, phc, ev); err != nil {
		return fmt.Errorf("store password: %w", err)
	}
	return nil
}

// SetPassword sets the password of a local person in her invitation's
// enrollment, after her first factor is stored (so that the password,
// like at sign-in, follows a possession factor): at least
// authn.MinPasswordLength characters, not on the list of common
// passwords, hashed with argon2id. It is refused for a directory person
// (her password is the directory's), for one who has a password already
// (she changes it on /account: ChangePassword) and in a self-service
// enrollment.
func (s *Service) SetPassword(ctx context.Context, id []byte, pw string, c authn.ClientInfo) (Progress, error) {
	p, pr, err := s.step(ctx, id, authn.ScopeAll) // an invitation's
	if err != nil {
		return pr, err
	}
	// A failed read or write ends nothing: she tries again where she was
	// (keepOn), as at the factor steps.
	u, rules, err := s.person(ctx, p.UserID)
	if err != nil {
		return s.keepOn(ctx, p, err)
	}
	state, err := s.PasswordState(ctx, u)
	switch {
	case err != nil:
		return s.keepOn(ctx, p, err)
	case !state.Local:
		return s.retry(ctx, p, refuseMsg(ReasonNoLocalPassword, msgPasswordDirectory, fmt.Errorf("%s is a directory person", u.Username)))
	case rules.NoPassword():
		return s.retry(ctx, p, refuseMsg(ReasonScope, msgPasswordNotUsed, fmt.Errorf("%s signs in without a password (her groups' NoPassword)", u.Username)))
	case p.Session != (authn.SessionHash{}) || state.Has:
		return s.retry(ctx, p, refuseMsg(ReasonScope, msgNotThisEnrollment, fmt.Errorf("set a password in an enrollment (self-service %t, has one %t)", p.Session != (authn.SessionHash{}), state.Has)))
	case p.InvitationID != "":
		return s.retry(ctx, p, refuseMsg(ReasonNoFactor, msgPasswordNeedsFactor, errors.New("no factor yet")))
	}
	if err := checkNewPassword(pw); err != nil {
		return s.retry(ctx, p, err)
	}
	if err := s.storePassword(ctx, u, pw, "password.set", c); err != nil {
		return s.keepOn(ctx, p, err)
	}
	return s.put(ctx, p, IdleTTL, time.Time{})
}

// ChangePassword sets a new password for the local person signed in with
// sess, from /account: only with a sign-in at most FreshSignIn old that
// did not come from a recovery code (a recovery code and a phished
// password must not lock the owner out). A person without a password (who
// signs in with a key and its PIN) sets her first one the same way.
func (s *Service) ChangePassword(ctx context.Context, sess authn.Session, pw string, c authn.ClientInfo) error {
	u, rules, err := s.person(ctx, sess.UserID)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	if err := statusRefusal(u); err != nil {
		return err
	}
	live, err := s.liveSession(ctx, sess.Hash, u.ID)
	if err != nil {
		return err
	}
	if err := signInFresh(live, s.now()); err != nil {
		return err
	}
	if live.RecoveryOnly {
		return refuseMsg(ReasonScope, msgPasswordRecoveryOnly, errors.New("a recovery-only session tried to change the password"))
	}
	if u.Source == authn.SourceDirectory {
		return refuseMsg(ReasonNoLocalPassword, msgPasswordDirectory, fmt.Errorf("%s is a directory person", u.Username))
	}
	if rules.NoPassword() {
		return refuseMsg(ReasonScope, msgPasswordNotUsed, fmt.Errorf("%s signs in without a password (her groups' NoPassword)", u.Username))
	}
	if err := checkNewPassword(pw); err != nil {
		return err
	}
	return s.storePassword(ctx, u, pw, "password.change", c)
}

// needPassword refuses a step that adds what needs a password at sign-in
// (recovery codes, an app) while the person has none Keyhall can check.
// In an invitation's enrollment a local person may add an app before
// her password: the enrollment asks for it next (Offer.SetPassword).
func (s *Service) needPassword(ctx context.Context, p authn.EnrollPending) error {
	u, rules, err := s.person(ctx, p.UserID)
	if err != nil {
		return err
	}
	if rules.NoPassword() && u.Source == authn.SourceLocal {
		return nil // codes and an app sign her in alone
	}
	state, err := s.PasswordState(ctx, u)
	switch {
	case err != nil:
		return err
	case state.Has:
		return nil
	case state.Local:
		return refuseMsg(ReasonPasswordNeeded, msgPasswordFirst, fmt.Errorf("%s has no password", u.Username))
	}
	return refuseMsg(ReasonPasswordNeeded, msgPasswordImpossible, fmt.Errorf("%s: no directory to check her password", u.Username))
}
