package enroll

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// NoticeLetter is the notice of a reset or of a factor added, by post: for
// a person without an e-mail address, or whose mail failed. It has the
// enrollment letter's layout (window, sender's block) and says what
// happened, when, and how to freeze the account if it was not her: the
// "this was not me" link as text and QR code, and the help phone.
type NoticeLetter struct {
	User    authn.User
	Address []string // her postal address without her name, as Letter.Address
	Sender  Sender
	Kind    string    // authn.NoticeReset or authn.NoticeFactorAdded
	Factor  string    // the factor added (FactorLabel), for NoticeFactorAdded
	At      time.Time // when it happened
	// FreezeLink is her "this was not me" link (a freeze token made for
	// this letter).
	FreezeLink string
	Date       time.Time      // the letter's date; zero means now
	Location   *time.Location // of the times printed; nil means time.Local
}

// Subjects of the notice letters.
const (
	NoticeResetSubject  = "Ihr Zugang zu Keyhall wurde zurückgesetzt – Hinweis"
	NoticeFactorSubject = "Neues Anmeldemittel für Ihren Zugang zu Keyhall"
)

func (n NoticeLetter) subject() string {
	if n.Kind == authn.NoticeReset {
		return n.Sender.name(NoticeResetSubject)
	}
	return n.Sender.name(NoticeFactorSubject)
}

// frame is the enrollment letter that carries n's window and sender's
// block (the layout helpers take a Letter).
func (n NoticeLetter) frame() Letter {
	return Letter{Invitation: Invitation{User: n.User}, Address: n.Address, Sender: n.Sender, Date: n.Date, Location: n.Location}
}

// check reports every missing or unprintable part of n.
func (n NoticeLetter) check() error {
	l := n.frame()
	l.Invitation.Link, l.Invitation.Code, l.Invitation.ExpiresAt = "-", "-", time.Unix(1, 0)
	errs := []error{l.check()}
	if n.FreezeLink == "" {
		errs = append(errs, errors.New("no freeze link"))
	}
	if n.Kind != authn.NoticeReset && n.Kind != authn.NoticeFactorAdded {
		errs = append(errs, fmt.Errorf("unknown notice %q", n.Kind))
	}
	return errors.Join(errs...)
}

// WriteNoticeLetters writes one A4 PDF with one page per notice letter,
// for DIN lang window envelopes, as WriteLetters does.
func WriteNoticeLetters(w io.Writer, ns []NoticeLetter) error {
	if len(ns) == 0 {
		return errors.New("write notice letter: no letters")
	}
	var p *letterPDF
	for i, n := range ns {
		if err := n.check(); err != nil {
			return fmt.Errorf("write notice letter %d (%s): %w", i+1, n.User.Username, err)
		}
		if n.Date.IsZero() {
			n.Date = time.Now()
		}
		if n.Location == nil {
			n.Location = time.Local
		}
		l := n.frame()
		if p == nil {
			p = newLetterPDF(l)
			p.f.SetTitle(n.subject(), true)
		} else {
			p.f.AddPage()
		}
		p.window(l)
		p.infoBlock(l)
		if err := p.notice(n); err != nil {
			return fmt.Errorf("write notice letter %d (%s): %w", i+1, n.User.Username, err)
		}
		if p.f.GetY() > pageBottom {
			return fmt.Errorf("write notice letter %d (%s): the text does not fit on one page", i+1, n.User.Username)
		}
	}
	if err := p.f.Output(w); err != nil {
		return fmt.Errorf("write notice letter: %w", err)
	}
	return nil
}

// notice draws the subject, what happened, the framed "this was not me"
// box with the link and its QR code, where to get help, and the greeting.
func (p *letterPDF) notice(n NoticeLetter) error {
	f := p.f
	l := n.frame()
	p.subject(n.subject())
	f.SetFont("sans", "", 10)
	p.para("Guten Tag " + l.recipient() + ",")
	f.Ln(1)
	when := GermanDateTime(n.At.In(n.Location))
	if n.Kind == authn.NoticeReset {
		p.para("der IT-Service hat am " + when + " Ihre Anmeldemittel bei " + n.Sender.called() + " zurückgesetzt: Ihre bisherigen " +
			"Sicherheitsschlüssel, Authenticator-Apps und Wiederherstellungscodes gelten nicht mehr, und alle Ihre " +
			"Sitzungen wurden beendet. Eine neue Einladung erhalten Sie mit einem eigenen Brief oder vom IT-Service.")
	} else {
		p.para("zu Ihrem Zugang bei " + n.Sender.called() + " wurde am " + when + " ein Anmeldemittel hinzugefügt: " + n.Factor + ". " +
			"Damit kann man sich als Sie anmelden.")
	}
	f.Ln(2)
	p.para("Wir schreiben Ihnen, weil wir für Sie keine E-Mail-Adresse haben oder die E-Mail nicht zugestellt werden konnte.")
	f.Ln(2)
	const pad = 4.0
	colW := textW - qrSize - 3*pad
	f.SetFont("mono", "", linkSize)
	link := breakLink(f, n.FreezeLink, colW)
	top := f.GetY() + 2
	f.SetFont("sans", "", 10)
	intro := "Dann sperren Sie Ihr Konto sofort: Scannen Sie den QR-Code oder geben Sie diesen Link in Ihren " +
		"Browser ein (er gilt 30 Tage und einmal). Danach kann sich niemand mehr als Sie anmelden, bis der IT-Service die Sperre aufhebt."
	introLines := len(f.SplitText(intro, colW))
	textH := 6 + float64(introLines)*lineH + 2 + float64(len(link))*linkLineH
	boxH := pad + max(qrSize, textH) + pad
	f.SetLineWidth(0.3)
	f.Rect(marginLeft, top, textW, boxH, "D")
	f.SetXY(marginLeft+pad, top+pad)
	f.SetFont("sans", "B", 11)
	f.CellFormat(colW, 6, "Das waren nicht Sie?", "", 1, "L", false, 0, "")
	f.SetFont("sans", "", 10)
	f.SetX(marginLeft + pad)
	f.MultiCell(colW, lineH, intro, "", "L", false)
	f.Ln(2)
	f.SetFont("mono", "", linkSize)
	for _, s := range link {
		f.SetX(marginLeft + pad)
		f.CellFormat(colW, linkLineH, s, "", 1, "L", false, 0, "")
	}
	if err := drawQR(f, n.FreezeLink, marginLeft+textW-pad-qrSize, top+pad, qrSize); err != nil {
		return err
	}
	f.SetY(top + boxH + 3)
	f.SetFont("sans", "", 10)
	var how []string
	if n.Sender.HelpPhone != "" {
		how = append(how, "Telefon "+n.Sender.HelpPhone)
	}
	if n.Sender.HelpEmail != "" {
		how = append(how, "E-Mail "+n.Sender.HelpEmail)
	}
	p.para("Rufen Sie danach bitte den IT-Service an: " + strings.Join(how, ", ") + ". Waren Sie es selbst, " +
		"müssen Sie nichts tun.")
	f.Ln(3)
	p.para("Mit freundlichen Grüßen")
	p.para(n.Sender.Name)
	return nil
}

// QueueNoticeLetter queues a notice letter for u (kind authn.NoticeReset
// or authn.NoticeFactorAdded; factor the label of the factor added): she
// has no e-mail address, or the mail failed. The IT desk prints the queue
// (desk.Service.PrintNoticeLetters); a person without a postal address
// stays in it, shown on the console as not notified.
func (s *Service) QueueNoticeLetter(ctx context.Context, u authn.User, kind, factor string, at time.Time) error {
	err := s.cfg.Store.QueueNoticeLetter(context.WithoutCancel(ctx), authn.NoticeLetter{ID: authn.NewID(), UserID: u.ID,
		Kind: kind, Detail: factor, CreatedAt: at})
	if err != nil {
		s.log.Warn("notice letter not queued", "user", u.Username, "kind", kind, "err", err)
		return err
	}
	return nil
}

// LetterFreezeLink stores a new "this was not me" token for the person and
// returns its link: one for each notice letter printed. Its token has no
// dash: on paper a dash at the end of a line reads as a hyphenation, and
// pdftotext (as a PDF reader copying the text) drops one that ends the
// link (TestNoticeLetterLink). About one bit of its 256 is given up.
func (s *Service) LetterFreezeLink(ctx context.Context, userID string) (string, error) {
	tok := NewFreezeToken()
	for strings.Contains(tok, "-") {
		tok = NewFreezeToken()
	}
	return s.storeFreezeLink(ctx, userID, tok)
}
