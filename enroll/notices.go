package enroll

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
)

// Notices writes the mails that tell a person what happened to her
// factors, German first and English below. Every link is built from
// PublicURL.
type Notices struct {
	PublicURL *url.URL
	Sender    Sender         // the organisation's name and where to get help
	Location  *time.Location // of the times written; nil: time.Local
}

// FactorKind names a credential by what it is, without the nickname the
// person chose: its model ("YubiKey 5 NFC"), or its kind.
func FactorKind(c authn.Credential) string {
	if c.Kind != authn.KindWebAuthn {
		return "Authenticator-App"
	}
	if id, err := uuid.FromBytes(c.AAGUID); err == nil {
		if name := ModelName(id); name != "" {
			return name
		}
	}
	return "Sicherheitsschlüssel / security key"
}

// FactorLabel names a credential for a person and for IT: its nickname
// and model ("Büro (YubiKey 5 NFC)"), or its kind.
func FactorLabel(c authn.Credential) string {
	kind := FactorKind(c)
	if DefaultNickname(c.Nickname) || c.Nickname == kind {
		return kind
	}
	return c.Nickname + " (" + kind + ")"
}

// DefaultNickname reports whether n is the nickname a key or app gets when
// the person gives none (FinishKey, FinishApp): it names the method, not
// the thing, so it is not shown as a name.
func DefaultNickname(n string) bool {
	switch strings.TrimSpace(n) {
	case "", "Sicherheitsschlüssel", "Authenticator-App":
		return true
	}
	return false
}

// FactorAdded tells a person that a key or app was added to her account;
// freezeLink ("" for none) is her "this was not me" link (Service makes one
// for each such mail).
func (n Notices) FactorAdded(u authn.User, factor string, at time.Time, freezeLink string) Message {
	de, en := n.when(at)
	notMeDE, notMeEN := notMe(freezeLink,
		"Waren Sie das nicht, wenden Sie sich bitte sofort an den IT-Service.",
		"If this was not you, please contact IT at once.")
	return n.message(u, "Neues Anmeldemittel / New sign-in factor",
		fmt.Sprintf("zu Ihrem Zugang wurde am %s ein Anmeldemittel hinzugefügt:\n\n    %s\n\n"+
			"%s\n\nIhre Anmeldemittel sehen Sie unter:\n%s",
			de, factor, notMeDE, n.link("account")),
		fmt.Sprintf("a sign-in factor was added to your account on %s:\n\n    %s\n\n"+
			"%s\n\nYour factors are listed at:\n%s",
			en, factor, notMeEN, n.link("account")))
}

// notMe is what a notice says to a person who did not do what it tells
// of: with a freeze link, to freeze her account with it at once; else
// de and en.
func notMe(freezeLink, de, en string) (string, string) {
	if freezeLink == "" {
		return de, en
	}
	return "Waren Sie das nicht? Dann sperren Sie Ihr Konto sofort mit diesem Link (er gilt 30 Tage, einmal) " +
			"und wenden Sie sich an den IT-Service:\n\n    " + freezeLink,
		"Was this not you? Then freeze your account at once with this link (valid for 30 days, once) " +
			"and contact IT:\n\n    " + freezeLink
}

// FactorRemoved tells a person that a key or app was removed.
func (n Notices) FactorRemoved(u authn.User, factor string, at time.Time) Message {
	de, en := n.when(at)
	return n.message(u, "Anmeldemittel entfernt / Sign-in factor removed",
		fmt.Sprintf("von Ihrem Zugang wurde am %s ein Anmeldemittel entfernt:\n\n    %s\n\n"+
			"Damit kann sich niemand mehr bei Ihnen anmelden. Waren Sie oder der IT-Service das nicht, "+
			"wenden Sie sich bitte sofort an den IT-Service. Ihre übrigen Anmeldemittel sehen Sie unter:\n%s",
			de, factor, n.link("account")),
		fmt.Sprintf("a sign-in factor was removed from your account on %s:\n\n    %s\n\n"+
			"It can no longer be used to sign in as you. If neither you nor IT did this, please contact IT at once. "+
			"Your other factors are listed at:\n%s",
			en, factor, n.link("account")))
}

// RecoveryCodeUsed tells a person that one of her recovery codes was used
// to sign in, and how many are left.
func (n Notices) RecoveryCodeUsed(u authn.User, left int, at time.Time) Message {
	de, en := n.when(at)
	return n.message(u, "Wiederherstellungscode verwendet / Recovery code used",
		fmt.Sprintf("am %s hat sich jemand mit einem Ihrer Wiederherstellungscodes angemeldet. "+
			"Sie haben noch %d Codes. Registrieren Sie einen neuen Sicherheitsschlüssel und erzeugen Sie neue Codes unter:\n%s\n\n"+
			"Waren Sie das nicht, wenden Sie sich bitte sofort an den IT-Service.",
			de, left, n.link("account")),
		fmt.Sprintf("on %s someone signed in with one of your recovery codes. You have %d codes left. "+
			"Register a new security key and make new codes at:\n%s\n\nIf this was not you, please contact IT at once.",
			en, left, n.link("account")))
}

// InvitationIssued gives a person her invitation: the link, and her
// username with the code, valid until the expiry.
func (n Notices) InvitationIssued(inv Invitation) Message {
	de, en := n.when(inv.ExpiresAt)
	de0, en0 := n.Sender.called(), n.Sender.calledEN()
	return n.message(inv.User, "Ihre Anmeldung bei "+de0+" / Your "+en0+" sign-in",
		fmt.Sprintf("für Sie ist ein Zugang zu "+de0+" eingerichtet. Öffnen Sie diesen Link auf dem Gerät, "+
			"an dem Sie Ihren Sicherheitsschlüssel oder Ihre App einrichten wollen:\n\n    %s\n\n"+
			"Oder öffnen Sie %s und geben Sie ein:\n\n    Benutzername: %s\n    Code:         %s\n\n"+
			"Die Einladung gilt einmal und bis %s. Geben Sie Link und Code nicht weiter.",
			inv.Link, n.link("enroll"), inv.User.Username, inv.Code, de),
		fmt.Sprintf("an account on "+en0+" is ready for you. Open this link on the device where you want to set up "+
			"your security key or app:\n\n    %s\n\nOr open %s and enter:\n\n    Username: %s\n    Code:     %s\n\n"+
			"The invitation works once and until %s. Do not pass the link or the code on.",
			inv.Link, n.link("enroll"), inv.User.Username, inv.Code, en))
}

// Reset tells a person that IT suspended all her factors and ended her
// sessions, with her "this was not me" link (rep.FreezeLink, which
// Service.Reset makes). The new invitation reaches her by letter or from
// IT, not in this mail: whoever reads her mailbox must not be able to
// enroll.
func (n Notices) Reset(u authn.User, rep authn.ResetReport, at time.Time) Message {
	de, en := n.when(at)
	notMeDE, notMeEN := notMe(rep.FreezeLink,
		"Haben Sie das nicht veranlasst, wenden Sie sich bitte sofort an den IT-Service.",
		"If you did not ask for this, please contact IT at once.")
	return n.message(u, "Zugang zurückgesetzt / Account reset",
		fmt.Sprintf("der IT-Service hat am %s Ihre Anmeldemittel zurückgesetzt: %d Sicherheitsschlüssel, %d Apps "+
			"und %d Wiederherstellungscodes gelten nicht mehr, %d Sitzungen wurden beendet. Ihre alten Schlüssel und Apps "+
			"sind gesperrt und werden gelöscht, sobald Sie ein neues Anmeldemittel eingerichtet haben. Sie erhalten eine neue "+
			"Einladung per Brief oder vom IT-Service.\n\n%s",
			de, rep.Keys, rep.Apps, rep.RecoveryCodes, rep.Sessions, notMeDE),
		fmt.Sprintf("IT reset your sign-in factors on %s: %d security keys, %d apps and %d recovery codes no longer "+
			"work, and %d sessions were ended. Your old keys and apps are suspended and will be deleted once you have set up "+
			"a new factor. You will get a new invitation by letter or from IT.\n\n%s",
			en, rep.Keys, rep.Apps, rep.RecoveryCodes, rep.Sessions, notMeEN))
}

// message puts the two texts under greetings, German first, and adds where
// to get help.
func (n Notices) message(u authn.User, subject, de, en string) Message {
	name := strings.TrimSpace(u.DisplayName)
	if name == "" {
		name = u.Username
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Guten Tag %s,\n\n%s\n\n", name, de)
	if h := n.help("Fragen? IT-Service: ", "Telefon", "E-Mail"); h != "" {
		b.WriteString(h + "\n")
	}
	b.WriteString("\n----- English -----\n\n")
	fmt.Fprintf(&b, "Hello %s,\n\n%s\n\n", name, en)
	if h := n.help("Questions? IT service: ", "phone", "e-mail"); h != "" {
		b.WriteString(h + "\n")
	}
	if sig := n.signature(); sig != "" {
		b.WriteString("\n-- \n" + sig)
	}
	return Message{To: u.Email, Subject: subject, Body: b.String()}
}

// signature is the mail's signature: the sender's name and the
// service's, each on a line ("" when neither is configured).
func (n Notices) signature() string {
	var b strings.Builder
	if n.Sender.Name != "" {
		b.WriteString(n.Sender.Name + "\n")
	}
	if s := n.Sender.Service; s != "" && s != n.Sender.Name {
		b.WriteString(s + " · " + n.PublicURL.String() + "\n")
	}
	return b.String()
}

// help returns the help line, or "" when no contact is configured.
func (n Notices) help(lead, phone, email string) string {
	var how []string
	if n.Sender.HelpPhone != "" {
		how = append(how, phone+" "+n.Sender.HelpPhone)
	}
	if n.Sender.HelpEmail != "" {
		how = append(how, email+" "+n.Sender.HelpEmail)
	}
	if len(how) == 0 {
		return ""
	}
	return lead + strings.Join(how, ", ")
}

// link returns the address of a page under PublicURL.
func (n Notices) link(page string) string { return n.PublicURL.JoinPath(page).String() }

// when formats t in German and English.
func (n Notices) when(t time.Time) (de, en string) {
	loc := n.Location
	if loc == nil {
		loc = time.Local
	}
	t = t.In(loc)
	return GermanDateTime(t), t.Format("2 January 2006, 15:04 MST")
}
