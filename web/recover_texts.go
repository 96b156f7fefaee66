package web

// recoverTexts are the words on the recovery pages (recover.go), German
// first; translate looks here after texts.
var recoverTexts = map[string]message{
	"recover.link":  {"Zugang verloren? Per E-Mail wiederherstellen", "Lost your access? Recover it by e-mail"},
	"recover.title": {"Zugang per E-Mail wiederherstellen", "Recover your access by e-mail"},
	"recover.intro": {"Haben Sie alle Anmeldemittel und Ihre Wiederherstellungscodes verloren, schicken wir Ihnen einen Link an Ihre bestätigte E-Mail-Adresse. Damit richten Sie ein neues Anmeldemittel ein. Das geht nur für Konten, bei denen die Stadt es erlaubt; für alle anderen hilft der IT-Service.",
		"If you lost every sign-in factor and your recovery codes, we mail a link to your confirmed e-mail address. With it you set up a new sign-in factor. This works only for accounts where the city allows it; for all others, the IT service helps."},
	"recover.email":      {"E-Mail-Adresse", "E-mail address"},
	"recover.email.hint": {"Die Adresse, die Sie bei Ihrem Konto bestätigt haben.", "The address you confirmed for your account."},
	"recover.send":       {"Link anfordern", "Send the link"},
	"recover.sent.title": {"Bitte sehen Sie in Ihr Postfach", "Please check your mailbox"},
	"recover.sent": {"Wenn zu dieser Adresse ein Konto gehört, das per E-Mail wiederhergestellt werden darf, haben wir einen Link dorthin geschickt. Er gilt 30 Minuten und nur in diesem Browser. Kommt keine E-Mail, wenden Sie sich bitte an den IT-Service.",
		"If this address belongs to an account that may be recovered by e-mail, we have mailed a link to it. It works for 30 minutes and only in this browser. If no e-mail arrives, please contact the IT service."},
	"recover.for": {"Wiederherstellung für", "Recovery for"},
	"recover.what": {"Wenn Sie fortfahren, werden alle Ihre Sitzungen beendet, und Sie richten ein neues Anmeldemittel ein. Ihre bisherigen Anmeldemittel werden nach 72 Stunden entfernt; bis dahin können Sie die Wiederherstellung abbrechen (Link in der Benachrichtigung oder unter „Ihr Konto“).",
		"If you go on, all your sessions end and you set up a new sign-in factor. Your previous factors are removed after 72 hours; until then you can cancel the recovery (link in the notice, or under “Your account”)."},
	"recover.start": {"Neues Anmeldemittel einrichten", "Set up a new sign-in factor"},
	"recover.started": {"Alle Ihre Sitzungen wurden beendet. Richten Sie jetzt Ihr neues Anmeldemittel ein.",
		"All your sessions have ended. Now set up your new sign-in factor."},
	"recover.cancel.title": {"Wiederherstellung abbrechen", "Cancel the recovery"},
	"recover.cancel.text": {"Hier brechen Sie eine Wiederherstellung Ihres Zugangs per E-Mail ab: die dabei eingerichteten Anmeldemittel werden entfernt, die damit begonnenen Sitzungen beendet; Ihre bisherigen Anmeldemittel bleiben.",
		"Here you cancel a recovery of your access by e-mail: the sign-in factors set up in it are removed, the sessions begun with them end; your previous factors stay."},
	"recover.cancel.button": {"Wiederherstellung abbrechen", "Cancel the recovery"},
	"recover.cancelled": {"Die Wiederherstellung ist abgebrochen. Ihre bisherigen Anmeldemittel gelten weiter; die neuen sind entfernt. Hat jemand anderes sie angefordert, wenden Sie sich bitte an den IT-Service.",
		"The recovery is cancelled. Your previous factors keep working; the new ones are removed. If someone else asked for it, please contact the IT service."},
	"recover.pending": {"Ihr Zugang wurde per E-Mail wiederhergestellt. Ihre bisherigen Anmeldemittel werden entfernt am",
		"Your access was recovered by e-mail. Your previous factors will be removed on"},
	"recover.signin.title": {"Ihr Konto wird gerade wiederhergestellt", "Your account is being recovered"},
	"recover.signin.text": {"Ihr Zugang wurde per E-Mail wiederhergestellt und ein neues Anmeldemittel eingerichtet. Ihre bisherigen Anmeldemittel werden entfernt am",
		"Your access was recovered by e-mail and a new sign-in factor was set up. Your previous factors will be removed on"},
	"recover.signin.notme": {"Wenn Sie das nicht waren: Brechen Sie die Wiederherstellung ab. Die neuen Anmeldemittel werden entfernt, Ihre bisherigen bleiben.",
		"If this was not you: cancel the recovery. The new factors are removed, your previous ones stay."},
	"recover.signin.continue": {"Das war ich – weiter", "This was me – continue"},
	"recover.signin.next":     {"Erneut anmelden", "Sign in again"},
	"recover.pending.notme": {"Waren Sie das nicht? Dann brechen Sie ab: Die neuen Anmeldemittel werden entfernt, Ihre bisherigen bleiben.",
		"Was this not you? Then cancel: the new factors are removed, your previous ones stay."},
}

var (
	msgRecoverNoneToCancel = message{
		DE: "Für Ihr Konto läuft keine Wiederherstellung mehr: sie ist abgeschlossen, und die Anmeldemittel von davor sind entfernt. " +
			"Haben Sie die Wiederherstellung nicht selbst begonnen, wenden Sie sich bitte sofort an die Stadt: sie kann Ihr Konto sperren.",
		EN: "No recovery is running for your account any more: it has finished, and the sign-in methods from before it are removed. " +
			"If you did not start the recovery yourself, please contact the city at once: it can freeze your account.",
	}
	msgRecoverAlreadyCancelled = message{
		DE: "Diese Wiederherstellung ist bereits abgebrochen; Ihre bisherigen Anmeldemittel gelten weiter.",
		EN: "This recovery has been cancelled already; your previous sign-in methods still work.",
	}
	msgRecoverCancelled = message{
		DE: "Die Wiederherstellung ist abgebrochen: Die dabei eingerichteten Anmeldemittel sind entfernt, Ihre bisherigen bleiben. Zu Ihrer Sicherheit sind alle Sitzungen seit Beginn der Wiederherstellung beendet, auch diese: Bitte melden Sie sich erneut mit Ihrem bisherigen Schlüssel oder Ihrer App an.",
		EN: "The recovery is cancelled: the factors set up in it are removed, your previous ones stay. For your safety every session since the recovery began has ended, this one too: please sign in again with your previous key or app.",
	}
	// msgRecoverCancelledNewer: the notice's link was of a recovery that a
	// newer one superseded; the newer one, still pending, is what the link
	// cancelled (review of #15).
	msgRecoverCancelledNewer = message{
		DE: "Diese Wiederherstellung war durch eine neuere ersetzt worden, die noch lief. Die neuere ist jetzt abgebrochen: Die in beiden eingerichteten Anmeldemittel sind entfernt, Ihre bisherigen bleiben, und alle Sitzungen seit Beginn der ersten sind beendet.",
		EN: "This recovery had been replaced by a newer one, which was still running. The newer one is cancelled now: the factors set up in either are removed, your previous ones stay, and every session since the first began has ended.",
	}
	msgRecoverCancelWrong = message{
		DE: "Dieser Abbruch-Link ist ungültig. Bitte öffnen Sie ihn genau so, wie er in der E-Mail steht, oder wenden Sie sich an den IT-Service.",
		EN: "This cancel link is not valid. Please open it exactly as it is in the mail, or contact the IT service.",
	}
	msgRecoverCancelUsed = message{
		DE: "Diese Wiederherstellung ist schon beendet: abgebrochen, abgeschlossen oder durch eine neuere ersetzt. Bitte wenden Sie sich an den IT-Service, wenn Sie sie nicht veranlasst haben.",
		EN: "This recovery has ended already: cancelled, finished or replaced by a newer one. Please contact the IT service if you did not ask for it.",
	}
)
