package web

// The words about local passwords: on the sign-in path when a person has
// none, in enrollment where she sets one, and on /account where she
// changes it.
var (
	msgNoPassword = message{
		DE: "Nach diesem Schritt ist ein Passwort nötig, und für Ihr Konto ist keines hinterlegt. Melden Sie sich mit einem Sicherheitsschlüssel an, der Sie per PIN oder Fingerabdruck erkennt, oder bitten Sie die IT um eine neue Einladung: Bei der Einrichtung legen Sie dann ein Passwort fest.",
		EN: "This step needs a password after it, and your account has none. Sign in with a security key that recognises you by PIN or fingerprint, or ask IT for a new invitation: while setting up you then choose a password.",
	}
)

var (
	msgPasswordsDiffer = message{
		DE: "Die beiden Passwörter sind nicht gleich. Bitte geben Sie dasselbe Passwort zweimal ein.",
		EN: "The two passwords differ. Please enter the same password twice.",
	}
	msgPasswordChanged = message{
		DE: "Ihr Passwort ist gespeichert. Es gilt ab der nächsten Anmeldung.",
		EN: "Your password is saved. It applies from your next sign-in.",
	}
)
