package enroll_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// received is one mail the test server accepted.
type received struct {
	from, to, user string
	tls            bool
	data           []byte
}

// mailServer is a real SMTP server (emersion/go-smtp) in the test process.
type mailServer struct {
	addr   *net.TCPAddr
	mu     sync.Mutex // guards mails, conns, quits
	mails  []received
	conns  []*smtp.Conn // every connection, in order
	closed int          // sessions ended (QUIT or closed)
}

// startMailServer starts an SMTP server on 127.0.0.1; with tlsConf it
// offers STARTTLS and AUTH PLAIN (user "keyhall", password "s3cret").
func startMailServer(t *testing.T, tlsConf *tls.Config) *mailServer {
	t.Helper()
	ms := &mailServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		ms.mu.Lock()
		ms.conns = append(ms.conns, c)
		ms.mu.Unlock()
		return &mailSession{ms: ms, conn: c}, nil
	}))
	srv.Domain = "mail.test"
	srv.TLSConfig = tlsConf
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ms.addr = ln.Addr().(*net.TCPAddr)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ms
}

func (ms *mailServer) received() []received {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]received(nil), ms.mails...)
}

type mailSession struct {
	ms   *mailServer
	conn *smtp.Conn
	cur  received
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "keyhall" || pass != "s3cret" {
			return errors.New("wrong password")
		}
		s.cur.user = user
		return nil
	}), nil
}
func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error { s.cur.from = from; return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error   { s.cur.to = to; return nil }
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, s.cur.tls = s.conn.TLSConnectionState()
	s.cur.data = b
	s.ms.mu.Lock()
	s.ms.mails = append(s.ms.mails, s.cur)
	s.ms.mu.Unlock()
	return nil
}
func (s *mailSession) Reset() {}
func (s *mailSession) Logout() error {
	s.ms.mu.Lock()
	s.ms.closed++
	s.ms.mu.Unlock()
	return nil
}

// connections returns how many sessions the server began (one for each
// connection without STARTTLS) and how many of them ended.
func (ms *mailServer) connections() (conns, closed int) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return len(ms.conns), ms.closed
}

// dropAll closes every connection from the server's side, as a relay does
// to a client that waited too long.
func (ms *mailServer) dropAll() {
	ms.mu.Lock()
	conns := slices.Clone(ms.conns)
	ms.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// testTLS returns a server certificate for 127.0.0.1 and a pool that
// trusts it.
func testTLS(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mail.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

// readMail parses a received mail and returns its headers with the
// subject decoded, and its body decoded.
func readMail(t *testing.T, data []byte) (mail.Header, string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse mail: %v\n%s", err, data)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	m.Header["Subject"] = []string{subject}
	return m.Header, string(body)
}

func testNotices() enroll.Notices {
	u, _ := url.Parse("https://login.stadt.example")
	return enroll.Notices{PublicURL: u, Location: time.UTC,
		Sender: enroll.Sender{Name: "Stadt Münster", HelpPhone: "0251 492-1234", HelpEmail: "it@stadt.example"}}
}

func TestSMTPMailerStartTLSAuth(t *testing.T) {
	serverTLS, pool := testTLS(t)
	ms := startMailServer(t, serverTLS)
	m, err := enroll.NewSMTPMailer(enroll.SMTPConfig{
		Host: "127.0.0.1", Port: ms.addr.Port, Username: "keyhall", Password: "s3cret",
		From: "Stadt Münster <keyhall@stadt.example>", StartTLS: enroll.StartTLSRequired,
		TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}, Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	inv := enroll.Invitation{
		Link: "https://login.stadt.example/enroll/abc", Code: "K7XM-4RPQ-9TWD-3HNA",
		ExpiresAt: time.Date(2026, 3, 26, 13, 30, 0, 0, time.UTC),
		User:      authn.User{Username: "anna.müller", DisplayName: "Anna Müller", Email: "anna@stadt.example"},
	}
	if err := m.Send(context.Background(), testNotices().InvitationIssued(inv)); err != nil {
		t.Fatal(err)
	}
	got := ms.received()
	if len(got) != 1 || got[0].from != "keyhall@stadt.example" || got[0].to != "anna@stadt.example" ||
		got[0].user != "keyhall" || !got[0].tls {
		t.Fatalf("received %+v", got)
	}
	h, body := readMail(t, got[0].data)
	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Stadt Münster" || from[0].Address != "keyhall@stadt.example" {
		t.Errorf("From %q: %v %v", h.Get("From"), from, err)
	}
	if h.Get("To") != "<anna@stadt.example>" || h.Get("Subject") != "Ihre Anmeldung bei Keyhall / Your Keyhall sign-in" {
		t.Errorf("To %q, Subject %q", h.Get("To"), h.Get("Subject"))
	}
	if d, err := h.Date(); err != nil || time.Since(d) > time.Minute {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	if id := h.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@stadt.example>") {
		t.Errorf("Message-ID %q", id)
	}
	for _, want := range []string{"Guten Tag Anna Müller,", inv.Link, "https://login.stadt.example/enroll und",
		"Code:         K7XM-4RPQ-9TWD-3HNA", "bis 26.03.2026, 13:30 Uhr", "Hello Anna Müller,", "Telefon 0251 492-1234"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
}

func TestSMTPMailerPlainAndRefusals(t *testing.T) {
	ms := startMailServer(t, nil) // no STARTTLS, no AUTH
	cfg := enroll.SMTPConfig{Host: "127.0.0.1", Port: ms.addr.Port, From: "keyhall@stadt.example", Timeout: 5 * time.Second}
	u := authn.User{Username: "bernd", Email: "bernd@stadt.example"}
	msg := testNotices().Reset(u, authn.ResetReport{Keys: 1}, time.Now())
	m, _ := enroll.NewSMTPMailer(cfg) // starttls auto: plain when not offered
	if err := m.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	got := ms.received()
	if len(got) != 1 || got[0].tls {
		t.Fatalf("received %+v", got)
	}
	if raw := string(got[0].data); !strings.Contains(raw, "\r\nSubject: =?utf-8?q?Zugang_zur=C3=BCckgesetzt") {
		t.Errorf("the subject is not Q-encoded:\n%s", raw)
	}
	if h, _ := readMail(t, got[0].data); h.Get("Subject") != "Zugang zurückgesetzt / Account reset" {
		t.Errorf("subject %q", h.Get("Subject"))
	}

	cfg.StartTLS = enroll.StartTLSRequired
	m, _ = enroll.NewSMTPMailer(cfg)
	if err := m.Send(context.Background(), msg); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("starttls required without it: %v", err)
	}
	cfg.StartTLS, cfg.Username = enroll.StartTLSAuto, "keyhall"
	m, _ = enroll.NewSMTPMailer(cfg)
	if err := m.Send(context.Background(), msg); err == nil || !strings.Contains(err.Error(), "AUTH") {
		t.Errorf("auth without AUTH: %v", err)
	}
	msg.To = ""
	if err := m.Send(context.Background(), msg); !errors.Is(err, enroll.ErrNoRecipient) {
		t.Errorf("no recipient: %v", err)
	}
	if _, err := enroll.NewSMTPMailer(enroll.SMTPConfig{StartTLS: "maybe"}); err == nil ||
		!strings.Contains(err.Error(), "no SMTP host") || !strings.Contains(err.Error(), "starttls") {
		t.Errorf("bad config: %v", err)
	}
}

// A server that accepts and never answers ends the send at the timeout,
// and Notify only logs.
func TestSMTPMailerTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	m, _ := enroll.NewSMTPMailer(enroll.SMTPConfig{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port,
		From: "keyhall@stadt.example", Timeout: 300 * time.Millisecond})
	var logged bytes.Buffer
	start := time.Now()
	err = enroll.Notify(context.Background(), m, slog.New(slog.NewTextHandler(&logged, nil)),
		enroll.Message{To: "anna@stadt.example", Subject: "x", Body: "y"})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("stalled server: %v after %s", err, time.Since(start))
	}
	if !strings.Contains(logged.String(), "mail not sent") {
		t.Errorf("Notify logged %q", logged.String())
	}
}

func TestNoticesTexts(t *testing.T) {
	n := testNotices()
	u := authn.User{Username: "anna", DisplayName: "Anna Müller", Email: "anna@stadt.example"}
	at := time.Date(2026, 3, 12, 9, 5, 0, 0, time.UTC)
	tests := []struct {
		msg  enroll.Message
		want []string
	}{
		{n.FactorAdded(u, "Büro (YubiKey 5 NFC)", at, ""), []string{"hinzugefügt", "Büro (YubiKey 5 NFC)", "12.03.2026, 09:05 Uhr", "https://login.stadt.example/account", "was added"}},
		{n.FactorAdded(u, "Büro (YubiKey 5 NFC)", at, "https://login.stadt.example/freeze/abc"), []string{"sperren Sie Ihr Konto sofort mit diesem Link",
			"freeze your account at once with this link", "    https://login.stadt.example/freeze/abc\n"}},
		{n.FactorRemoved(u, "Authenticator-App", at), []string{"entfernt", "Authenticator-App", "was removed"}},
		{n.RecoveryCodeUsed(u, 9, at), []string{"noch 9 Codes", "9 codes left"}},
		{n.Reset(u, authn.ResetReport{Keys: 2, Apps: 1, RecoveryCodes: 10, Sessions: 3}, at), []string{"2 Sicherheitsschlüssel, 1 Apps", "3 Sitzungen", "2 security keys"}},
		{n.Reset(u, authn.ResetReport{Keys: 1, FreezeLink: "https://login.stadt.example/freeze/xyz"}, at), []string{"sind gesperrt und werden gelöscht",
			"sperren Sie Ihr Konto sofort mit diesem Link", "freeze your account at once", "    https://login.stadt.example/freeze/xyz\n"}},
	}
	for _, tt := range tests {
		if tt.msg.To != u.Email {
			t.Errorf("%q: to %q", tt.msg.Subject, tt.msg.To)
		}
		for _, w := range tt.want {
			if !strings.Contains(tt.msg.Body, w) {
				t.Errorf("%q lacks %q:\n%s", tt.msg.Subject, w, tt.msg.Body)
			}
		}
		if strings.Contains(tt.msg.Body, "/enroll/") {
			t.Errorf("%q holds an invitation link", tt.msg.Subject)
		}
		if de, en, _ := strings.Cut(tt.msg.Body, "----- English -----"); !strings.Contains(de, "Guten Tag") || !strings.Contains(en, "Hello") {
			t.Errorf("%q is not German first, English below", tt.msg.Subject)
		}
	}
}

// Mails in a row go over one connection; one the server closed meanwhile
// costs a new connection and no lost or doubled mail; Close ends the
// waiting ones.
func TestSMTPMailerReusesConnections(t *testing.T) {
	ms := startMailServer(t, nil)
	m, err := enroll.NewSMTPMailer(enroll.SMTPConfig{Host: "127.0.0.1", Port: ms.addr.Port, From: "keyhall@stadt.example", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	send := func(to string) {
		t.Helper()
		if err := m.Send(context.Background(), enroll.Message{To: to, Subject: "Hallo", Body: "Text"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		send(fmt.Sprintf("p%d@stadt.example", i))
	}
	if conns, _ := ms.connections(); conns != 1 {
		t.Errorf("5 mails in a row took %d connections, want 1", conns)
	}

	ms.dropAll() // the relay ends the waiting connection
	waitFor(t, func() bool { _, closed := ms.connections(); return closed == 1 })
	send("after-drop@stadt.example")
	if conns, _ := ms.connections(); conns != 2 {
		t.Errorf("after the server closed the connection: %d connections, want 2", conns)
	}
	var to []string
	for _, r := range ms.received() {
		to = append(to, r.to)
	}
	if want := []string{"p0@stadt.example", "p1@stadt.example", "p2@stadt.example", "p3@stadt.example", "p4@stadt.example", "after-drop@stadt.example"}; !slices.Equal(to, want) {
		t.Errorf("received for %v, want each once: %v", to, want)
	}

	// Several at once: each on a connection of its own, at most
	// maxIdleConns of which wait afterwards; Close ends them all.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := m.Send(context.Background(), enroll.Message{To: fmt.Sprintf("q%d@stadt.example", i), Subject: "x", Body: "y"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := len(ms.received()); got != 14 {
		t.Errorf("%d mails received, want 14", got)
	}
	m.Close()
	waitFor(t, func() bool { conns, closed := ms.connections(); return conns == closed })
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
	}
}
