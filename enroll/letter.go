package enroll

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/boombuler/barcode/qr"
	"github.com/go-pdf/fpdf"

	"github.com/keyhall/keyhall/authn"
)

// The letter's fonts: DejaVu Sans and Sans Mono (Bitstream Vera licence,
// see fonts/LICENSE), embedded so that umlauts print and nothing is read
// at run time.
var (
	//go:embed fonts/DejaVuSans.ttf
	fontSans []byte
	//go:embed fonts/DejaVuSans-Bold.ttf
	fontSansBold []byte
	//go:embed fonts/DejaVuSansMono.ttf
	fontMono []byte
)

// LetterSubject is the subject line of the enrollment letter.
const LetterSubject = "Ihre Anmeldung bei Keyhall"

// ResetSubject is the subject line of the letter after an IT reset.
const ResetSubject = "Ihr Zugang zu Keyhall wurde zurückgesetzt"

func (l Letter) subject() string {
	if l.Reset {
		return l.Sender.name(ResetSubject)
	}
	return l.Sender.name(LetterSubject)
}

// Sender is the organisation that sends letters and mail: its name, its
// address, and where people get help.
type Sender struct {
	Name      string   // "Stadt Musterstadt"
	Address   []string // lines under the name: department, street, postcode and city
	HelpPhone string   // the IT service's phone number, as printed
	HelpEmail string   // the IT service's e-mail address
	// Service is the sign-in service's own name (site.name, "Stadt
	// Münster – Anmeldung"), written where letters and mail name it;
	// "": Keyhall.
	Service string
}

// called is the service's name as a German sentence names it: Keyhall as
// it is, a city's own name in quotation marks („Stadt Münster – Anmeldung“).
func (s Sender) called() string {
	if s.Service == "" || s.Service == TOTPIssuer {
		return TOTPIssuer
	}
	return "„" + s.Service + "“"
}

// calledEN is called in English (“Stadt Münster – Anmeldung”).
func (s Sender) calledEN() string {
	if s.Service == "" || s.Service == TOTPIssuer {
		return TOTPIssuer
	}
	return "“" + s.Service + "”"
}

// name puts the service's name (called) in place of "Keyhall" in one of
// this package's own texts, such as LetterSubject.
func (s Sender) name(text string) string { return strings.ReplaceAll(text, TOTPIssuer, s.called()) }

// maxNameInText is the longest service name (bytes) a letter's running
// text repeats; a longer one is named in the subject only, and the text
// says "this service" (inText), so that a letter with any
// site.name the config accepts (up to 64 bytes) stays one page.
const maxNameInText = 32

// inText is the service's name for a letter's running text after "zu" or
// "bei": called, or for a long name "dem oben genannten Dienst".
func (s Sender) inText() string {
	if len(s.Service) > maxNameInText {
		return "diesem Dienst"
	}
	return s.called()
}

// inTextSubject is inText as the subject of a sentence: called, or "der
// Dienst".
func (s Sender) inTextSubject() string {
	if len(s.Service) > maxNameInText {
		return "der Dienst"
	}
	return s.called()
}

// Letter is an enrollment letter for one person.
type Letter struct {
	Invitation Invitation
	// Address is the person's postal address without her name (that is
	// Invitation.User's): street, postcode and city; at most
	// MaxAddressLines lines.
	Address []string
	Sender  Sender
	// CodeURL is where the code can be typed instead of opening the link
	// (EnrollURL); "" leaves that hint out.
	CodeURL string
	// Date is the letter's date; zero means now.
	Date time.Time
	// Location is the time zone of the dates printed; nil means time.Local.
	Location *time.Location
	// Password: Keyhall can check a password of hers (Service.HasPassword),
	// so the letter may tell her to use it. Without one, her key must
	// guard itself with a PIN, and the letter says so instead.
	Password bool
	// ChoosePassword: she is a local person without a password, who
	// chooses one in her enrollment after the key (Offer.SetPassword); it
	// is asked at sign-in only with the app, a recovery code or a key
	// without PIN. RequirePassword: IT requires it (Terms.RequirePassword,
	// from Invitation): she cannot finish without it.
	ChoosePassword, RequirePassword bool
	// NoRecoveryCodes: none will be shown at the end of her enrollment
	// (she has no password Keyhall can check and chooses none: a
	// directory person where no directory is configured), so the letter
	// does not promise them.
	NoRecoveryCodes bool
	// Reset: the letter follows an IT reset (Service.Reset); it says that
	// her old keys, apps and recovery codes are blocked.
	Reset bool
}

// HasPassword reports whether Keyhall can check a password of u (her
// directory's, or one stored here): only then may her letter speak of it.
func (s *Service) HasPassword(ctx context.Context, u authn.User) (bool, error) {
	pw, err := s.PasswordState(ctx, u)
	return pw.Has, err
}

// LetterFacts fills in what l says of the password and the recovery codes
// of l.Invitation.User, from what Keyhall knows of her (PasswordState, the
// one rule the enrollment follows): Password, ChoosePassword,
// RequirePassword (from l.Invitation) and NoRecoveryCodes.
func (s *Service) LetterFacts(ctx context.Context, l Letter) (Letter, error) {
	pw, err := s.PasswordState(ctx, l.Invitation.User)
	if err != nil {
		return l, err
	}
	l.Password = pw.Has
	l.ChoosePassword = pw.Local && !pw.Has
	l.RequirePassword = l.ChoosePassword && l.Invitation.RequirePassword
	l.NoRecoveryCodes = !pw.Has && !pw.Local
	return l, nil
}

// MaxAddressLines is how many address lines fit the window under the name
// (DIN 5008: six lines in the address zone).
const MaxAddressLines = 5

// EnrollURL returns the page where a person types her username and code.
func EnrollURL(publicURL *url.URL) string { return publicURL.JoinPath("enroll").String() }

// Page geometry in millimetres: A4 with DIN 5008 form B, so the address
// shows in the window of a DIN lang (DL) envelope.
const (
	pageW, pageH = 210.0, 297.0
	marginLeft   = 25.0 // text starts here; the address field at 20
	marginRight  = 20.0
	textW        = pageW - marginLeft - marginRight
	fieldX       = 20.0 // address field: 85 × 45 mm at (20, 45)
	fieldY       = 45.0
	fieldW       = 85.0
	addressY     = fieldY + 17.7 // below the 17.7 mm return-address zone
	infoX        = 125.0         // information block, right of the field
	subjectY     = 98.46
	lineH        = 4.5
	qrSize       = 32.0
	pageBottom   = 287.0 // nothing is printed below this (10 mm margin)
)

// WriteLetter writes l as a one-page A4 PDF, in German, ready for a DIN
// lang window envelope (DIN 5008 form B): the return address and the
// person's name and address in the window, the sender's block with the
// date, the subject, its steps (three or four), the link as text and QR
// code, the code, the expiry and where to get help.
func WriteLetter(w io.Writer, l Letter) error { return WriteLetters(w, []Letter{l}) }

// WriteLetters writes one PDF with one page per letter, each as
// WriteLetter's: the letters for a group (after an election, say).
func WriteLetters(w io.Writer, ls []Letter) error {
	if len(ls) == 0 {
		return errors.New("write letter: no letters")
	}
	var p *letterPDF
	for i, l := range ls {
		if err := l.check(); err != nil {
			return fmt.Errorf("write letter%s: %w", which(ls, i), err)
		}
		if l.Date.IsZero() {
			l.Date = time.Now()
		}
		if l.Location == nil {
			l.Location = time.Local
		}
		if p == nil {
			p = newLetterPDF(l)
		} else {
			p.f.AddPage()
		}
		p.window(l)
		p.infoBlock(l)
		p.body(l)
		if err := p.access(l); err != nil {
			return fmt.Errorf("write letter%s: %w", which(ls, i), err)
		}
		p.closing(l)
		if p.f.GetY() > pageBottom {
			return fmt.Errorf("write letter%s: the text (to %.0f mm) does not fit on one page; shorten the sender's lines or the public URL",
				which(ls, i), p.f.GetY())
		}
	}
	if err := p.f.Output(w); err != nil {
		return fmt.Errorf("write letter: %w", err)
	}
	return nil
}

// which names the letter i of several ("" for one letter alone).
func which(ls []Letter, i int) string {
	if len(ls) == 1 {
		return ""
	}
	return fmt.Sprintf(" %d (%s)", i+1, ls[i].Invitation.User.Username)
}

// check reports every missing or unprintable part of l.
func (l Letter) check() error {
	var errs []error
	if len(l.Address) == 0 {
		errs = append(errs, errors.New("no postal address for the window envelope"))
	}
	if len(l.Address) > MaxAddressLines {
		errs = append(errs, fmt.Errorf("the postal address has %d lines; at most %d fit the window", len(l.Address), MaxAddressLines))
	}
	for i, s := range l.Address {
		if strings.TrimSpace(s) == "" || strings.ContainsFunc(s, unicode.IsControl) {
			errs = append(errs, fmt.Errorf("address line %d is empty or holds a control character", i+1))
		}
	}
	if strings.TrimSpace(l.Sender.Name) == "" {
		errs = append(errs, errors.New("no sender name"))
	}
	if l.Sender.HelpPhone == "" && l.Sender.HelpEmail == "" {
		errs = append(errs, errors.New("no help phone or e-mail: the letter must say where to get help"))
	}
	if l.Invitation.Link == "" || l.Invitation.Code == "" || l.Invitation.ExpiresAt.IsZero() {
		errs = append(errs, errors.New("the invitation has no link, code or expiry"))
	}
	return errors.Join(errs...)
}

// recipient returns the person's name as addressed.
func (l Letter) recipient() string {
	if n := strings.TrimSpace(l.Invitation.User.DisplayName); n != "" {
		return n
	}
	return l.Invitation.User.Username
}

// GermanDate formats t as a German date, "26.03.2026".
func GermanDate(t time.Time) string { return t.Format("02.01.2006") }

// GermanDateTime formats t as a German date and time, "26.03.2026, 14:30 Uhr".
func GermanDateTime(t time.Time) string { return t.Format("02.01.2006, 15:04") + " Uhr" }

// letterPDF draws a letter.
type letterPDF struct {
	f *fpdf.Fpdf
}

func newLetterPDF(l Letter) *letterPDF {
	f := fpdf.New("P", "mm", "A4", "")
	// fpdf writes into the bytes it is given while it cuts the subset it
	// embeds, so each letter gets its own copy (1.8 MB, under a
	// millisecond) and letters printed at once do not race on ours.
	f.AddUTF8FontFromBytes("sans", "", bytes.Clone(fontSans))
	f.AddUTF8FontFromBytes("sans", "B", bytes.Clone(fontSansBold))
	f.AddUTF8FontFromBytes("mono", "", bytes.Clone(fontMono))
	f.SetTitle(l.subject(), true)
	f.SetAuthor(l.Sender.Name, true)
	f.SetCreator("Keyhall", true)
	f.SetLang("de-DE")
	f.SetCreationDate(l.Date)
	f.SetModificationDate(l.Date)
	f.SetMargins(marginLeft, 20, marginRight)
	f.SetAutoPageBreak(false, 0)
	f.AddPage()
	f.SetDrawColor(0, 0, 0)
	f.SetTextColor(0, 0, 0)
	return &letterPDF{f: f}
}

// window draws the fold and punch marks and the address field: the return
// address on one small line at the bottom of the 17.7 mm zone, then the
// person's name and address.
func (p *letterPDF) window(l Letter) {
	f := p.f
	f.SetLineWidth(0.2)
	for _, y := range []float64{105, 210} { // fold marks (DIN 5008 form B)
		f.Line(4, y, 9, y)
	}
	f.Line(4, pageH/2, 11, pageH/2) // punch mark
	ret := strings.Join(append([]string{l.Sender.Name}, l.Sender.Address...), " · ")
	size := 7.0
	f.SetFont("sans", "", size)
	for size > 5 && f.GetStringWidth(ret) > fieldW-5 {
		size -= 0.5
		f.SetFontSize(size)
	}
	f.Text(marginLeft, addressY-2.2, ret)
	f.SetLineWidth(0.1)
	f.Line(marginLeft, addressY-1.4, marginLeft+min(f.GetStringWidth(ret), fieldW-5), addressY-1.4)
	f.SetFont("sans", "", 10)
	f.SetXY(marginLeft, addressY)
	for _, s := range append([]string{l.recipient()}, l.Address...) {
		f.SetX(marginLeft)
		f.CellFormat(fieldX+fieldW-marginLeft, lineH, s, "", 1, "L", false, 0, "")
	}
}

// infoBlock draws the sender's block right of the address field, with
// the help contacts and the date.
func (p *letterPDF) infoBlock(l Letter) {
	f := p.f
	w := pageW - marginRight - infoX
	f.SetXY(infoX, fieldY+5)
	f.SetFont("sans", "B", 9)
	f.MultiCell(w, 4.2, l.Sender.Name, "", "L", false)
	f.SetFont("sans", "", 9)
	for _, s := range l.Sender.Address {
		f.SetX(infoX)
		f.MultiCell(w, 4.2, s, "", "L", false)
	}
	f.Ln(2)
	if l.Sender.HelpPhone != "" {
		f.SetX(infoX)
		f.MultiCell(w, 4.2, "Telefon: "+l.Sender.HelpPhone, "", "L", false)
	}
	if l.Sender.HelpEmail != "" {
		f.SetX(infoX)
		f.MultiCell(w, 4.2, "E-Mail: "+l.Sender.HelpEmail, "", "L", false)
	}
	f.Ln(2)
	f.SetX(infoX)
	f.MultiCell(w, 4.2, "Datum: "+GermanDate(l.Date.In(l.Location)), "", "L", false)
}

// body draws the subject, the greeting, and the steps (Letter.steps).
func (p *letterPDF) body(l Letter) {
	f := p.f
	p.subject(l.subject())
	f.SetFont("sans", "", 10)
	p.para("Guten Tag " + l.recipient() + ",")
	f.Ln(1)
	steps := l.steps()
	count := "in drei Schritten:"
	if l.Reset {
		p.para("der IT-Service hat Ihren Zugang zu " + l.Sender.inText() + " zurückgesetzt. Ihre bisherigen Sicherheitsschlüssel, " +
			"Authenticator-Apps und Wiederherstellungscodes sind gesperrt und funktionieren nicht mehr. Mit diesem " +
			"Brief richten Sie Ihren Zugang neu ein, auf Ihrem eigenen Gerät und ohne Termin – " + count)
	} else {
		p.para("für Sie ist ein Zugang zu " + l.Sender.inText() + " eingerichtet. Sie melden sich dort künftig mit einem " +
			"Sicherheitsschlüssel (etwa einem YubiKey) oder einer Authenticator-App an. Den Zugang richten " +
			"Sie selbst ein, auf Ihrem eigenen Gerät und ohne Termin – " + count)
	}
	f.Ln(2)
	for i, st := range steps {
		p.step(i+1, st[0], st[1])
	}
}

// steps are the letter's three steps, title and text: what her
// enrollment will ask of her, and only that. The password a local person
// chooses goes with the third (the letter must stay one page).
func (l Letter) steps() [][2]string {
	open := "Scannen Sie den QR-Code unten mit der Kamera Ihres Tablets oder Smartphones, oder geben Sie " +
		"den Link unten in Ihren Browser ein."
	if l.CodeURL != "" {
		open += " Ohne Link geben Sie Ihren Benutzernamen und den Code auf " + l.CodeURL + " ein."
	}
	steps := [][2]string{{"Einladung öffnen", open}}
	key := "Ihren Sicherheitsschlüssel erhalten Sie vom IT-Service (Kontakt unten). "
	if l.ChoosePassword { // shorter: the third step is longer
		key = "Ihren Sicherheitsschlüssel erhalten Sie vom IT-Service. "
	}
	switch {
	case l.Password:
		key += "Melden Sie sich, wenn Sie gefragt werden, mit Ihrem gewohnten Passwort an. "
	case l.ChoosePassword:
		key += "Legen Sie seine PIN fest oder geben Sie sie ein, wenn Sie gefragt werden. "
	default:
		key += "Ein Passwort brauchen Sie nicht; dafür schützt eine PIN den Schlüssel: Legen Sie sie fest oder " +
			"geben Sie sie ein, wenn Sie danach gefragt werden. "
	}
	key += "Stecken Sie den Schlüssel ein oder halten Sie ihn an das Gerät (NFC), und berühren Sie ihn, " +
		"sobald er blinkt."
	if !l.ChoosePassword { // else the third step names the app
		key += " Wo es erlaubt ist, können Sie stattdessen eine Authenticator-App einrichten."
	}
	steps = append(steps, [2]string{"Sicherheitsschlüssel registrieren", key})
	title, spare := "Vorsorgen", "Registrieren Sie einen zweiten Schlüssel als Ersatz, und bewahren Sie die zehn "+
		"Wiederherstellungscodes, die Ihnen am Ende angezeigt werden, sicher auf."
	switch {
	case l.ChoosePassword:
		title = "Passwort festlegen und vorsorgen"
		spare = "Danach wählen Sie ein Passwort (mindestens 12 Zeichen); " + l.Sender.inTextSubject() + " fragt es nur bei " +
			"Authenticator-App, Wiederherstellungscode oder Schlüssel ohne PIN ab. "
		if l.RequirePassword {
			spare += "Ihr IT-Service verlangt es: Ohne Passwort lässt sich die Einrichtung nicht abschließen. "
		}
		spare += "Registrieren Sie einen zweiten Schlüssel als Ersatz; bewahren Sie die zehn " +
			"Wiederherstellungscodes vom Ende sicher auf."
	case l.NoRecoveryCodes:
		spare = "Registrieren Sie einen zweiten Schlüssel als Ersatz, und bewahren Sie ihn getrennt vom ersten auf."
	}
	return append(steps, [2]string{title, spare})
}

// subject draws a letter's subject below the sender's block: in bold, on
// one line, in 12 pt or smaller down to 8 pt for a long site.name; only
// a name too wide even then wraps.
func (p *letterPDF) subject(s string) {
	f := p.f
	f.SetXY(marginLeft, max(subjectY, f.GetY()+4))
	size := 12.0
	f.SetFont("sans", "B", size)
	for size > 8 && f.GetStringWidth(s) > textW-2*f.GetCellMargin() { // MultiCell keeps its margins
		size -= 0.5
		f.SetFontSize(size)
	}
	f.MultiCell(textW, size/2, s, "", "L", false)
	f.Ln(3)
}

// para writes a paragraph across the text width.
func (p *letterPDF) para(s string) {
	p.f.SetX(marginLeft)
	p.f.MultiCell(textW, lineH, s, "", "L", false)
}

// step writes a numbered step: a bold title and its text, indented.
func (p *letterPDF) step(n int, title, text string) {
	f := p.f
	const indent = 7.0
	f.SetX(marginLeft)
	f.SetFont("sans", "B", 10)
	f.CellFormat(indent, lineH, fmt.Sprintf("%d.", n), "", 0, "L", false, 0, "")
	f.MultiCell(textW-indent, lineH, title, "", "L", false)
	f.SetFont("sans", "", 10)
	f.SetX(marginLeft + indent)
	f.MultiCell(textW-indent, lineH, text, "", "L", false)
	f.Ln(1)
}

// access draws the framed box with the username, expiry, code and link,
// and the link's QR code on their right. The link is as large as the body
// text (linkSize), broken between its token's groups (breakLink).
func (p *letterPDF) access(l Letter) error {
	f := p.f
	const pad, labelW = 4.0, 11.0
	inv := l.Invitation
	colW := textW - qrSize - 3*pad
	f.SetFont("mono", "", linkSize)
	link := breakLink(f, inv.Link, colW-labelW)
	top := f.GetY() + 2
	textH := 6 + 3*6.5 + 1 + float64(len(link))*linkLineH
	boxH := pad + max(qrSize, textH) + pad
	f.SetLineWidth(0.3)
	f.Rect(marginLeft, top, textW, boxH, "D")
	f.SetXY(marginLeft+pad, top+pad)
	f.SetFont("sans", "B", 11)
	f.CellFormat(colW, 6, "Ihre Zugangsdaten", "", 1, "L", false, 0, "")
	p.labelled(colW, "Benutzername:", "sans", 10, inv.User.Username)
	p.labelled(colW, "Gültig bis:", "sans", 10, GermanDateTime(inv.ExpiresAt.In(l.Location)))
	p.labelled(colW, "Code:", "mono", 13, inv.Code)
	if err := drawQR(f, inv.Link, marginLeft+textW-pad-qrSize, top+pad, qrSize); err != nil {
		return err
	}
	f.SetXY(marginLeft+pad, f.GetY()+1)
	f.SetFont("sans", "", 10)
	f.CellFormat(labelW, linkLineH, "Link:", "", 0, "L", false, 0, "")
	f.SetFont("mono", "", linkSize)
	for _, s := range link {
		f.SetX(marginLeft + pad + labelW)
		f.CellFormat(colW-labelW, linkLineH, s, "", 1, "L", false, 0, "")
	}
	f.SetY(top + boxH + 3)
	return nil
}

// labelled writes one line "label value" in the access box, the value in
// the given font.
func (p *letterPDF) labelled(w float64, label, font string, size float64, value string) {
	f := p.f
	const labelW = 30.0
	f.SetX(marginLeft + 4)
	f.SetFont("sans", "", 10)
	f.CellFormat(labelW, 6.5, label, "", 0, "L", false, 0, "")
	f.SetFont(font, "", size)
	f.CellFormat(w-labelW, 6.5, value, "", 1, "L", false, 0, "")
}

// closing draws the security note, where to get help, and the greeting.
func (p *letterPDF) closing(l Letter) {
	f := p.f
	f.SetFont("sans", "", 10)
	p.para("Link und Code gelten nur für Sie und nur einmal. Geben Sie sie nicht weiter, und bewahren Sie " +
		"diesen Brief nicht bei Ihrem Schlüssel auf. Ist die Frist abgelaufen, erhalten Sie vom IT-Service eine " +
		"neue Einladung.")
	f.Ln(2)
	var how []string
	if l.Sender.HelpPhone != "" {
		how = append(how, "Telefon "+l.Sender.HelpPhone)
	}
	if l.Sender.HelpEmail != "" {
		how = append(how, "E-Mail "+l.Sender.HelpEmail)
	}
	p.para("Fragen oder Probleme? Der IT-Service hilft Ihnen gern: " + strings.Join(how, ", ") + ".")
	f.Ln(3)
	p.para("Mit freundlichen Grüßen")
	p.para(l.Sender.Name)
}

// The link is printed as large as the body text, in DejaVu Sans Mono,
// whose 0/O and 1/l/I differ; its token has none of them anyway
// (NewToken).
const (
	linkSize  = 10.0 // pt
	linkLineH = 4.6  // mm
)

// breakLink splits a link into lines no wider than w in f's current font,
// after a slash or between the groups of its token (after a dash), so that
// no group is cut in two; a part wider than w alone is broken anywhere.
func breakLink(f *fpdf.Fpdf, s string, w float64) []string {
	var parts []string
	start := 0
	for i, r := range s {
		if r == '/' || r == '-' {
			parts = append(parts, s[start:i+1])
			start = i + 1
		}
	}
	parts = append(parts, s[start:])
	var lines []string
	cur := ""
	for _, p := range parts {
		if cur != "" && f.GetStringWidth(cur+p) > w {
			lines, cur = append(lines, cur), ""
		}
		if f.GetStringWidth(cur+p) > w {
			sub := breakAnywhere(f, cur+p, w)
			lines, cur = append(lines, sub[:len(sub)-1]...), sub[len(sub)-1]
			continue
		}
		cur += p
	}
	return append(lines, cur)
}

// breakAnywhere splits s into lines no wider than w in f's current font,
// breaking between any two characters (a link has no spaces).
func breakAnywhere(f *fpdf.Fpdf, s string, w float64) []string {
	var lines []string
	var cur []rune
	for _, r := range s {
		if len(cur) > 0 && f.GetStringWidth(string(append(cur, r))) > w {
			lines = append(lines, string(cur))
			cur = cur[:0]
		}
		cur = append(cur, r)
	}
	return append(lines, string(cur))
}

// drawQR draws content as a QR code (ISO/IEC 18004, error correction
// level M) of size × size mm at (x, y), as vector squares that print
// sharp. Runs of dark modules in a row are drawn as one rectangle.
func drawQR(f *fpdf.Fpdf, content string, x, y, size float64) error {
	code, err := qr.Encode(content, qr.M, qr.Auto)
	if err != nil {
		return fmt.Errorf("encode QR code: %w", err)
	}
	b := code.Bounds()
	n := b.Dx()
	m := size / float64(n)
	f.SetFillColor(0, 0, 0)
	dark := func(col, row int) bool {
		r, _, _, _ := code.At(b.Min.X+col, b.Min.Y+row).RGBA()
		return r < 0x8000
	}
	for row := range n {
		for col := 0; col < n; {
			if !dark(col, row) {
				col++
				continue
			}
			start := col
			for col < n && dark(col, row) {
				col++
			}
			// A hair taller than a module, so that no seam shows between rows.
			f.Rect(x+float64(start)*m, y+float64(row)*m, float64(col-start)*m, m+0.01, "F")
		}
	}
	return nil
}
