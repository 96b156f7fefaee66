package enroll

import (
	"fmt"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// AccountErased confirms to a person that her account was deleted at her
// request (DSGVO Art. 17, 12(3)): what is gone, and that the audit log
// keeps only a record without her name. u is she as she was stored before
// the erasure; the mail goes to u.Email.
func (n Notices) AccountErased(u authn.User, at time.Time) Message {
	de, en := n.when(at)
	return n.message(u, "Konto gelöscht / Account deleted",
		fmt.Sprintf("wie von Ihnen veranlasst, wurde Ihr Konto %s am %s gelöscht: Ihr Profil, Ihre Sicherheitsschlüssel, "+
			"Apps, Wiederherstellungscodes und Ihr Passwort, alle Anmeldungen und die Zugänge der angeschlossenen Anwendungen. "+
			"Das Protokoll behält nur einen Eintrag ohne Ihren Namen, dass ein Konto gelöscht wurde.\n\n"+
			"Haben Sie das nicht veranlasst, wenden Sie sich bitte sofort an den IT-Service.",
			u.Username, de),
		fmt.Sprintf("as you asked, your account %s was deleted on %s: your profile, security keys, apps, recovery codes "+
			"and password, every session and the connected applications' access. The log keeps only an entry without "+
			"your name that an account was deleted.\n\nIf you did not ask for this, please contact IT at once.",
			u.Username, en))
}
