package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// mailbox is a real SMTP server (emersion/go-smtp) in the test process; it
// keeps every mail it accepts.
type mailbox struct {
	addr *net.TCPAddr
	mu   sync.Mutex // guards raw
	raw  [][]byte   // the mails received since the last take, as sent
}

func startMailbox(t testing.TB) *mailbox {
	t.Helper()
	mb := &mailbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailboxSession{mb: mb}, nil }))
	srv.Domain = "mail.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb.addr = ln.Addr().(*net.TCPAddr)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return mb
}

// wait takes the mails received since the last take, waiting up to five
// seconds for at least n (mail sent in the background).
func (mb *mailbox) wait(n int) (heads []*mail.Message, bodies []string) {
	for deadline := time.Now().Add(5 * time.Second); ; {
		mb.mu.Lock()
		enough := len(mb.raw) >= n
		mb.mu.Unlock()
		if enough || time.Now().After(deadline) {
			return mb.take()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// take returns the mails received since the last take, parsed: their
// headers and decoded bodies. The server only keeps them as sent, as a
// relay takes mail, and the parsing is done here, outside the server: a
// benchmark's SMTP server runs in its process, but a city's relay runs on
// another machine.
func (mb *mailbox) take() (heads []*mail.Message, bodies []string) {
	mb.mu.Lock()
	raw := mb.raw
	mb.raw = nil
	mb.mu.Unlock()
	for _, r := range raw {
		m, err := mail.ReadMessage(bytes.NewReader(r))
		if err != nil {
			panic(fmt.Sprintf("the test's mailbox received a mail it cannot parse: %v\n%s", err, r))
		}
		b, err := io.ReadAll(quotedprintable.NewReader(m.Body))
		if err != nil {
			panic(fmt.Sprintf("the test's mailbox received a body it cannot decode: %v\n%s", err, r))
		}
		heads, bodies = append(heads, m), append(bodies, string(b))
	}
	return heads, bodies
}

type mailboxSession struct{ mb *mailbox }

func (s *mailboxSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailboxSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *mailboxSession) Reset()                               {}
func (s *mailboxSession) Logout() error                        { return nil }
func (s *mailboxSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.mb.mu.Lock()
	defer s.mb.mu.Unlock()
	s.mb.raw = append(s.mb.raw, b)
	return nil
}

// withMail rebuilds the fixture's enrollment service to send its mail to mb.
func (f *fixture) withMail(t testing.TB, mb *mailbox) {
	t.Helper()
	m, err := enroll.NewSMTPMailer(enroll.SMTPConfig{Host: "127.0.0.1", Port: mb.addr.Port, From: "Stadt <keyhall@stadt.example>",
		StartTLS: enroll.StartTLSOff, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}, Mailer: m,
		Notices: enroll.Notices{Sender: enroll.Sender{Name: "Stadt Musterstadt", HelpPhone: "0251 492-0"}}})
}

// withEmail gives u an e-mail address.
func (f *fixture) withEmail(u authn.User, email string) authn.User {
	f.t.Helper()
	u, err := f.store.UpdateUser(context.Background(), u.ID, func(u authn.User) (authn.User, error) {
		u.Email = email
		return u, nil
	}, f.audit("user.update"))
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

// noneRegistration answers the registration options with a new key's
// credential.toJSON(), "none" attestation, reporting aaguid
// (WebAuthn L3 §6.1 authenticator data, §8.7 none attestation).
func noneRegistration(t *testing.T, options []byte, origin string, aaguid uuid.UUID) []byte {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string
			RP        struct{ ID string }
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	k := newTestKey(t)
	rp := sha256.Sum256([]byte(o.PublicKey.RP.ID))
	auth := append(rp[:], 0x45, 0, 0, 0, 0) // UP, UV, AT; sign count 0
	auth = append(auth, aaguid[:]...)
	auth = binary.BigEndian.AppendUint16(auth, uint16(len(k.id)))
	auth = append(append(auth, k.id...), k.cose...)
	att := []byte{0xa3, 0x63, 'f', 'm', 't', 0x64, 'n', 'o', 'n', 'e', 0x67, 'a', 't', 't', 'S', 't', 'm', 't', 0xa0,
		0x68, 'a', 'u', 't', 'h', 'D', 'a', 't', 'a', 0x58, byte(len(auth))}
	att = append(att, auth...)
	cd, _ := json.Marshal(map[string]string{"type": "webauthn.create", "challenge": o.PublicKey.Challenge, "origin": origin})
	b64 := base64.RawURLEncoding.EncodeToString
	res, _ := json.Marshal(map[string]any{"id": b64(k.id), "rawId": b64(k.id), "type": "public-key",
		"response": map[string]string{"clientDataJSON": b64(cd), "attestationObject": b64(att)}})
	return res
}

// TestAccountFactorMail: adding a key on /account/factors, removing one and
// signing in with a recovery code each send the person a mail, read back
// from an SMTP server in the test, with links from the public URL only.
func TestAccountFactorMail(t *testing.T) {
	f := newFixture(t)
	mb := startMailbox(t)
	f.withMail(t, mb)
	anna := f.withEmail(f.addUser("anna"), "anna@stadt.example")
	old := newTestKey(t)
	f.addKey(anna, &old, 0)
	c := f.client()
	c.cookies[SessionCookie] = f.sessionCookie(anna, time.Now(), false).Value

	res, body := c.form("/account/factors/add", url.Values{"kind": {"key"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/enroll/key" {
		t.Fatalf("add a key: %d %s", res.StatusCode, body)
	}
	res = c.do("POST", "/enroll/key/begin", "application/json", strings.NewReader("{}"))
	options := readBody(t, res)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("begin: %d %s", res.StatusCode, options)
	}
	model := uuid.MustParse("ee882879-721c-4913-9775-3dfcce97072a")
	cred := noneRegistration(t, []byte(options), f.base, model)
	res, body = c.form("/enroll/key", url.Values{"credential": {string(cred)}, "nickname": {"Ersatz in der Schublade"}})
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Ersatz in der Schublade") {
		t.Fatalf("finish: %d %s", res.StatusCode, body)
	}
	heads, bodies := mb.take()
	if len(heads) != 1 {
		t.Fatalf("%d mails after adding a key, want 1", len(heads))
	}
	if to := heads[0].Header.Get("To"); to != "<anna@stadt.example>" {
		t.Errorf("mail to %q", to)
	}
	for _, want := range []string{"Ersatz in der Schublade (" + enroll.ModelName(model) + ")", f.base + "/account", "0251 492-0"} {
		if !strings.Contains(bodies[0], want) {
			t.Errorf("mail about the new key lacks %q:\n%s", want, bodies[0])
		}
	}
	checkLinks(t, f.base, bodies[0])

	res, body = c.form("/account/factors/remove", url.Values{"id": {old.credID}, "confirm": {"yes"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("remove: %d %s", res.StatusCode, body)
	}
	if heads, bodies = mb.take(); len(heads) != 1 || !strings.Contains(bodies[0], "YubiKey") ||
		!strings.Contains(heads[0].Header.Get("Subject"), "entfernt") {
		t.Fatalf("mails after removing: %d %v", len(heads), bodies)
	}
	checkLinks(t, f.base, bodies[0])

	// The mail about a recovery code goes out when the code is used up:
	// when the sign-in completes, not at a wrong password after it.
	f.setPassword(anna, testPassword)
	f.addRecoveryCodes(anna, "AAAA-BBBB-CCCC-DDDD", "EEEE-FFFF-GGGG-HHHH")
	for _, pw := range []string{"falsch", testPassword} {
		signin := f.client()
		if got := signin.startAt("anna"); got != "/login/recovery" {
			if res, _ := signin.form("/login/switch", url.Values{"to": {"recovery"}}); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("switch to recovery from %s: %d", got, res.StatusCode)
			}
		}
		if res, body := signin.form("/login/recovery", url.Values{"code": {"aaaa bbbb cccc dddd"}}); res.StatusCode != http.StatusSeeOther ||
			res.Header.Get("Location") != "/login/password" {
			t.Fatalf("recovery code (then password %q): %d %s", pw, res.StatusCode, body)
		}
		res, body := signin.form("/login/password", url.Values{"password": {pw}})
		if pw == testPassword && res.StatusCode != http.StatusSeeOther {
			t.Fatalf("right password: %d %s", res.StatusCode, body)
		}
		if pw != testPassword && res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d %s", res.StatusCode, body)
		}
	}
	if heads, bodies = mb.wait(1); len(heads) != 1 || !strings.Contains(bodies[0], "noch 1 Codes") {
		t.Fatalf("mails after a recovery code: %d %v", len(heads), bodies)
	}
	checkLinks(t, f.base, bodies[0])
}

// checkLinks fails t for a link in body that is not under base.
func checkLinks(t *testing.T, base, body string) {
	t.Helper()
	for _, l := range regexp.MustCompile(`https?://[^\s]+`).FindAllString(body, -1) {
		if !strings.HasPrefix(l, base+"/") {
			t.Errorf("mail links to %q, not under the public URL %s", l, base)
		}
	}
}
