package web

// registerTexts are the words of the registration pages (register.go).
var registerTexts = map[string]message{
	"register.title": {"Registrieren", "Register"},
	"register.intro": {"Legen Sie einen Zugang für die Online-Dienste der Stadt an. Sie brauchen eine E-Mail-Adresse und ein Smartphone oder einen Computer, der Passkeys kann – oder eine Authenticator-App. Ein Passwort brauchen Sie nicht.",
		"Create an account for the city's online services. You need an e-mail address and a phone or computer that can hold a passkey – or an authenticator app. You need no password."},
	"register.email":      {"E-Mail-Adresse", "E-mail address"},
	"register.email.hint": {"An diese Adresse schicken wir einen Link. Sie ist danach Ihr Benutzername.", "We send a link to this address. It then is your username."},
	"register.name":       {"Ihr Name", "Your name"},
	"register.name.hint":  {"So sprechen wir Sie an; Dienste der Stadt sehen ihn, wenn Sie sich dort anmelden.", "How we address you; the city's services see it when you sign in there."},
	"register.submit":     {"Link anfordern", "Send me the link"},
	"register.have":       {"Sie haben schon einen Zugang?", "You have an account already?"},
	"register.username.hint": {"Ihr Benutzername bei der Stadt, zum Beispiel anna.mueller – oder, wenn Sie sich selbst registriert haben, Ihre E-Mail-Adresse.",
		"Your username at the city, for example anna.mueller – or, if you registered yourself, your e-mail address."},
	"register.login": {"Noch keinen Zugang? Registrieren", "No account yet? Register"},

	"register.sent.title": {"Bitte prüfen Sie Ihr Postfach", "Please check your mail"},
	"register.sent.text": {"Wir haben Ihnen eine E-Mail geschickt. Öffnen Sie den Link darin innerhalb von 30 Minuten in diesem Browser auf diesem Gerät. Kommt keine E-Mail, sehen Sie im Spam-Ordner nach oder prüfen Sie die Adresse und versuchen Sie es noch einmal.",
		"We sent you an e-mail. Open the link in it within 30 minutes in this browser on this device. If no e-mail arrives, look in your spam folder, or check the address and try again."},
	"register.sent.again": {"Noch einmal versuchen", "Try again"},

	"register.confirm.title": {"Registrierung abschließen", "Finish your registration"},
	"register.confirm.text": {"Ihre E-Mail-Adresse ist bestätigt. Richten Sie jetzt Ihren Passkey oder Ihre Authenticator-App ein.",
		"Your e-mail address is confirmed. Now set up your passkey or authenticator app."},
	"register.confirm.button": {"Weiter zur Einrichtung", "Continue to setup"},

	"register.invalid.title": {"Dieser Link funktioniert nicht", "This link does not work"},
	"register.invalid.again": {"Neu registrieren", "Register again"},
}
