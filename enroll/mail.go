package enroll

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

// Message is a plain-text mail to one person.
type Message struct {
	To      string // the address alone, e.g. anna.mueller@stadt.example
	Subject string
	Body    string // UTF-8 text, lines separated by "\n"
}

// Mailer sends mail. A failure to send must never fail the action the mail
// tells of: the caller logs it (Notify) and goes on.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// ErrNoRecipient: a message without a valid address to send it to.
var ErrNoRecipient = errors.New("no recipient address")

// Notify sends m and logs a failure at warning level. It returns the error
// so that the caller may tell the person at the terminal or console; it
// must not fail the action because of it.
func Notify(ctx context.Context, mailer Mailer, logger *slog.Logger, m Message) error {
	if err := mailer.Send(ctx, m); err != nil {
		logger.Warn("mail not sent", "to", m.To, "subject", m.Subject, "err", err)
		return err
	}
	return nil
}

// Delivers reports whether m sends mail to people: not nil, and not the
// LogMailer that stands in when no SMTP server is configured.
func Delivers(m Mailer) bool {
	_, logOnly := m.(LogMailer)
	return m != nil && !logOnly
}

// LogMailer is the Mailer when no SMTP server is configured: it logs that
// a mail would have gone out, with its recipient and subject but never its
// body (which may hold an invitation's link and code).
type LogMailer struct {
	Logger *slog.Logger // nil: slog.Default()
}

// Send logs m's recipient and subject.
func (l LogMailer) Send(ctx context.Context, m Message) error {
	logger := l.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.InfoContext(ctx, "no SMTP server configured; mail not sent", "to", m.To, "subject", m.Subject)
	return nil
}

// StartTLS says when the SMTP client encrypts the connection (RFC 3207).
type StartTLS string

const (
	StartTLSAuto     StartTLS = "auto"     // when the server offers it
	StartTLSRequired StartTLS = "required" // refuse to send without it
	StartTLSOff      StartTLS = "off"      // never (a relay on localhost)
)

// SMTPConfig configures an SMTPMailer.
type SMTPConfig struct {
	Host string // the SMTP server's host name, also the TLS server name
	Port int    // 0: 587 (submission)
	// Username and Password, when Username is set, authenticate with AUTH
	// PLAIN, which net/smtp sends only over TLS or to localhost.
	Username, Password string
	// From is the sender, with an optional name:
	// "Stadt Münster <keyhall@stadt.example>".
	From     string
	StartTLS StartTLS      // "": StartTLSAuto
	Timeout  time.Duration // for the whole exchange; 0: 30 seconds
	// TLSConfig verifies the server; nil: the system's roots for Host.
	TLSConfig *tls.Config
	// HelloName is the name given in EHLO; "": "localhost".
	HelloName string
	Now       func() time.Time // nil: time.Now
}

// SMTPMailer sends mail through an SMTP server with net/smtp.
type SMTPMailer struct {
	cfg  SMTPConfig
	from *mail.Address
}

// NewSMTPMailer checks cfg and returns an SMTPMailer.
func NewSMTPMailer(cfg SMTPConfig) (*SMTPMailer, error) {
	var errs []error
	if cfg.Host == "" {
		errs = append(errs, errors.New("no SMTP host"))
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		errs = append(errs, fmt.Errorf("sender %q: %w", cfg.From, err))
	}
	switch cfg.StartTLS {
	case "":
		cfg.StartTLS = StartTLSAuto
	case StartTLSAuto, StartTLSRequired, StartTLSOff:
	default:
		errs = append(errs, fmt.Errorf("starttls %q is not auto, required or off", cfg.StartTLS))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("configure mail: %w", err)
	}
	if cfg.Port == 0 {
		cfg.Port = 587
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.HelloName == "" {
		cfg.HelloName = "localhost"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &SMTPMailer{cfg: cfg, from: from}, nil
}

// Send delivers m: it connects, says EHLO, starts TLS as configured,
// authenticates when a username is set, and sends the message.
func (s *SMTPMailer) Send(ctx context.Context, m Message) error {
	to, err := mail.ParseAddress(m.To)
	if err != nil || m.To == "" {
		return fmt.Errorf("send mail: %w: %q", ErrNoRecipient, m.To)
	}
	data, err := s.compose(to, m)
	if err != nil {
		return fmt.Errorf("send mail to %s: %w", to.Address, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("send mail to %s: connect: %w", to.Address, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() }) // a stalled server ends with ctx
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if err := s.exchange(conn, to.Address, data); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return fmt.Errorf("send mail to %s via %s: %w", to.Address, addr, err)
	}
	return nil
}

// exchange runs the SMTP dialogue on conn (RFC 5321 §3.3).
func (s *SMTPMailer) exchange(conn net.Conn, to string, data []byte) error {
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(s.cfg.HelloName); err != nil {
		return fmt.Errorf("ehlo: %w", err)
	}
	if s.cfg.StartTLS != StartTLSOff {
		if ok, _ := c.Extension("STARTTLS"); ok {
			tc := s.cfg.TLSConfig
			if tc == nil {
				tc = &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12}
			}
			if err := c.StartTLS(tc); err != nil {
				return fmt.Errorf("starttls: %w", err)
			}
		} else if s.cfg.StartTLS == StartTLSRequired {
			return errors.New("the server does not offer STARTTLS, and starttls is required")
		}
	}
	if s.cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("the server offers no AUTH, but a username is configured")
		}
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("quit: %w", err)
	}
	return nil
}

// compose writes the message (RFC 5322): From, To, Subject (RFC 2047
// Q-encoded when not ASCII), Date, Message-ID, and a UTF-8 text body in
// quoted-printable, with CRLF line ends.
func (s *SMTPMailer) compose(to *mail.Address, m Message) ([]byte, error) {
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, errors.New("the subject holds a line break")
	}
	var id [16]byte
	rand.Read(id[:]) // never fails (crypto/rand, Go ≥ 1.24)
	_, domain, _ := strings.Cut(s.from.Address, "@")
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", s.from.String())
	header("To", (&mail.Address{Address: to.Address}).String())
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", s.cfg.Now().Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated") // RFC 3834: no vacation replies
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	return b.Bytes(), nil
}
