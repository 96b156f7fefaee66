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
	"slices"
	"strconv"
	"strings"
	"sync"
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

// SMTPMailer sends mail through an SMTP server with net/smtp. It keeps
// up to maxIdleConns connections open for idleConnTimeout after a mail
// and sends the next mails over them (RFC 5321 §4.1.4: a new MAIL after a
// finished transaction), as mail relays expect of a client that sends many:
// a burst of registrations then costs one TCP and TLS handshake and one
// AUTH per connection, not per mail.
type SMTPMailer struct {
	cfg  SMTPConfig
	from *mail.Address

	mu   sync.Mutex // guards idle
	idle []*smtpConn
}

const (
	// maxIdleConns is how many connections wait for the next mail.
	maxIdleConns = 4
	// idleConnTimeout is how long a connection waits for the next mail:
	// well below the five minutes a server waits for a command (RFC 5321
	// §4.5.3.2.7), so that Keyhall, not the server, ends it.
	idleConnTimeout = 15 * time.Second
	// maxMailsPerConn bounds the mails over one connection; relays count
	// them (Postfix: smtpd_recipient_limit and rate limits per session).
	maxMailsPerConn = 100
)

// smtpConn is an open, greeted (and, as configured, encrypted and
// authenticated) connection to the server.
type smtpConn struct {
	conn  net.Conn
	c     *smtp.Client
	mails int
	timer *time.Timer // ends the connection once it has waited idleConnTimeout
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

// Send delivers m, over a connection that waits from an earlier mail or
// else a new one: it connects, says EHLO, starts TLS as configured,
// authenticates when a username is set, and sends the message. A waiting
// connection the server has meanwhile closed costs a second try on a new
// one; no mail is sent twice, for the server has taken none of it then.
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
	if sc := s.takeIdle(); sc != nil {
		started, err := s.send(ctx, sc, to.Address, data)
		if err == nil || started {
			return s.sendErr(ctx, to.Address, addr, err)
		}
		// The server ended the waiting connection before MAIL was taken.
	}
	sc, err := s.dial(ctx, addr)
	if err != nil {
		return s.sendErr(ctx, to.Address, addr, err)
	}
	_, err = s.send(ctx, sc, to.Address, data)
	return s.sendErr(ctx, to.Address, addr, err)
}

func (s *SMTPMailer) sendErr(ctx context.Context, to, addr string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return fmt.Errorf("send mail to %s via %s: %w", to, addr, err)
}

// dial opens a connection and runs the dialogue up to the first MAIL.
func (s *SMTPMailer) dial(ctx context.Context, addr string) (*smtpConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() }) // a stalled server ends with ctx
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c, err := s.greet(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &smtpConn{conn: conn, c: c}, nil
}

// greet says EHLO on conn, starts TLS and authenticates as configured
// (RFC 5321 §3.2, RFC 3207, RFC 4954).
func (s *SMTPMailer) greet(conn net.Conn) (*smtp.Client, error) {
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if err := c.Hello(s.cfg.HelloName); err != nil {
		return nil, fmt.Errorf("ehlo: %w", err)
	}
	if s.cfg.StartTLS != StartTLSOff {
		if ok, _ := c.Extension("STARTTLS"); ok {
			tc := s.cfg.TLSConfig
			if tc == nil {
				tc = &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12}
			}
			if err := c.StartTLS(tc); err != nil {
				return nil, fmt.Errorf("starttls: %w", err)
			}
		} else if s.cfg.StartTLS == StartTLSRequired {
			return nil, errors.New("the server does not offer STARTTLS, and starttls is required")
		}
	}
	if s.cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return nil, errors.New("the server offers no AUTH, but a username is configured")
		}
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
	}
	return c, nil
}

// send runs one mail transaction on sc (RFC 5321 §3.3) and then leaves sc
// waiting for the next mail, or ends it. started reports whether the
// server took MAIL, after which a failure must not be tried again.
func (s *SMTPMailer) send(ctx context.Context, sc *smtpConn, to string, data []byte) (started bool, err error) {
	stop := context.AfterFunc(ctx, func() { sc.conn.Close() })
	if dl, ok := ctx.Deadline(); ok {
		sc.conn.SetDeadline(dl)
	}
	err = sc.transaction(s.from.Address, to, data, &started)
	if !stop() || err != nil { // ctx ended the connection, or the dialogue failed
		sc.conn.Close()
		return started, err
	}
	sc.mails++
	s.putIdle(sc)
	return true, nil
}

func (sc *smtpConn) transaction(from, to string, data []byte, started *bool) error {
	if err := sc.c.Mail(from); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	*started = true
	if err := sc.c.Rcpt(to); err != nil {
		sc.c.Reset() // RSET: the connection may serve the next mail; it is closed anyway
		return fmt.Errorf("rcpt to: %w", err)
	}
	w, err := sc.c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	return nil
}

// takeIdle returns a waiting connection, or nil. Being in idle, under mu,
// is what makes a connection s's to take or to end: a timer that fired
// meanwhile finds it gone and leaves it be.
func (s *SMTPMailer) takeIdle() *smtpConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.idle)
	if n == 0 {
		return nil
	}
	sc := s.idle[n-1]
	s.idle = s.idle[:n-1]
	sc.timer.Stop()
	return sc
}

// putIdle lets sc wait for the next mail, or ends it with QUIT when enough
// connections wait or it has sent its share.
func (s *SMTPMailer) putIdle(sc *smtpConn) {
	s.mu.Lock()
	if len(s.idle) >= maxIdleConns || sc.mails >= maxMailsPerConn {
		s.mu.Unlock()
		sc.quit()
		return
	}
	sc.conn.SetDeadline(time.Time{})
	if sc.timer == nil {
		sc.timer = time.AfterFunc(idleConnTimeout, func() { s.expire(sc) })
	} else {
		sc.timer.Reset(idleConnTimeout)
	}
	s.idle = append(s.idle, sc)
	s.mu.Unlock()
}

// expire ends sc after it waited idleConnTimeout.
func (s *SMTPMailer) expire(sc *smtpConn) {
	s.mu.Lock()
	i := slices.Index(s.idle, sc)
	if i >= 0 {
		s.idle = slices.Delete(s.idle, i, i+1)
	}
	s.mu.Unlock()
	if i >= 0 {
		sc.quit()
	}
}

// quit ends sc politely (QUIT), without waiting long for the answer.
func (sc *smtpConn) quit() {
	sc.conn.SetDeadline(time.Now().Add(2 * time.Second))
	sc.c.Quit()
	sc.conn.Close()
}

// Close ends the connections that wait for a mail. Send may still be
// called afterwards; it opens a new connection.
func (s *SMTPMailer) Close() error {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, sc := range idle {
		sc.timer.Stop()
		sc.quit()
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
