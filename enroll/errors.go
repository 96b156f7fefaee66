package enroll

import (
	"errors"
	"fmt"
	"time"
)

// Reason tells why enrollment refused something.
type Reason string

// Reasons a key or a step is refused.
const (
	ReasonUntrusted   Reason = "untrusted"    // no attestation, or not chaining to a trusted root
	ReasonCertExpired Reason = "cert-expired" // the attestation certificate is outside its validity
	ReasonModel       Reason = "model"        // AAGUID not on the group's list, or not matching the certificate
	ReasonSynced      Reason = "synced"       // backup-eligible (synced passkey) where refused
	ReasonCompromised Reason = "compromised"  // FIDO's metadata reports the model compromised, where refused
	// ReasonModelUnproven: where compromised models are refused, the key's
	// model was not proven by an attestation chaining to a trusted root
	// ("none" or self attestation, or a maker no root vouches for).
	ReasonModelUnproven Reason = "model-unproven"
	ReasonUV            Reason = "uv"             // the key did not verify the person where required
	ReasonDuplicate     Reason = "duplicate"      // credential id already registered
	ReasonIDTooLong     Reason = "id-too-long"    // credential id longer than 1023 bytes
	ReasonAlgorithm     Reason = "algorithm"      // public key algorithm not ES256, EdDSA or RS256
	ReasonInvalid       Reason = "invalid"        // the response does not verify (signature, challenge, origin)
	ReasonTOTPForbidden Reason = "totp-forbidden" // the group does not admit an app (alone)
	ReasonWrongCode     Reason = "wrong-code"     // wrong or malformed invitation or app code
	ReasonExpired       Reason = "expired"        // invitation or enrollment step expired
	ReasonUsed          Reason = "used"           // invitation used or replaced by a newer one
	ReasonThrottled     Reason = "throttled"      // too many tries: wait RetryAfter
	ReasonWrongPassword Reason = "wrong-password" // directory password wrong
	ReasonDisabled      Reason = "disabled"       // the person may not sign in
	ReasonNoFactor      Reason = "no-factor"      // a key must be registered before this step
	ReasonNickname      Reason = "nickname"       // a nickname empty, too long or with control characters
	ReasonLastFactor    Reason = "last-factor"    // removing it would leave the person without a factor
	ReasonKeyNeeded     Reason = "key-needed"     // removing it would leave only an app where a key is required
	ReasonScope         Reason = "scope"          // the enrollment, or the sign-in that opened it, may not add this
	ReasonSignIn        Reason = "sign-in"        // the sign-in of a self-service enrollment ended, or was not fresh when it opened
	ReasonKeyLevel      Reason = "key-level"      // removing a key needs a sign-in at least at the key's level
	// ReasonDirectoryUnavailable: the directory did not answer; try later.
	ReasonDirectoryUnavailable Reason = "directory-unavailable"
	// ReasonDirectoryAccount: the directory refuses the account for now
	// (expired, password must be changed, locked out); the message says what to do.
	ReasonDirectoryAccount Reason = "directory-account"
)

// Error is a refusal a person can act on: DE and EN say, in her language,
// what happened and what is needed; Err is the cause, for the log only.
// Match it with errors.As. Any other error from this package means the
// storage is unavailable (the web layer answers 503).
type Error struct {
	Reason     Reason
	Group      string        // the group whose policy refused, "" when none
	DE, EN     string        // messages for the person
	RetryAfter time.Duration // with ReasonThrottled
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("enroll: %s: %s: %v", e.Reason, e.EN, e.Err)
	}
	return fmt.Sprintf("enroll: %s: %s", e.Reason, e.EN)
}

func (e *Error) Unwrap() error { return e.Err }

// IsReason reports whether err is an *Error with reason r.
func IsReason(err error, r Reason) bool {
	var e *Error
	return errors.As(err, &e) && e.Reason == r
}

func refuse(r Reason, de, en string, cause error) *Error {
	return &Error{Reason: r, DE: de, EN: en, Err: cause}
}

// Messages for the refusals that do not depend on a group.
var (
	msgInvitationWrong = [2]string{
		"Der Einladungslink oder der Code stimmt nicht. Bitte prüfen Sie Ihre Eingabe oder wenden Sie sich an den IT-Service.",
		"The invitation link or code is not right. Please check what you typed or contact the IT service desk.",
	}
	msgInvitationExpired = [2]string{
		"Ihre Einladung ist abgelaufen. Der IT-Service stellt Ihnen gern eine neue aus.",
		"Your invitation has expired. The IT service desk will gladly issue a new one.",
	}
	msgInvitationUsed = [2]string{
		"Diese Einladung wurde schon verwendet oder durch eine neuere ersetzt. Melden Sie sich an oder bitten Sie den IT-Service um eine neue Einladung.",
		"This invitation was used already or replaced by a newer one. Sign in, or ask the IT service desk for a new invitation.",
	}
	msgStepExpired = [2]string{
		"Dieser Schritt hat zu lange gedauert. Bitte öffnen Sie Ihren Einladungslink noch einmal.",
		"This step took too long. Please open your invitation link again.",
	}
	msgThrottled = [2]string{
		"Zu viele Versuche. Bitte warten Sie einige Minuten und versuchen Sie es dann erneut.",
		"Too many attempts. Please wait a few minutes, then try again.",
	}
	msgWrongPassword = [2]string{
		"Das Passwort stimmt nicht. Verwenden Sie das Passwort Ihres Dienstkontos.",
		"The password is not right. Use the password of your work account.",
	}
	msgDisabled = [2]string{
		"Ihr Konto ist gesperrt. Bitte wenden Sie sich an den IT-Service.",
		"Your account is disabled. Please contact the IT service desk.",
	}
	msgDirectoryUnavailable = [2]string{
		"Gerade nicht möglich: Das Verzeichnis der Stadt antwortet nicht. Bitte versuchen Sie es in einigen Minuten noch einmal.",
		"Not possible right now: the city's directory does not answer. Please try again in a few minutes.",
	}
	msgAccountExpired = [2]string{
		"Ihr Zugang ist laut Verzeichnis der Stadt abgelaufen. Wenn Sie ihn weiter brauchen, wenden Sie sich bitte an die IT.",
		"Your account has expired in the city's directory. If you still need it, please contact IT.",
	}
	msgPasswordMustChange = [2]string{
		"Ihr Passwort ist abgelaufen oder muss geändert werden. Bitte ändern Sie es zuerst an einem Computer der Stadt (Strg+Alt+Entf, „Kennwort ändern“) und geben Sie dann das neue Passwort ein.",
		"Your password has expired or must be changed. Please change it first at a city computer (Ctrl+Alt+Del, “Change a password”), then enter the new password.",
	}
	msgAccountLocked = [2]string{
		"Ihr Zugang ist nach zu vielen falschen Passwörtern vorübergehend gesperrt. Bitte warten Sie, bis die Sperre abläuft, oder bitten Sie die IT, ihn zu entsperren.",
		"Your account is locked for now after too many wrong passwords. Please wait until the lock ends, or ask IT to unlock it.",
	}
	msgWrongTOTP = [2]string{
		"Der Code aus der App stimmt nicht. Prüfen Sie, ob die Uhrzeit Ihres Geräts stimmt, und geben Sie den aktuellen Code ein.",
		"The code from the app is not right. Check that your device's clock is right and enter the current code.",
	}
	msgNoFactor = [2]string{
		"Bitte registrieren Sie zuerst einen Sicherheitsschlüssel.",
		"Please register a security key first.",
	}
	msgDuplicate = [2]string{
		"Dieser Schlüssel ist bereits registriert. Sie können ihn schon zum Anmelden verwenden.",
		"This key is registered already. You can already use it to sign in.",
	}
	msgIDTooLong = [2]string{
		"Dieser Schlüssel liefert eine zu lange Kennung (mehr als 1023 Bytes) und kann nicht registriert werden.",
		"This key sends an identifier that is too long (over 1023 bytes) and cannot be registered.",
	}
	msgAlgorithm = [2]string{
		"Dieser Schlüssel verwendet ein Verfahren, das Keyhall nicht annimmt (zulässig sind ES256, EdDSA und RS256).",
		"This key uses a method Keyhall does not accept (allowed: ES256, EdDSA and RS256).",
	}
	msgNickname = [2]string{
		"Bitte geben Sie einen Namen mit 1 bis 64 Zeichen ein, ohne Steuerzeichen.",
		"Please enter a name of 1 to 64 characters, without control characters.",
	}
	msgLastFactor = [2]string{
		"Das ist Ihre letzte Anmeldemethode. Fügen Sie zuerst eine weitere hinzu.",
		"This is your last sign-in method. Add another one first.",
	}
	msgKeyNeeded = [2]string{
		"Ihre Gruppe verlangt einen Sicherheitsschlüssel. Fügen Sie zuerst einen weiteren Schlüssel hinzu.",
		"Your group requires a security key. Add another key first.",
	}
	msgKeyNeedsKey = [2]string{
		"Einen Sicherheitsschlüssel können Sie hier nur hinzufügen, wenn Sie sich mit einem Sicherheitsschlüssel oder einem Wiederherstellungscode angemeldet haben. Sonst erhalten Sie von der IT eine neue Einladung.",
		"You can add a security key here only after signing in with a security key or a recovery code. Otherwise, IT will send you a new invitation.",
	}
	msgCodesNotFromCode = [2]string{
		"Sie haben sich mit einem Wiederherstellungscode angemeldet und können jetzt nur einen neuen Schlüssel oder eine neue App hinzufügen.",
		"You signed in with a recovery code and can only add a new key or app now.",
	}
	msgCodesNeedKey = [2]string{
		"Neue Wiederherstellungscodes erhalten Sie nur nach einer Anmeldung mit einem Sicherheitsschlüssel.",
		"You can get new recovery codes only after signing in with a security key.",
	}
	msgSignInTooWeak = [2]string{
		"Dafür reicht Ihre Anmeldung nicht aus. Bitte melden Sie sich mit einem Sicherheitsschlüssel an.",
		"Your sign-in is not enough for this. Please sign in with a security key.",
	}
	msgNotThisEnrollment = [2]string{
		"Das gehört nicht zu dem, was Sie begonnen haben. Bitte beginnen Sie auf der Seite Ihrer Anmeldemethoden neu.",
		"This is not part of what you started. Please start again from the page of your sign-in methods.",
	}
	msgSignInEnded = [2]string{
		"Ihre Anmeldung ist beendet oder liegt zu lange zurück. Bitte melden Sie sich erneut an und beginnen Sie noch einmal.",
		"Your sign-in has ended or is too long ago. Please sign in again and start over.",
	}
	msgEnrollmentEnded = [2]string{
		"Diese Einrichtung ist beendet (eine Stunde nach Ihrem ersten Schlüssel oder Ihrer ersten App, oder nach 30 Minuten ohne Eingabe). Ihr Zugang ist eingerichtet: Bitte melden Sie sich mit Ihrem Schlüssel oder Ihrer App an und fahren Sie unter /account fort.",
		"This setup has ended (an hour after your first key or app, or after 30 minutes without input). Your access is set up: please sign in with your key or app and continue at /account.",
	}
	msgEnrollmentEndedNoAccess = [2]string{
		"Diese Einrichtung ist beendet (nach 30 Minuten ohne Eingabe, oder eine Stunde nach Ihrem ersten Schlüssel oder Ihrer ersten App). Mit dem, was Sie eingerichtet haben, können Sie sich noch nicht anmelden: Bitte wenden Sie sich an die IT und bitten Sie um eine neue Einladung.",
		"This setup has ended (after 30 minutes without input, or an hour after your first key or app). What you have set up cannot sign you in yet: please ask IT for a new invitation.",
	}
	msgSelfServiceEnded = [2]string{
		"Das Hinzufügen hat zu lange gedauert. Bitte beginnen Sie auf der Seite Ihrer Anmeldemethoden neu.",
		"Adding took too long. Please start again from the page of your sign-in methods.",
	}
	msgRemoveNeedsLevel = [2]string{
		"Diesen Schlüssel können Sie nur entfernen, wenn Sie sich mit einem ebenso sicheren Schlüssel angemeldet haben.",
		"You can remove this key only after signing in with a key at least as secure.",
	}
	msgInvalid = [2]string{
		"Der Schlüssel hat die Registrierung nicht gültig bestätigt. Bitte versuchen Sie es noch einmal.",
		"The key did not confirm the registration validly. Please try again.",
	}
)

func refuseMsg(r Reason, msg [2]string, cause error) *Error {
	return refuse(r, msg[0], msg[1], cause)
}
