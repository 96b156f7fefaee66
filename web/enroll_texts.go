package web

import "fmt"

// enrollTexts are the words on the enrollment pages and /account/factors,
// German first; translate looks here after texts.
var enrollTexts = map[string]message{
	"enroll.title": {"Zugang einrichten", "Set up your access"},
	"enroll.welcome": {"Willkommen bei %s. Hier richten Sie Ihren Zugang ein: Sie bestätigen die Einladung und registrieren einen Sicherheitsschlüssel (oder eine App); je nach Zugang legen Sie danach ein Passwort fest und bewahren Wiederherstellungscodes auf.",
		"Welcome to %s. Set up your access here: confirm the invitation and register a security key (or an app); depending on your access, you then choose a password and keep recovery codes."},
	"enroll.for":           {"Einladung für", "Invitation for"},
	"enroll.start":         {"Einrichtung beginnen", "Begin set-up"},
	"enroll.username":      {"Benutzername", "Username"},
	"enroll.username.hint": {"So, wie er in Ihrem Brief steht, zum Beispiel anna.mueller.", "As written in your letter, for example anna.mueller."},
	"enroll.code":          {"Einladungscode", "Invitation code"},
	"enroll.code.hint": {"16 Zeichen aus Ihrem Brief, zum Beispiel K7XM-4RPQ-9TWD-3HNA. Groß- und Kleinschreibung und Bindestriche sind egal.",
		"16 characters from your letter, for example K7XM-4RPQ-9TWD-3HNA. Case and dashes do not matter."},
	"enroll.password": {"Passwort Ihres Dienstkontos", "Password of your work account"},
	"enroll.password.hint": {"Das Passwort, mit dem Sie sich am Dienstrechner anmelden. Wenn Sie kein Dienstkonto haben, lassen Sie das Feld leer.",
		"The password you use on your work computer. If you have no work account, leave it empty."},

	"enroll.choose.title": {"Womit möchten Sie sich anmelden?", "How do you want to sign in?"},
	"enroll.choose.intro": {"Ein Sicherheitsschlüssel (zum Beispiel ein YubiKey) ist die sicherste Wahl. Eine Authenticator-App auf dem Smartphone geht auch, wo Ihre Organisation es erlaubt.",
		"A security key (for example a YubiKey) is the safest choice. An authenticator app on your phone works too, where your organisation allows it."},
	"enroll.choose.key":         {"Sicherheitsschlüssel registrieren", "Register a security key"},
	"enroll.choose.recommended": {"empfohlen", "recommended"},
	"enroll.choose.app":         {"Authenticator-App einrichten", "Set up an authenticator app"},

	"enroll.key.title": {"Sicherheitsschlüssel registrieren", "Register a security key"},
	"enroll.key.instructions": {"Stecken Sie Ihren Sicherheitsschlüssel ein oder halten Sie ihn an das Gerät (NFC). Drücken Sie dann auf „Schlüssel registrieren“ und berühren Sie den Schlüssel, wenn er blinkt. Hat er eine PIN, werden Sie danach gefragt.",
		"Plug in your security key or hold it to the device (NFC). Then press “Register key” and touch the key when it flashes. If it has a PIN, you will be asked for it."},
	"enroll.key.nickname":      {"Name für diesen Schlüssel (freiwillig)", "Name for this key (optional)"},
	"enroll.key.nickname.hint": {"Zum Beispiel „Schlüsselbund“ oder „Ersatz in der Schublade“.", "For example “key ring” or “spare in the drawer”."},
	"enroll.key.button":        {"Schlüssel registrieren", "Register key"},
	"enroll.key.instead":       {"Stattdessen Authenticator-App einrichten", "Set up an authenticator app instead"},

	"enroll.app.title": {"Authenticator-App einrichten", "Set up an authenticator app"},
	"enroll.app.scan": {"Öffnen Sie Ihre Authenticator-App (zum Beispiel FreeOTP, Aegis, Google oder Microsoft Authenticator) und scannen Sie diesen QR-Code.",
		"Open your authenticator app (for example FreeOTP, Aegis, Google or Microsoft Authenticator) and scan this QR code."},
	"enroll.app.qr":        {"QR-Code für die Authenticator-App", "QR code for the authenticator app"},
	"enroll.app.open":      {"In Authenticator-App öffnen", "Open in authenticator app"},
	"enroll.app.open.hint": {"Ist die App auf diesem Gerät? Dann tippen Sie hier, statt den QR-Code zu scannen.", "Is the app on this device? Then tap here instead of scanning the QR code."},
	"enroll.app.manual":    {"Kein Scan möglich? Geben Sie diesen Einrichtungscode in der App von Hand ein (zeitbasiert, 6 Stellen):", "Cannot scan? Type this set-up code into the app by hand (time-based, 6 digits):"},
	"enroll.app.once":      {"Der Einrichtungscode wird nur während dieser Einrichtung angezeigt. Geben Sie ihn niemandem weiter.", "The set-up code is shown only during this set-up. Do not give it to anyone."},
	"enroll.app.code":      {"Sechsstelliger Code aus der App", "Six-digit code from the app"},
	"enroll.app.code.hint": {"Zur Bestätigung: geben Sie den Code ein, den die App jetzt anzeigt.", "To confirm, enter the code the app shows now."},
	"enroll.app.nickname":  {"Name für diese App (freiwillig)", "Name for this app (optional)"},
	"enroll.app.confirm":   {"App bestätigen", "Confirm app"},
	"enroll.app.restart":   {"Neuen QR-Code anzeigen", "Show a new QR code"},
	"enroll.app.restart.hint": {"Ein neuer QR-Code bringt einen neuen Einrichtungscode: Ein Eintrag, den Sie schon in Ihrer App angelegt haben, funktioniert dann nicht mehr. Löschen Sie ihn in der App und scannen Sie den neuen QR-Code.",
		"A new QR code brings a new set-up code: an entry you already made in your app will then stop working. Delete it in the app and scan the new QR code."},

	"enroll.added.title.key":      {"Schlüssel registriert", "Key registered"},
	"enroll.added.title.app":      {"App eingerichtet", "App set up"},
	"enroll.added.title.password": {"Passwort gespeichert", "Password saved"},
	"enroll.added.password":       {"Weiter: Passwort festlegen", "Next: choose your password"},
	"enroll.added.nocodes": {"Wiederherstellungscodes brauchen bei der Anmeldung ein Passwort, das Keyhall prüfen kann. Registrieren Sie deshalb bitte einen zweiten Schlüssel mit PIN als Ersatz.",
		"Recovery codes need a password at sign-in that Keyhall can check. So please register a second key with a PIN as a spare."},
	"enroll.added.finish": {"Einrichtung abschließen", "Finish set-up"},
	"enroll.password.required": {"Ihr IT-Service verlangt ein Passwort: Ohne Passwort lässt sich die Einrichtung nicht abschließen.",
		"Your IT service requires a password: without one, the setup cannot be finished."},
	"enroll.password.title": {"Passwort festlegen", "Choose your password"},
	"enroll.password.why": {"Mit der Authenticator-App, einem Wiederherstellungscode oder einem Schlüssel ohne PIN fragt Keyhall bei der Anmeldung zusätzlich nach einem Passwort. Legen Sie es jetzt fest.",
		"With the authenticator app, a recovery code or a key without a PIN, Keyhall also asks for a password at sign-in. Choose it now."},
	"enroll.password.new":    {"Neues Passwort", "New password"},
	"enroll.password.repeat": {"Neues Passwort noch einmal", "New password again"},
	"enroll.password.rules": {"Mindestens 12 Zeichen, gern ein ganzer Satz. Keine Regeln für Ziffern oder Sonderzeichen; nur bekannte und gestohlene Passwörter lehnt Keyhall ab.",
		"At least 12 characters; a whole sentence is fine. No rules about digits or symbols; Keyhall only refuses well-known and stolen passwords."},
	"enroll.password.button":  {"Passwort speichern", "Save password"},
	"account.password.change": {"Passwort ändern", "Change your password"},
	"factors.nopassword": {"Eine Authenticator-App und Wiederherstellungscodes brauchen bei der Anmeldung ein Passwort. Legen Sie es auf der Seite „Ihr Konto“ fest; ist Ihr Zugang aus dem Verzeichnis der Verwaltung, fragen Sie die IT.",
		"An authenticator app and recovery codes need a password at sign-in. Choose one on the “Your account” page; if your account comes from the administration's directory, ask IT."},
	"account.password.fresh": {"Dazu muss Ihre Anmeldung frisch sein (höchstens fünf Minuten alt), sonst melden Sie sich zuerst noch einmal an.",
		"Your sign-in must be fresh for this (at most five minutes old); otherwise you sign in again first."},
	"enroll.added.model":   {"Modell", "Model"},
	"enroll.added.unknown": {"nicht bekannt", "not known"},
	"enroll.added.name":    {"Name", "Name"},
	"enroll.added.spare": {"Tipp: Registrieren Sie einen zweiten Schlüssel als Ersatz und bewahren Sie ihn an einem sicheren Ort auf.",
		"Tip: register a second key as a spare and keep it in a safe place."},
	"enroll.added.another": {"Weiteren Schlüssel registrieren", "Register another key"},
	"enroll.added.next":    {"Weiter: Wiederherstellungscodes", "Next: recovery codes"},
	"enroll.added.back":    {"Zurück zu Ihren Anmeldemethoden", "Back to your sign-in methods"},

	"enroll.codes.title": {"Ihre Wiederherstellungscodes", "Your recovery codes"},
	"enroll.codes.intro": {"Mit einem dieser Codes kommen Sie an Ihr Konto, wenn Schlüssel und App fehlen, und können dann einen neuen Schlüssel einrichten. Jeder Code gilt einmal. Drucken Sie die Codes aus oder schreiben Sie sie ab und bewahren Sie sie getrennt von Ihrem Schlüssel auf.",
		"With one of these codes you can reach your account when key and app are missing, and then set up a new key. Each code works once. Print the codes or write them down, and keep them apart from your key."},
	"enroll.codes.once":   {"Die Codes werden nur dieses eine Mal angezeigt.", "The codes are shown this one time only."},
	"enroll.codes.print":  {"Codes drucken", "Print codes"},
	"enroll.codes.sheet":  {"Wiederherstellungscodes für %s", "Recovery codes for %s"},
	"enroll.codes.stored": {"Ich habe die Codes sicher aufbewahrt", "I have stored the codes safely"},
	"enroll.codes.done":   {"Fertig", "Done"},

	"enroll.done.title": {"Ihr Zugang ist eingerichtet", "Your access is set up"},
	"enroll.done.text":  {"Sie können sich jetzt mit Ihrem Schlüssel oder Ihrer App anmelden.", "You can now sign in with your key or app."},

	"enroll.invalid.title": {"Diese Einladung gilt nicht mehr", "This invitation is no longer valid"},
	"enroll.invalid.help": {"Bitte wenden Sie sich an den IT-Service und bitten Sie um einen neuen Einladungsbrief. Haben Sie Ihren Zugang schon eingerichtet, melden Sie sich einfach an.",
		"Please contact the IT service desk and ask for a new invitation letter. If you have set up your access already, just sign in."},

	"factors.title":    {"Ihre Anmeldemethoden", "Your sign-in methods"},
	"factors.manage":   {"Anmeldemethoden verwalten", "Manage sign-in methods"},
	"factors.key":      {"Sicherheitsschlüssel", "Security key"},
	"factors.app":      {"Authenticator-App", "Authenticator app"},
	"factors.added":    {"hinzugefügt", "added"},
	"factors.lastused": {"zuletzt verwendet", "last used"},
	"factors.remove":   {"Entfernen", "Remove"},
	"factors.rename":   {"Umbenennen", "Rename"},
	"factors.nickname": {"Name", "Name"},
	"factors.addkey":   {"Weiteren Sicherheitsschlüssel hinzufügen", "Add another security key"},
	"factors.addapp":   {"Authenticator-App hinzufügen", "Add an authenticator app"},
	"factors.codes":    {"Neue Wiederherstellungscodes erzeugen", "Make new recovery codes"},
	"factors.keyneedskey": {"Einen Sicherheitsschlüssel hinzufügen oder neue Wiederherstellungscodes erhalten können Sie, wenn Sie sich mit einem Sicherheitsschlüssel angemeldet haben (oder, wenn Ihr Schlüssel verloren ist, mit einem Wiederherstellungscode). So kann niemand, der Ihr Passwort und einen App-Code abgefangen hat, einen eigenen Schlüssel anmelden. Ohne Schlüssel und Codes hilft Ihnen der IT-Service.",
		"You can add a security key or get new recovery codes when you signed in with a security key (or, if your key is lost, with a recovery code). That way nobody who caught your password and an app code can register a key of their own. Without a key and codes, the IT service desk helps you."},
	"factors.codes.hint": {"Die bisherigen Codes werden damit ungültig.", "Your current codes stop working."},
	"factors.fresh": {"Zum Ändern werden Sie gebeten, sich erneut anzumelden, wenn Ihre Anmeldung länger als 5 Minuten zurückliegt.",
		"To change anything, you are asked to sign in again when you signed in more than 5 minutes ago."},
	"factors.account": {"Zurück zu Ihrem Konto", "Back to your account"},

	"factors.addedon":          {"hinzugefügt am", "added on"},
	"factors.model.unverified": {"(Modell laut Schlüssel, nicht geprüft)", "(model as the key reports it, not verified)"},
	"factors.codeslabel":       {"Wiederherstellungscodes", "Recovery codes"},
	"factors.codesleft":        {"unbenutzt übrig", "unused left"},
	"factors.codesnone":        {"keine mehr übrig", "none left"},
	"factors.remove.ask":       {"Wirklich entfernen?", "Remove it?"},
	"factors.remove.hint":      {"Danach können Sie sich damit nicht mehr anmelden.", "You can no longer sign in with it afterwards."},
	"factors.remove.yes":       {"Ja, entfernen", "Yes, remove"},
	"factors.remove.no":        {"Abbrechen", "Cancel"},
}

// Messages of the enrollment pages.
var (
	msgEnrollFormMissing = message{
		DE: "Bitte geben Sie Ihren Benutzernamen und den Einladungscode aus Ihrem Brief ein.",
		EN: "Please enter your username and the invitation code from your letter.",
	}
	msgEnrollLinkWrong = message{
		DE: "Diesen Einladungslink kennt Keyhall nicht. Bitte prüfen Sie, ob Sie ihn vollständig übernommen haben.",
		EN: "Keyhall does not know this invitation link. Please check that you copied all of it.",
	}
	msgEnrollLinkUsed = message{
		DE: "Diese Einladung wurde schon verwendet oder durch eine neuere ersetzt.",
		EN: "This invitation was used already or replaced by a newer one.",
	}
	msgEnrollResumed = message{
		DE: "Ihre Einrichtung ist gespeichert, so weit Sie gekommen sind. Hier geht es weiter.",
		EN: "Your set-up is saved as far as you got. Carry on here.",
	}
	msgEnrollLinkExpired = message{
		DE: "Diese Einladung ist abgelaufen.",
		EN: "This invitation has expired.",
	}
	msgCodesNotKept = message{
		DE: "Die Zeit für diesen Schritt ist abgelaufen. Ihre ersten Wiederherstellungscodes sind gespeichert und gelten. Sollten die eben gezeigten Codes aber bisherige ersetzen, wurden sie nicht gespeichert: Ihre bisherigen Codes gelten weiter, bewahren Sie sie auf. Neue Codes erhalten Sie nach der Anmeldung unter „Anmeldemethoden“.",
		EN: "The time for this step ran out. Your first recovery codes are stored and work. But if the codes just shown were to replace earlier ones, they were not stored: your earlier codes still work, so keep them. You can get new codes under \"Sign-in methods\" after signing in.",
	}
	msgEnrollConfirmCodes = message{
		DE: "Bitte bestätigen Sie, dass Sie die Wiederherstellungscodes sicher aufbewahrt haben.",
		EN: "Please confirm that you have stored the recovery codes safely.",
	}
	msgFactorCodesDone = message{
		DE: "Ihre neuen Wiederherstellungscodes gelten ab sofort.",
		EN: "Your new recovery codes work from now on.",
	}
	msgFactorRemoved = message{
		DE: "Die Anmeldemethode wurde entfernt.",
		EN: "The sign-in method was removed.",
	}
	msgFactorRenamed = message{
		DE: "Die Anmeldemethode wurde umbenannt.",
		EN: "The sign-in method was renamed.",
	}
	msgFactorNickname = message{
		DE: "Bitte geben Sie einen Namen mit 1 bis 64 Zeichen ein, ohne Steuerzeichen.",
		EN: "Please enter a name of 1 to 64 characters, without control characters.",
	}
	msgFactorUnknown = message{
		DE: "Diese Anmeldemethode gibt es nicht (mehr). Bitte laden Sie die Seite neu.",
		EN: "This sign-in method does not exist (any more). Please reload the page.",
	}
	msgFactorRemoveNeedsLevel = message{
		DE: "Diesen Schlüssel können Sie nur entfernen, wenn Sie sich mit einem ebenso sicheren Schlüssel angemeldet haben. Bitte melden Sie sich mit einem Sicherheitsschlüssel an.",
		EN: "You can remove this key only after signing in with a key at least as secure. Please sign in with a security key.",
	}
	msgFactorLast = message{
		DE: "Das ist Ihre letzte Anmeldemethode. Fügen Sie zuerst eine andere hinzu, dann können Sie diese entfernen.",
		EN: "This is your last sign-in method. Add another one first, then you can remove this one.",
	}
	msgFactorKeyNeeded = message{
		DE: "Ihre Gruppe verlangt einen Sicherheitsschlüssel. Fügen Sie zuerst einen anderen Schlüssel hinzu, dann können Sie diesen entfernen.",
		EN: "Your group requires a security key. Add another key first, then you can remove this one.",
	}
	msgFactorRecoveryOnly = message{
		DE: "Sie haben sich mit einem Wiederherstellungscode angemeldet und können jetzt nur einen neuen Schlüssel oder eine neue App hinzufügen.",
		EN: "You signed in with a recovery code and can only add a new key or app now.",
	}
)

// msgEnrollThrottled asks the person to wait for retryMinutes.
func msgEnrollThrottled(retryMinutes int) message {
	if retryMinutes <= 1 {
		return message{
			DE: "Zu viele Versuche. Bitte warten Sie 1 Minute und versuchen Sie es dann erneut.",
			EN: "Too many attempts. Please wait 1 minute, then try again.",
		}
	}
	return message{
		DE: fmt.Sprintf("Zu viele Versuche. Bitte warten Sie %d Minuten und versuchen Sie es dann erneut.", retryMinutes),
		EN: fmt.Sprintf("Too many attempts. Please wait %d minutes, then try again.", retryMinutes),
	}
}
