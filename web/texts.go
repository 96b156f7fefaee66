package web

import "fmt"

// texts are the words on Keyhall's pages, by key, German first. Templates
// read them with {{t .Lang "key"}}; an unknown key fails the page (and its
// test) instead of showing a blank.
var texts = map[string]message{
	"skip":      {"Zum Inhalt springen", "Skip to content"},
	"lang.nav":  {"Sprache", "Language"},
	"lang.name": {"Deutsch", "English"},
	"or":        {"oder", "or"},
	"continue":  {"Weiter", "Continue"},
	"signin":    {"Anmelden", "Sign in"},
	"signin.as": {"Anmeldung als", "Signing in as"},

	// The footer's links to the city's legal pages (legal.*).
	"legal.nav":     {"Rechtliches", "Legal"},
	"legal.imprint": {"Impressum", "Imprint (Impressum)"},
	"legal.privacy": {"Datenschutz", "Privacy"},

	"login.title":         {"Anmelden", "Sign in"},
	"login.username":      {"Benutzername", "Username"},
	"login.username.hint": {"Ihr Benutzername bei der Stadt, zum Beispiel anna.mueller.", "Your username at the city, for example anna.mueller."},
	"login.passkey":       {"Mit Sicherheitsschlüssel anmelden", "Sign in with a security key"},
	"login.passkey.hint": {"Ohne Benutzernamen: mit einem Schlüssel, der Ihre PIN oder Ihren Fingerabdruck prüft.",
		"Without a username: with a key that checks your PIN or fingerprint."},

	"key.title": {"Sicherheitsschlüssel", "Security key"},
	"key.instructions": {"Stecken Sie Ihren Sicherheitsschlüssel ein oder halten Sie ihn an das Gerät (NFC). Drücken Sie dann auf „Schlüssel verwenden“ und berühren Sie den Schlüssel, wenn er blinkt.",
		"Plug in your security key or hold it to the device (NFC). Then press “Use security key” and touch the key when it flashes."},
	"key.button": {"Schlüssel verwenden", "Use security key"},

	"alt.title":    {"Andere Möglichkeiten", "Other ways to sign in"},
	"alt.key":      {"Sicherheitsschlüssel verwenden", "Use a security key"},
	"alt.totp":     {"Authenticator-App verwenden", "Use an authenticator app"},
	"alt.recovery": {"Wiederherstellungscode verwenden", "Use a recovery code"},
	"alt.restart":  {"Mit einem anderen Benutzernamen anmelden", "Sign in with another username"},

	"totp.title": {"Code aus der App", "Code from your app"},
	"totp.instructions": {"Öffnen Sie Ihre Authenticator-App und geben Sie den sechsstelligen Code für %s ein.",
		"Open your authenticator app and enter the six-digit code for %s."},
	"totp.label": {"Sechsstelliger Code", "Six-digit code"},

	"recovery.title": {"Wiederherstellungscode", "Recovery code"},
	"recovery.instructions": {"Geben Sie einen Ihrer Wiederherstellungscodes ein. Jeder Code gilt nur einmal. Danach können Sie nur einen neuen Schlüssel oder eine neue App einrichten.",
		"Enter one of your recovery codes. Each code works once. Afterwards you can only set up a new key or app."},
	"recovery.label": {"Wiederherstellungscode", "Recovery code"},

	"password.title": {"Passwort", "Password"},
	"password.instructions": {"Der erste Schritt ist geschafft. Bitte geben Sie jetzt Ihr Passwort ein.",
		"The first step is done. Please enter your password now."},
	"password.label": {"Passwort", "Password"},

	"account.title":        {"Ihr Konto", "Your account"},
	"account.who":          {"Angemeldet als", "Signed in as"},
	"account.since":        {"Angemeldet seit", "Signed in since"},
	"account.how":          {"Angemeldet mit", "Signed in with"},
	"account.level":        {"Sicherheitsstufe", "Security level"},
	"account.sessions":     {"Aktive Anmeldungen", "Active sessions"},
	"account.this":         {"dieses Gerät", "this device"},
	"account.started":      {"angemeldet", "signed in"},
	"account.lastseen":     {"zuletzt aktiv", "last active"},
	"account.logout":       {"Hier abmelden", "Sign out here"},
	"account.revoke":       {"Dort abmelden", "Sign out there"},
	"account.signins":      {"Letzte Anmeldungen", "Recent sign-ins"},
	"account.signins.none": {"Keine Anmeldungen aufgezeichnet.", "No sign-ins recorded."},
	"account.for":          {"für", "for"},
	"account.logoutall":    {"Überall abmelden", "Sign out everywhere"},
	"account.logoutall.hint": {"Beendet alle Ihre Anmeldungen, auch auf anderen Geräten.",
		"Ends all your sessions, on other devices too."},
	"account.recoveryonly": {"Sie haben sich mit einem Wiederherstellungscode angemeldet. Bitte richten Sie jetzt einen neuen Sicherheitsschlüssel oder eine neue App ein; bis dahin können Sie keine anderen Dienste nutzen.",
		"You signed in with a recovery code. Please set up a new security key or app now; until then you cannot use other services."},
	"recoveryonly.signinagain": {"Ihr neuer Schlüssel bzw. Ihre neue App ist eingerichtet. Bitte melden Sie sich jetzt damit an: Mit dem Wiederherstellungscode allein können Sie keine anderen Dienste nutzen.",
		"Your new key or app is set up. Please sign in with it now: with the recovery code alone you cannot use other services."},
	"recoveryonly.signin":   {"Jetzt damit anmelden", "Sign in with it now"},
	"recoveryonly.lastcode": {"Das war Ihr letzter Wiederherstellungscode. Richten Sie den neuen Schlüssel oder die App in den nächsten", "That was your last recovery code. Set up the new key or app within the next"},
	"recoveryonly.minutes":  {"Minuten ein; danach hilft nur noch die IT.", "minutes; after that only IT can help."},

	"error.title": {"Das hat nicht geklappt", "That did not work"},
	"error.back":  {"Zur Anmeldung", "Back to sign-in"},

	"email.title": {"E-Mail-Adresse bestätigen", "Confirm your e-mail address"},
	"email.text": {"Mit einem Klick bestätigen Sie, dass diese E-Mail-Adresse Ihnen gehört. Anwendungen, bei denen Sie sich mit Keyhall anmelden, sehen sie dann als bestätigt.",
		"One click confirms that this e-mail address is yours. Applications you sign in to with Keyhall then see it as confirmed."},
	"email.confirm": {"Bestätigen", "Confirm"},
	"email.account": {"Zu Ihrem Konto", "To your account"},

	"freeze.title": {"Das war ich nicht: Konto sperren", "This was not me: freeze your account"},
	"freeze.text": {"Sie haben eine Nachricht über eine Änderung an Ihrem Zugang erhalten. Haben Sie oder der IT-Service das nicht veranlasst, sperren Sie Ihr Konto hier: Alle Anmeldungen werden sofort beendet, offene Einladungen ungültig, und niemand kann sich anmelden oder Anmeldemittel einrichten, bis die IT die Sperre aufhebt.",
		"You got a message about a change to your account. If neither you nor IT made it, freeze your account here: all sessions end at once, open invitations become invalid, and nobody can sign in or set up a sign-in factor until IT lifts the freeze."},
	"freeze.account": {"Konto", "Account"},
	"freeze.confirm": {"Konto jetzt sperren", "Freeze my account now"},
	"freeze.done": {"Ihr Konto ist gesperrt und alle Anmeldungen sind beendet. Bitte wenden Sie sich an die IT; sie prüft den Vorfall und hebt die Sperre auf.",
		"Your account is frozen and all sessions have ended. Please contact IT; they will look into it and lift the freeze."},

	"webauthn.working": {"Bitte berühren Sie jetzt Ihren Sicherheitsschlüssel.", "Please touch your security key now."},
	"webauthn.cancelled": {"Der Schlüssel hat nicht geantwortet oder der Vorgang wurde abgebrochen. Bitte drücken Sie noch einmal auf den Knopf.",
		"The key did not answer or the request was cancelled. Please press the button again."},
	"webauthn.notregistered": {"Ist der Schlüssel nicht mehr registriert (etwa nach einem Zurücksetzen Ihres Zugangs), hilft erneutes Drücken nicht: Melden Sie sich mit einem Wiederherstellungscode an oder wenden Sie sich an den IT-Service.",
		"If the key is no longer registered (for example after your access was reset), pressing again will not help: sign in with a recovery code or contact the IT service."},
	"webauthn.unsupported": {"Dieser Browser kann keine Sicherheitsschlüssel verwenden. Bitte nehmen Sie einen aktuellen Browser oder Ihre Authenticator-App.",
		"This browser cannot use security keys. Please use a current browser or your authenticator app."},
	"webauthn.network": {"Keyhall ist gerade nicht erreichbar. Bitte prüfen Sie die Verbindung und versuchen Sie es noch einmal.",
		"Keyhall cannot be reached right now. Please check the connection and try again."},

	"acr.phrh": {"höchste: Hardware-Schlüssel, sicher gegen Phishing", "highest: hardware key, phishing-resistant"},
	"acr.phr":  {"hoch: sicher gegen Phishing", "high: phishing-resistant"},
	"acr.mfa":  {"mittel: zwei Faktoren", "medium: two factors"},
	"acr.":     {"einfach", "basic"},

	// How a sign-in was made, in plain words (methodWords).
	"method.key":         {"Sicherheitsschlüssel", "security key"},
	"method.passkey":     {"Passkey", "passkey"},
	"method.app":         {"Authenticator-App", "authenticator app"},
	"method.recovery":    {"Wiederherstellungscode", "recovery code"},
	"method.pin":         {"mit PIN oder Fingerabdruck", "with PIN or fingerprint"},
	"method.andpassword": {"und Passwort", "and password"},
	"method.password":    {"Passwort", "password"},
}

// Messages of the sign-in path. Each says what to do next and none tells
// whether a username exists.
var (
	msgExpired = message{
		DE: "Die Anmeldung hat zu lange gedauert. Bitte noch einmal beginnen.",
		EN: "Signing in took too long. Please start again.",
	}
	msgSignedOut = message{
		DE: "Sie sind abgemeldet.",
		EN: "You are signed out.",
	}
	msgSessionRevoked = message{
		DE: "Die Anmeldung auf dem anderen Gerät wurde beendet.",
		EN: "The session on the other device was ended.",
	}
	msgSessionUnknown = message{
		DE: "Diese Anmeldung gibt es nicht (mehr). Bitte laden Sie die Seite neu.",
		EN: "This session does not exist (any more). Please reload the page.",
	}
	msgSignedOutEverywhere = message{
		DE: "Sie sind auf allen Geräten abgemeldet.",
		EN: "You are signed out on all devices.",
	}
	msgKeyNeeded = message{
		DE: "Diese Anwendung verlangt eine Anmeldung mit Ihrem Sicherheitsschlüssel. Bitte halten Sie ihn bereit.",
		EN: "This application needs you to sign in with your security key. Please have it at hand.",
	}
	msgUsernameMissing = message{
		DE: "Bitte geben Sie Ihren Benutzernamen ein.",
		EN: "Please enter your username.",
	}
	msgCodeWrong = message{
		DE: "Der Code ist abgelaufen oder falsch. Bitte den aktuellen Code aus der App eingeben.",
		EN: "The code has expired or is wrong. Please enter the current code from the app.",
	}
	msgCodeReused = message{
		DE: "Dieser Code wurde schon verwendet. Bitte warten Sie auf den nächsten Code in der App und geben Sie ihn ein.",
		EN: "This code was used already. Please wait for the next code in the app and enter it.",
	}
	msgRecoveryWrong = message{
		DE: "Dieser Wiederherstellungscode passt nicht oder wurde schon verwendet. Bitte prüfen Sie die Schreibweise oder nehmen Sie einen anderen Code.",
		EN: "This recovery code does not match or was used before. Please check how it is written or use another code.",
	}
	msgKeyRefused = message{
		DE: "Dieser Sicherheitsschlüssel wurde nicht angenommen. Bitte verwenden Sie den Schlüssel, den Sie bei Keyhall eingerichtet haben.",
		EN: "This security key was not accepted. Please use the key you set up with Keyhall.",
	}
	msgKeyCloned = message{
		DE: "Dieser Sicherheitsschlüssel ist gesperrt, weil er kopiert worden sein könnte. Bitte melden Sie sich anders an und wenden Sie sich an die IT.",
		EN: "This security key is blocked because it may have been copied. Please sign in another way and contact IT.",
	}
	msgUVRequired = message{
		DE: "Bitte bestätigen Sie die Anmeldung am Schlüssel mit Ihrer PIN oder Ihrem Fingerabdruck.",
		EN: "Please confirm the sign-in on your key with its PIN or your fingerprint.",
	}
	msgPasswordWrong = message{
		DE: "Das Passwort stimmt nicht. Bitte geben Sie es noch einmal ein und achten Sie auf die Feststelltaste.",
		EN: "The password is wrong. Please enter it again and mind the caps lock key.",
	}
	msgPolicy = message{
		DE: "Für Ihren Zugang ist eine stärkere Anmeldung vorgeschrieben. Bitte melden Sie sich mit Ihrem Sicherheitsschlüssel an.",
		EN: "Your account needs a stronger sign-in. Please sign in with your security key.",
	}
	msgKeyNotAdmitted = message{
		DE: "Ihr Sicherheitsschlüssel erfüllt nicht, was Ihre Gruppe verlangt (etwa einen von der IT zugelassenen Hardware-Schlüssel). Bitte wenden Sie sich an die IT: Sie richtet Ihnen einen passenden Schlüssel ein.",
		EN: "Your security key does not meet what your group requires (for example a hardware key approved by IT). Please contact IT, who will set up a suitable key for you.",
	}
	msgFrozen = message{
		DE: "Ihr Konto ist gesperrt, weil gemeldet wurde, dass eine Änderung daran nicht von Ihnen kam. Bitte wenden Sie sich an die IT; sie prüft den Vorfall und hebt die Sperre auf.",
		EN: "Your account is frozen because a change to it was reported as not made by you. Please contact IT; they will look into it and lift the freeze.",
	}
	msgDisabled = message{
		DE: "Ihr Zugang ist gesperrt. Bitte wenden Sie sich an die IT.",
		EN: "Your account is locked. Please contact IT.",
	}
	msgDirectoryUnavailable = message{
		DE: "Anmeldung gerade nicht möglich: Das Verzeichnis der Stadt antwortet nicht. Bitte versuchen Sie es in einigen Minuten noch einmal.",
		EN: "Signing in is not possible right now: the city's directory does not answer. Please try again in a few minutes.",
	}
	msgAccountExpired = message{
		DE: "Ihr Zugang ist abgelaufen. Wenn Sie ihn weiter brauchen, wenden Sie sich bitte an die IT.",
		EN: "Your account has expired. If you still need it, please contact IT.",
	}
	msgPasswordMustChange = message{
		DE: "Ihr Passwort ist abgelaufen oder muss geändert werden. Bitte ändern Sie es zuerst an einem Computer der Stadt (Strg+Alt+Entf, „Kennwort ändern“) und melden Sie sich dann mit dem neuen Passwort an.",
		EN: "Your password has expired or must be changed. Please change it first at a city computer (Ctrl+Alt+Del, “Change a password”), then sign in with the new password.",
	}
	msgAccountLocked = message{
		DE: "Ihr Zugang ist nach zu vielen falschen Passwörtern vorübergehend gesperrt. Bitte warten Sie, bis die Sperre abläuft, oder bitten Sie die IT, ihn zu entsperren.",
		EN: "Your account is locked for now after too many wrong passwords. Please wait until the lock ends, or ask IT to unlock it.",
	}
	msgBadRequest = message{
		DE: "Diese Anfrage konnte Keyhall nicht lesen. Bitte laden Sie die Seite neu und versuchen Sie es noch einmal.",
		EN: "Keyhall could not read this request. Please reload the page and try again.",
	}
)

// msgThrottled asks the person to wait for retryMinutes, or to use her key,
// which is never throttled per account, and says what else she can do:
// a browser she signed in on before has counters of its own, and IT can
// lift the lock (the caller adds where IT is reached).
func msgThrottled(retryMinutes int) message {
	wait := message{DE: "1 Minute", EN: "1 minute"}
	if retryMinutes > 1 {
		wait = message{DE: fmt.Sprintf("%d Minuten", retryMinutes), EN: fmt.Sprintf("%d minutes", retryMinutes)}
	}
	return message{
		DE: "Zu viele Versuche. Bitte warten Sie " + wait.DE + " oder melden Sie sich mit Ihrem Sicherheitsschlüssel an. " +
			"Ohne Schlüssel: Melden Sie sich auf einem Gerät an, auf dem Sie sich schon einmal angemeldet haben, oder bitten Sie die IT, die Sperre aufzuheben.",
		EN: "Too many attempts. Please wait " + wait.EN + " or sign in with your security key. " +
			"Without a key: sign in on a device you have signed in on before, or ask IT to lift the lock.",
	}
}
