package citizens

// Self-registration (issue #15): a citizen gives her e-mail address and a
// name (Start); Keyhall mails a link, valid LinkValidity, single use and
// bound to the browser that asked; the link (Confirm) creates her in the
// citizens' group and opens an ordinary enrollment for her.
//
// Nobody may learn from Start whether an address has an account: Start
// never reads who exists. It checks the form, counts the try under the
// address and the client's network (the only database write), seals the
// link and queues the mail; a worker reads whether the address is taken
// and mails either the link or "you already have an account". The answer
// and its time are the same either way.
//
// The link is stateless: the address, the name, the expiry and the hash of
// the browser's binding value, sealed with XChaCha20-Poly1305 under a key
// derived from the installation's encryption key. So Start writes no row
// for a registration (a flood of registrations fills no table, and a link
// asked for and never opened leaves nothing behind), and any process can
// open the link. It is used up, once, by marking its hash used
// (authn.PendingStore.UsePending, kept until it expires).

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// Limits of registration.
const (
	// registerAddrLimit mails may be asked for one address from one
	// client network (an IPv4 /24, an IPv6 /56), and registerNetLimit
	// registrations started from one network, in registerWindow; the
	// mails to one address from all networks are bounded as throttle.go
	// says.
	registerAddrLimit = 5
	registerNetLimit  = 30
	registerWindow    = time.Hour
	// registerQueueSize mails wait at most; registerWorkers send them.
	registerQueueSize = 1024
	registerWorkers   = 4
	// MaxDisplayName is the longest display name, in characters.
	MaxDisplayName = 64
	// mailTimeout bounds the sending of one registration mail.
	mailTimeout = time.Minute
	// removeBatch registrations are read at a time by RemoveUnfinished.
	removeBatch = 100
)

var registerLimits = limits{pair: registerAddrLimit, network: registerNetLimit, window: registerWindow}

// RegisterReason tells why registration refused something.
type RegisterReason string

// Reasons a registration is refused.
const (
	RegisterInvalid      RegisterReason = "invalid"       // the address or name is not acceptable
	RegisterThrottled    RegisterReason = "throttled"     // too many registrations for the address or network
	RegisterBusy         RegisterReason = "busy"          // the mail queue is full: try again in a minute
	RegisterLinkWrong    RegisterReason = "link-wrong"    // not a registration link of this installation
	RegisterLinkExpired  RegisterReason = "link-expired"  // older than LinkValidity
	RegisterLinkUsed     RegisterReason = "link-used"     // opened before
	RegisterOtherBrowser RegisterReason = "other-browser" // opened in another browser than the one that asked
	RegisterTaken        RegisterReason = "taken"         // the address has an account (registered meanwhile)
)

// RegisterError is a refusal a person can act on: DE and EN say what
// happened and what to do; Err is the cause, for the log only. Any other
// error from Start and Confirm means the storage is unavailable.
type RegisterError struct {
	Reason     RegisterReason
	DE, EN     string
	RetryAfter time.Duration // with RegisterThrottled and RegisterBusy
	Err        error
}

func (e *RegisterError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("register: %s: %s: %v", e.Reason, e.EN, e.Err)
	}
	return fmt.Sprintf("register: %s: %s", e.Reason, e.EN)
}

func (e *RegisterError) Unwrap() error { return e.Err }

// IsRegisterReason reports whether err is a *RegisterError with reason.
func IsRegisterReason(err error, reason RegisterReason) bool {
	e, ok := errors.AsType[*RegisterError](err)
	return ok && e.Reason == reason
}

func refuse(reason RegisterReason, de, en string, cause error) *RegisterError {
	return &RegisterError{Reason: reason, DE: de, EN: en, Err: cause}
}

// Request is what a citizen gives to register.
type Request struct {
	Email       string
	DisplayName string
	// Binding is the random value of the browser's registration cookie:
	// only that browser can use the link.
	Binding []byte
	Client  authn.ClientInfo
}

// Start checks r, counts it under the address and the client's network,
// and queues the mail; see the top of this file. It returns nil when the
// mail is queued, whether or not the address has an account.
func (s *Service) Start(ctx context.Context, r Request) error {
	email, name, err := checkRequest(r)
	if err != nil {
		return err
	}
	now := s.now()
	n, err := s.countAddressRequest(ctx, "register", "register:mail", email, r.Client.Addr, registerLimits)
	if err != nil {
		return fmt.Errorf("count registration: %w", err)
	}
	if n.refused(registerLimits) {
		e := refuse(RegisterThrottled,
			"Aus Ihrem Netz wurden zu viele Registrierungen begonnen (für diese Adresse oder insgesamt). Bitte versuchen Sie es in einer Stunde wieder.",
			"Too many registrations were started from your network (for this address or in all). Please try again in an hour.",
			fmt.Errorf("%d for the address from network %s, %d from it in all", n.pair, clientNetwork(r.Client.Addr), n.network))
		e.RetryAfter = registerWindow
		return e
	}
	token, err := s.sealLink(link{Email: email, Name: name, Binding: bindingHash(r.Binding), Expires: now.Add(LinkValidity)})
	if err != nil {
		return err
	}
	return s.reg.enqueue(regJob{email: email, link: RegisterLink(s.cfg.PublicURL.String(), token), expires: now.Add(LinkValidity),
		client: r.Client.Addr, overCap: n.address > addressMailCap})
}

// checkRequest returns the canonical address and the trimmed name of r, or
// a RegisterInvalid refusal.
func checkRequest(r Request) (email, name string, err error) {
	email, err = CanonicalEmail(r.Email)
	if errors.Is(err, ErrFoldedAddress) {
		return "", "", refuse(RegisterInvalid,
			"Diese Adresse enthält ein Zeichen wie „ß“, das bei Benutzernamen nicht von „ss“ unterschieden wird; sie kann daher nicht Ihr Benutzername sein. Bitte geben Sie eine andere Adresse an.",
			"This address holds a character such as \"ß\" that usernames do not tell apart from \"ss\"; so it cannot be your username. Please give another address.", err)
	}
	if err != nil {
		return "", "", refuse(RegisterInvalid,
			"Bitte geben Sie eine gültige E-Mail-Adresse an (höchstens 64 Zeichen, z. B. anna.mueller@example.org).",
			"Please give a valid e-mail address (at most 64 characters, e.g. anna.mueller@example.org).", err)
	}
	name = strings.TrimSpace(r.DisplayName)
	if n := utf8.RuneCountInString(name); n == 0 || n > MaxDisplayName || !utf8.ValidString(name) ||
		strings.ContainsFunc(name, func(c rune) bool { return unicode.IsControl(c) || unicode.Is(unicode.Cf, c) }) {
		return "", "", refuse(RegisterInvalid,
			fmt.Sprintf("Bitte geben Sie Ihren Namen an (1 bis %d Zeichen).", MaxDisplayName),
			fmt.Sprintf("Please give your name (1 to %d characters).", MaxDisplayName),
			fmt.Errorf("display name of %d characters", n))
	}
	if len(r.Binding) < 16 {
		return "", "", refuse(RegisterInvalid,
			"Ihr Browser hat kein Cookie gesendet. Bitte erlauben Sie Cookies für diese Seite und laden Sie sie neu.",
			"Your browser sent no cookie. Please allow cookies for this site and reload the page.",
			errors.New("no browser binding"))
	}
	return email, name, nil
}

// CanonicalEmail returns the form of an e-mail address that is a
// citizen's username and the address her mail goes to: a bare address (no
// name, no angle brackets), at most authn.MaxNameLength characters; the
// local part in NFC, lower-cased (Unicode simple lower case, never folded:
// "ß" stays "ß"); the domain as IDNA gives it (golang.org/x/net/idna,
// UTS #46 lookup, non-transitional), lower case, in Unicode, so that
// "Müller.de" and "xn--mller-kva.de" are one domain.
//
// An address that case folding would change (a "ß", a final sigma, a
// ligature, in its local part or its domain), or whose local part lower
// case turns into another letter ("İ" to "i"), is refused (ErrFoldedAddress):
// usernames are compared folded (authn.CanonicalName), so "anna@straße.de"
// and "anna@strasse.de", two mailboxes, would be one username, and mail
// for the one would go to the other (review of #15). ASCII addresses are
// only lower-cased, as before.
func CanonicalEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", fmt.Errorf("parse address: %w", err)
	}
	if a.Name != "" || a.Address != s {
		return "", errors.New("not a bare address")
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at <= 0 || !strings.Contains(a.Address[at+1:], ".") || strings.HasPrefix(a.Address[at+1:], "[") {
		return "", errors.New("no domain name")
	}
	local := norm.NFC.String(a.Address[:at])
	if err := lowerKeepsLetters(local); err != nil {
		return "", err
	}
	local = strings.ToLower(local)
	ascii, err := idna.Lookup.ToASCII(a.Address[at+1:])
	if err != nil {
		return "", fmt.Errorf("domain name: %w", err)
	}
	domain, err := idna.Lookup.ToUnicode(strings.ToLower(ascii))
	if err != nil {
		return "", fmt.Errorf("domain name: %w", err)
	}
	addr := local + "@" + domain
	c, err := authn.CanonicalName(addr)
	switch {
	case err != nil:
		return "", err
	case c != addr:
		return "", fmt.Errorf("%w: %q folds to %q", ErrFoldedAddress, addr, c)
	}
	return addr, nil
}

// lowerKeepsLetters refuses (ErrFoldedAddress) a local part whose lower
// case is another letter, as folding "ß" to "ss" is: a letter outside
// ASCII that becomes one inside ("İ" to "i", the Kelvin sign to "k"), or
// a lower case of another length.
func lowerKeepsLetters(local string) error {
	for _, r := range local {
		l := []rune(strings.ToLower(string(r)))
		if len(l) != 1 || (r >= utf8.RuneSelf && l[0] < utf8.RuneSelf) {
			return fmt.Errorf("%w: %q lower-cases to %q", ErrFoldedAddress, string(r), string(l))
		}
	}
	return nil
}

// ErrFoldedAddress: an address that case folding changes cannot be a
// username (CanonicalEmail).
var ErrFoldedAddress = errors.New("the address changes under case folding")

// clientNetwork is the network a client address is counted under: its
// /24 (IPv4) or /56 (IPv6); the address as it is if it does not parse.
func clientNetwork(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		if ap, perr := netip.ParseAddrPort(addr); perr == nil {
			ip, err = ap.Addr(), nil
		}
	}
	if err != nil {
		return addr
	}
	ip = ip.Unmap()
	bits := 56
	if ip.Is4() {
		bits = 24
	}
	p, _ := ip.WithZone("").Prefix(bits)
	return p.String()
}

// addressKey names an address in the throttle table without the address:
// an HMAC under a key derived from the encryption key, so that the table
// does not hold addresses, nor hashes anyone could match to one.
func (s *Service) addressKey(email string) string {
	key, err := hkdf.Key(sha256.New, s.cfg.EncryptionKey[:], nil, "keyhall registration throttle", 32)
	if err != nil { // never for SHA-256 and 32 bytes
		panic(err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(email))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// bindingHash is what a link keeps of the browser's binding value.
func bindingHash(b []byte) [16]byte {
	sum := sha256.Sum256(append([]byte("keyhall registration binding:"), b...))
	return [16]byte(sum[:16])
}

// RegisterLink is the address a registration token is opened at.
func RegisterLink(publicURL, token string) string {
	return strings.TrimSuffix(publicURL, "/") + "/register/confirm/" + token
}

// link is what a registration link carries, sealed.
type link struct {
	Email, Name string
	Binding     [16]byte
	Expires     time.Time
}

// linkVersion is the first byte of a sealed link; linkAAD binds the seal to
// its purpose.
const linkVersion = 1

var linkAAD = []byte("keyhall registration link v1")

// maxLinkLen bounds a token, longer than any link Start makes.
const maxLinkLen = 1024

func (s *Service) linkAEAD() (interface {
	NonceSize() int
	Overhead() int
	Seal(dst, nonce, plaintext, additionalData []byte) []byte
	Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
}, error) {
	if s.cfg.EncryptionKey == ([32]byte{}) {
		return nil, errors.New("no encryption key to seal registration links with")
	}
	key, err := hkdf.Key(sha256.New, s.cfg.EncryptionKey[:], nil, "keyhall registration link", chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	return chacha20poly1305.NewX(key)
}

// sealLink returns the token of l: base64url of a random nonce and l,
// sealed.
func (s *Service) sealLink(l link) (string, error) {
	aead, err := s.linkAEAD()
	if err != nil {
		return "", fmt.Errorf("seal registration link: %w", err)
	}
	plain := []byte{linkVersion}
	plain = binary.BigEndian.AppendUint64(plain, uint64(l.Expires.Unix()))
	plain = append(plain, l.Binding[:]...)
	plain = binary.AppendUvarint(plain, uint64(len(l.Email)))
	plain = append(plain, l.Email...)
	plain = append(plain, l.Name...)
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	rand.Read(nonce) // never fails (crypto/rand, Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, plain, linkAAD)), nil
}

var errLinkWrong = errors.New("not a registration link of this installation")

// openLink returns the link sealed in token and the token's raw bytes, or
// errLinkWrong for anything this installation did not seal (or that was
// changed). It does not check the expiry.
func (s *Service) openLink(token string) (link, []byte, error) {
	if len(token) > maxLinkLen {
		return link{}, nil, errLinkWrong
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return link{}, nil, errLinkWrong
	}
	aead, err := s.linkAEAD()
	if err != nil {
		return link{}, nil, err
	}
	n := aead.NonceSize()
	if len(raw) < n+aead.Overhead() {
		return link{}, nil, errLinkWrong
	}
	plain, err := aead.Open(nil, raw[:n], raw[n:], linkAAD)
	if err != nil {
		return link{}, nil, errLinkWrong
	}
	l, err := decodeLink(plain)
	return l, raw, err
}

// decodeLink reads what sealLink sealed; only authenticated bytes reach
// it, but it checks every length all the same.
func decodeLink(b []byte) (link, error) {
	const head = 1 + 8 + 16
	if len(b) < head || b[0] != linkVersion {
		return link{}, errLinkWrong
	}
	var l link
	l.Expires = time.Unix(int64(binary.BigEndian.Uint64(b[1:9])), 0).UTC()
	copy(l.Binding[:], b[9:head])
	b = b[head:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return link{}, errLinkWrong
	}
	l.Email, l.Name = string(b[k:k+int(n)]), string(b[k+int(n):])
	if !utf8.ValidString(l.Email) || !utf8.ValidString(l.Name) {
		return link{}, errLinkWrong
	}
	return l, nil
}

// Confirm opens the registration link token in the browser whose binding
// value is binding: it creates the citizen (local, her address as
// username, e-mail and verified e-mail, her name), adds her to the
// citizens' group (made if missing), records the registration as
// unfinished, and opens her enrollment (an invitation made for her and
// redeemed at once), whose Progress it returns. A link that is malformed,
// expired, used or opened in another browser, and an address that has an
// account, are refused (*RegisterError) with nothing created; an
// unfinished registration of the same address is replaced.
func (s *Service) Confirm(ctx context.Context, token string, binding []byte, c authn.ClientInfo) (enroll.Progress, error) {
	rs, err := s.registrations()
	if err != nil {
		return enroll.Progress{}, err
	}
	l, raw, err := s.checkLink(token, binding)
	if err != nil {
		return enroll.Progress{}, err
	}
	if err := s.cfg.Store.UsePending(ctx, authn.HashPendingID(raw), l.Expires); err != nil {
		if errors.Is(err, authn.ErrUsed) {
			return enroll.Progress{}, refuse(RegisterLinkUsed,
				"Dieser Registrierungslink wurde bereits verwendet. Melden Sie sich an, oder registrieren Sie sich neu, falls Sie die Registrierung nicht abgeschlossen haben.",
				"This registration link was used before. Sign in, or register again if you did not finish your registration.", err)
		}
		return enroll.Progress{}, fmt.Errorf("use registration link: %w", err)
	}
	if err := s.replaceUnfinished(ctx, rs, l.Email); err != nil {
		return enroll.Progress{}, err
	}
	u, err := s.createCitizen(ctx, rs, l, c)
	if err != nil {
		return enroll.Progress{}, err
	}
	inv, err := s.cfg.Enroll.IssueWith(ctx, u.ID, enroll.Terms{Validity: UnfinishedAfter, ClientAddr: c.Addr,
		Audit: map[string]string{"via": "self-registration"}}, "user:"+u.ID, "self-registration")
	if err != nil {
		return enroll.Progress{}, fmt.Errorf("register %s: %w", u.ID, err)
	}
	return s.cfg.Enroll.Redeem(ctx, enroll.Redemption{Token: path.Base(inv.Link), Client: c})
}

// CheckLink tells whether the registration link token may be opened in
// the browser whose binding value is binding, without using it: nil, or
// the refusal Confirm would give (but for a link used before, which only
// Confirm finds).
func (s *Service) CheckLink(ctx context.Context, token string, binding []byte) error {
	_, _, err := s.checkLink(token, binding)
	return err
}

// checkLink opens token and checks its expiry and browser.
func (s *Service) checkLink(token string, binding []byte) (link, []byte, error) {
	l, raw, err := s.openLink(token)
	switch {
	case errors.Is(err, errLinkWrong):
		return link{}, nil, refuse(RegisterLinkWrong,
			"Dieser Registrierungslink ist ungültig. Bitte prüfen Sie, ob Sie ihn vollständig kopiert haben, oder registrieren Sie sich neu.",
			"This registration link is not valid. Please check that you copied all of it, or register again.", err)
	case err != nil:
		return link{}, nil, fmt.Errorf("open registration link: %w", err)
	case !s.now().Before(l.Expires):
		return link{}, nil, refuse(RegisterLinkExpired,
			"Dieser Registrierungslink ist abgelaufen (er gilt 30 Minuten). Bitte registrieren Sie sich neu.",
			"This registration link has expired (it is valid for 30 minutes). Please register again.",
			fmt.Errorf("expired at %s", l.Expires))
	}
	want := bindingHash(binding)
	if len(binding) == 0 || subtle.ConstantTimeCompare(want[:], l.Binding[:]) != 1 {
		return link{}, nil, refuse(RegisterOtherBrowser,
			"Bitte öffnen Sie den Link in dem Browser, in dem Sie sich registriert haben (auf demselben Gerät). Aus Sicherheitsgründen gilt er nur dort.",
			"Please open the link in the browser where you registered (on the same device). For your security it works only there.",
			errors.New("the browser's binding does not match the link's"))
	}
	return l, raw, nil
}

// errTaken is the refusal of an address that has an account.
func errTaken(cause error) error {
	return refuse(RegisterTaken,
		"Für diese E-Mail-Adresse besteht bereits ein Zugang. Bitte melden Sie sich an.",
		"There is an account for this e-mail address already. Please sign in.", cause)
}

// registrations returns the store's RegistrationStore.
func (s *Service) registrations() (authn.RegistrationStore, error) {
	rs, ok := s.cfg.Store.(authn.RegistrationStore)
	if !ok {
		return nil, errors.New("register: the store keeps no registrations")
	}
	return rs, nil
}

// replaceUnfinished removes the unfinished registration of email, if
// there is one; an address with a finished account, or any other person's,
// is refused.
func (s *Service) replaceUnfinished(ctx context.Context, rs authn.RegistrationStore, email string) error {
	if other, err := s.addressElsewhere(ctx, email); err != nil {
		return fmt.Errorf("register: look up address: %w", err)
	} else if other != "" {
		return errTaken(fmt.Errorf("%s is the address of person %s", email, other))
	}
	u, err := s.userByAddress(ctx, email)
	switch {
	case errors.Is(err, authn.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("register: look up address: %w", err)
	}
	reg, err := rs.GetRegistration(ctx, u.ID)
	switch {
	case errors.Is(err, authn.ErrNotFound):
		return errTaken(fmt.Errorf("%s is person %s", email, u.ID))
	case err != nil:
		return fmt.Errorf("register: read registration: %w", err)
	case !reg.FinishedAt.IsZero():
		return errTaken(fmt.Errorf("%s registered and finished at %s", email, reg.FinishedAt))
	}
	err = rs.EraseRegistration(ctx, u.ID, s.eraseEvent(u.ID, "replaced by a newer registration of the same address"))
	switch {
	case errors.Is(err, authn.ErrUsed):
		return errTaken(err)
	case err != nil && !errors.Is(err, authn.ErrNotFound):
		return fmt.Errorf("register: replace unfinished registration: %w", err)
	}
	s.log.Info("an unfinished registration was replaced by a newer one", "user", authn.Pseudonym(u.ID))
	return nil
}

func (s *Service) eraseEvent(userID, why string) authn.AuditEvent {
	return authn.AuditEvent{Time: s.now(), Actor: "system", Action: "registration.remove",
		Subject: authn.Pseudonym(userID), Details: map[string]string{"why": why}}
}

// createCitizen records the registration, then creates the person and
// adds her to the citizens' group (the record comes first, so that
// whatever a failure leaves behind is removed with it).
func (s *Service) createCitizen(ctx context.Context, rs authn.RegistrationStore, l link, c authn.ClientInfo) (authn.User, error) {
	now := s.now()
	g, err := s.citizensGroup(ctx)
	if err != nil {
		return authn.User{}, err
	}
	u := authn.User{ID: authn.NewID(), Username: l.Email, DisplayName: l.Name, Email: l.Email, VerifiedEmail: l.Email,
		Status: authn.StatusActive, Source: authn.SourceLocal, CreatedAt: now, UpdatedAt: now}
	if err := rs.CreateRegistration(ctx, authn.Registration{UserID: u.ID, Email: l.Email, CreatedAt: now}); err != nil {
		return authn.User{}, fmt.Errorf("register: %w", err)
	}
	subject := "user:" + u.ID
	err = s.cfg.Store.CreateUser(ctx, u, authn.AuditEvent{Time: now, Actor: subject, Action: "user.register",
		Subject: subject, ClientAddr: c.Addr, Details: map[string]string{"username": u.Username, "email_verified": "true"}})
	switch {
	case errors.Is(err, authn.ErrAlreadyExists):
		// Registered meanwhile, by a link of her own that was faster.
		s.eraseQuietly(ctx, rs, u.ID, "the address was registered meanwhile")
		return authn.User{}, errTaken(err)
	case err != nil:
		s.eraseQuietly(ctx, rs, u.ID, "the person could not be created")
		return authn.User{}, fmt.Errorf("register: %w", err)
	}
	err = s.cfg.Store.AddMember(ctx, g.ID, u.ID, authn.AuditEvent{Time: now, Actor: subject, Action: "group.member.add",
		Subject: subject, ClientAddr: c.Addr, Details: map[string]string{"group": g.Name, "via": "self-registration"}})
	if err != nil {
		s.eraseQuietly(ctx, rs, u.ID, "she could not join the citizens' group")
		return authn.User{}, fmt.Errorf("register: join %s: %w", g.Name, err)
	}
	return u, nil
}

// eraseQuietly removes what a registration that failed half-way created;
// if that fails too, RemoveUnfinished removes it later.
func (s *Service) eraseQuietly(ctx context.Context, rs authn.RegistrationStore, userID, why string) {
	ctx = context.WithoutCancel(ctx)
	if err := rs.EraseRegistration(ctx, userID, s.eraseEvent(userID, why)); err != nil {
		s.log.Warn("could not remove a failed registration; it is removed a day later", "err", err)
	}
}

// citizensGroup returns the citizens' group, made (local) if missing.
func (s *Service) citizensGroup(ctx context.Context) (authn.Group, error) {
	g, err := s.cfg.Store.GetGroupByName(ctx, s.cfg.Group)
	if !errors.Is(err, authn.ErrNotFound) {
		if err != nil {
			return g, fmt.Errorf("register: read group %s: %w", s.cfg.Group, err)
		}
		return g, nil
	}
	now := s.now()
	g = authn.Group{ID: authn.NewID(), Name: s.cfg.Group, DisplayName: "Bürgerinnen und Bürger",
		Source: authn.SourceLocal, CreatedAt: now}
	err = s.cfg.Store.CreateGroup(ctx, g, authn.AuditEvent{Time: now, Actor: "system", Action: "group.create",
		Subject: "group:" + g.ID, Details: map[string]string{"name": g.Name, "via": "self-registration"}})
	if errors.Is(err, authn.ErrAlreadyExists) { // made meanwhile by another registration
		return s.citizensGroup(ctx)
	}
	if err != nil {
		return g, fmt.Errorf("register: create group %s: %w", s.cfg.Group, err)
	}
	return g, nil
}

// RegistrationDone marks the registration of the person with userID
// finished, when she registered herself and has a key or app stored (her
// enrollment is done: web calls it when enroll.Service.Finish finished).
// Anyone else is left as she is.
func (s *Service) RegistrationDone(ctx context.Context, userID string) error {
	rs, err := s.registrations()
	if err != nil {
		return err
	}
	reg, err := rs.GetRegistration(ctx, userID)
	switch {
	case errors.Is(err, authn.ErrNotFound):
		return nil
	case err != nil:
		return err
	case !reg.FinishedAt.IsZero():
		return nil
	}
	creds, err := s.cfg.Store.ListCredentials(ctx, userID)
	if err != nil {
		return fmt.Errorf("finish registration: %w", err)
	}
	for _, c := range creds {
		if c.Kind == authn.KindWebAuthn || c.Kind == authn.KindTOTP {
			return rs.FinishRegistration(ctx, userID, s.now())
		}
	}
	return nil
}

// RemoveUnfinished removes the registrations not finished within
// UnfinishedAfter, with everything they created (see
// authn.RegistrationStore.EraseRegistration), and returns how many.
func (s *Service) RemoveUnfinished(ctx context.Context) (int, error) {
	rs, err := s.registrations()
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		regs, err := rs.UnfinishedRegistrations(ctx, s.now().Add(-UnfinishedAfter), removeBatch)
		if err != nil {
			return n, fmt.Errorf("remove unfinished registrations: %w", err)
		}
		for _, r := range regs {
			err := rs.EraseRegistration(ctx, r.UserID, s.eraseEvent(r.UserID, "not finished within 24 hours"))
			switch {
			case errors.Is(err, authn.ErrUsed), errors.Is(err, authn.ErrNotFound): // finished or gone meanwhile
			case err != nil:
				return n, fmt.Errorf("remove unfinished registrations: %w", err)
			default:
				n++
			}
		}
		if len(regs) < removeBatch {
			return n, nil
		}
	}
}

// regJob is one queued registration mail.
type regJob struct {
	email, link string
	expires     time.Time
	client      string // the client address that asked
	// overCap: more registrations for the address this hour than
	// addressMailCap; mailed only from a network of hers (throttle.go).
	overCap bool
}

// registrar sends the registration mails from a bounded queue, so that
// Start neither waits for the mail server nor reads who exists.
type registrar struct {
	s       *Service
	queue   chan regJob
	workers int
	once    sync.Once // starts the workers at the first job

	mu      sync.Mutex     // guards closed and the adds to pending
	closed  bool           // Drain began: no more jobs
	pending sync.WaitGroup // jobs queued or being sent
	left    atomic.Int64   // the same, counted for Drain's answer
}

func newRegistrar(s *Service, size, workers int) *registrar {
	return &registrar{s: s, queue: make(chan regJob, size), workers: workers}
}

// enqueue queues j, or refuses with RegisterBusy when the queue is full.
func (r *registrar) enqueue(j regJob) error {
	r.once.Do(func() {
		for range r.workers {
			go r.work()
		}
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return r.busy(errors.New("the process is shutting down"))
	}
	r.pending.Add(1) // before a worker can take it and be done
	r.left.Add(1)
	select {
	case r.queue <- j:
		return nil
	default:
		r.left.Add(-1)
		r.pending.Done()
		return r.busy(fmt.Errorf("mail queue full (%d)", cap(r.queue)))
	}
}

// busy is the refusal of a registration whose mail cannot be queued.
func (r *registrar) busy(cause error) error {
	e := refuse(RegisterBusy,
		"Gerade registrieren sich sehr viele Menschen. Bitte versuchen Sie es in einer Minute noch einmal.",
		"Very many people are registering right now. Please try again in a minute.",
		cause)
	e.RetryAfter = time.Minute
	return e
}

// work sends queued mails for as long as the process runs.
func (r *registrar) work() {
	for j := range r.queue {
		r.send(j)
		r.left.Add(-1)
		r.pending.Done()
	}
}

// Drain is for a graceful shutdown, once the HTTP server has stopped: it
// takes no more registrations (Start refuses them as RegisterBusy) and
// waits until the registration mails queued so far are sent, and the
// recovery lookups queued (QueueRecovery) have mailed their links, or ctx
// ends. It returns how many were not done by then (queued, or still being
// sent): they are lost with the process, and the caller logs it; their
// people register or ask for a link again.
func (s *Service) Drain(ctx context.Context) int {
	r := s.reg
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.pending.Wait(); s.rec.wg.Wait(); close(done) }()
	select {
	case <-done:
		return 0
	case <-ctx.Done():
		return int(r.left.Load() + s.rec.running.Load())
	}
}

// send mails j's address either its link or, when it has an account
// (not just an unfinished registration), the note that it has one.
func (r *registrar) send(j regJob) {
	s := r.s
	ctx, cancel := context.WithTimeout(context.Background(), mailTimeout)
	defer cancel()
	if !s.now().Before(j.expires) {
		s.log.Warn("a registration mail waited longer than its link is valid; not sent")
		return
	}
	taken, err := s.addressTaken(ctx, j.email)
	if err != nil {
		s.log.Error("registration mail not sent: cannot read whether the address has an account", "err", err)
		return
	}
	if j.overCap && !s.ownAddressNetwork(ctx, j) {
		return
	}
	m := s.linkMail(j)
	if taken {
		m = s.takenMail(j)
	}
	if s.cfg.Mailer == nil {
		s.log.Error("registration mail not sent: no mailer")
		return
	}
	enroll.Notify(ctx, s.cfg.Mailer, s.log, m)
}

// ownAddressNetwork reports whether j, over the address's hourly cap,
// comes from a network one of the address's people signed in from; if
// not, it logs that the mail is not sent.
func (s *Service) ownAddressNetwork(ctx context.Context, j regJob) bool {
	people, err := s.usersByEmail(ctx, j.email)
	if err != nil {
		s.log.Error("registration mail not sent: cannot read who has the address", "err", err)
		return false
	}
	for _, u := range people {
		own, err := s.ownNetwork(ctx, u.ID, j.client)
		if err != nil {
			s.log.Error("registration mail not sent: cannot read sign-in networks", "err", err)
			return false
		}
		if own {
			return true
		}
	}
	s.log.Warn("registration mail not sent: too many registrations for the address this hour, and this one is not from a network of its account",
		"network", clientNetwork(j.client), "cap", addressMailCap)
	return false
}

// addressTaken reports whether email has an account that is not an
// unfinished registration.
// It reads the same for a new address as for a known one (the second read
// for an id that does not exist), so that the work it leaves on the
// machine does not differ either.
func (s *Service) addressTaken(ctx context.Context, email string) (bool, error) {
	if other, err := s.addressElsewhere(ctx, email); err != nil || other != "" {
		return other != "", err
	}
	u, err := s.userByAddress(ctx, email)
	known := err == nil
	switch {
	case errors.Is(err, authn.ErrNotFound):
		u.ID = authn.NewID()
	case err != nil:
		return false, err
	}
	rs, err := s.registrations()
	if err != nil {
		return false, err
	}
	reg, err := rs.GetRegistration(ctx, u.ID)
	switch {
	case !known:
		return false, nil
	case errors.Is(err, authn.ErrNotFound):
		return true, nil
	case err != nil:
		return false, err
	}
	return !reg.FinishedAt.IsZero(), nil
}

// linkMail is the mail with the registration link.
func (s *Service) linkMail(j regJob) enroll.Message {
	return s.mail(j, "Ihre Registrierung / Your registration",
		"Sie haben sich mit dieser E-Mail-Adresse registriert. Öffnen Sie diesen Link innerhalb von 30 Minuten "+
			"in dem Browser, in dem Sie sich registriert haben, und richten Sie dort Ihren Passkey oder Ihre "+
			"Authenticator-App ein:\n\n    "+j.link+"\n\nDer Link gilt nur einmal. Haben Sie sich nicht registriert, "+
			"beachten Sie diese E-Mail nicht: ohne den Link entsteht kein Zugang.",
		"You registered with this e-mail address. Open this link within 30 minutes in the browser where you "+
			"registered, and set up your passkey or authenticator app there:\n\n    "+j.link+"\n\nThe link works "+
			"once. If you did not register, ignore this e-mail: without the link no account is created.")
}

// takenMail tells an address that has an account how to sign in: as she
// usually does. The account may be a citizen's, whose username is the
// address, or a councillor's or staff member's, whose username is not
// (review of #15); the mail says which is which without reading it.
func (s *Service) takenMail(j regJob) enroll.Message {
	login := strings.TrimSuffix(s.cfg.PublicURL.String(), "/") + "/login"
	return s.mail(j, "Sie haben bereits einen Zugang / You already have an account",
		"Jemand hat sich soeben mit dieser E-Mail-Adresse registrieren wollen. Sie haben bereits einen Zugang: "+
			"melden Sie sich hier an, wie Sie es gewohnt sind – mit Ihrem Passkey oder Sicherheitsschlüssel, oder "+
			"mit Ihrem Benutzernamen und dem Code Ihrer Authenticator-App (haben Sie sich selbst registriert, ist Ihr "+
			"Benutzername diese E-Mail-Adresse; sonst der, den Ihnen der IT-Service gab):\n\n    "+login+
			"\n\nHaben Sie Ihren Passkey oder Ihre App verloren, wählen Sie dort einen Ihrer Wiederherstellungscodes "+
			"oder wenden Sie sich an den IT-Service; wo Ihre Stadt es zulässt, können Sie Ihren Zugang auch über diese "+
			"E-Mail-Adresse wiederherstellen. Waren Sie es nicht, beachten Sie diese E-Mail nicht: an Ihrem Zugang hat "+
			"sich nichts geändert.",
		"Someone just tried to register with this e-mail address. You already have an account: sign in here as you "+
			"usually do – with your passkey or security key, or with your username and your authenticator app's code "+
			"(if you registered yourself, your username is this e-mail address; otherwise it is the one the IT service "+
			"gave you):\n\n    "+login+"\n\nIf you lost your passkey or app, use one of your recovery codes there or "+
			"contact the IT service; where your city allows it, you can also recover your account through this e-mail "+
			"address. If it was not you, ignore this e-mail: nothing changed in your account.")
}

// mail writes a registration mail, German first and English below. It
// greets nobody by name: the name is whatever the form was given, and the
// mail goes to an address the form named, so no text of the form's goes
// into it.
func (s *Service) mail(j regJob, subject, de, en string) enroll.Message {
	n := s.cfg.Notices
	var b strings.Builder
	fmt.Fprintf(&b, "Guten Tag,\n\n%s\n", de)
	b.WriteString("\n----- English -----\n\n")
	fmt.Fprintf(&b, "Hello,\n\n%s\n", en)
	if n.Sender.Name != "" {
		b.WriteString("\n-- \n" + n.Sender.Name + "\n")
	}
	return enroll.Message{To: j.email, Subject: subject, Body: b.String()}
}

// KeyPolicy is the citizens' group's key policy where the configuration
// gives it none, or adds to the one it gives: any passkey (synced ones
// too) or key that verifies the person, an app also alone, and no
// password, ever (enroll.KeyPolicy.NoPassword).
func KeyPolicy(configured enroll.KeyPolicy, given bool) enroll.KeyPolicy {
	if !given {
		configured = enroll.DefaultKeyPolicy()
	}
	// A group that asks a level (mfa and up) keeps the password a code
	// needs beside it, or an app-only citizen could not reach the level.
	configured.NoPassword, configured.RequireUV = configured.SignInLevel == authn.LevelNone, true
	return configured
}

// SignInPolicy is the citizens' group's sign-in policy, as KeyPolicy: a
// key must verify the person, an app is admitted, and a code signs in
// without a password (authn.GroupPolicy.NoPassword), unless the group's
// policy asks a level (then the password stays, as enrollment asks it).
func SignInPolicy(configured authn.GroupPolicy, given bool) authn.GroupPolicy {
	if !given {
		configured = authn.GroupPolicy{AllowTOTP: true}
	}
	configured.NoPassword, configured.UserVerification = configured.Level == authn.LevelNone, true
	return configured
}

// addressElsewhere returns the id of a person whose e-mail address is
// email but whose username is not (a councillor, staff): the address is
// taken, or a mailbox thief would get a second account with it verified
// that tools may link to hers (review of #15). "" when there is none.
func (s *Service) addressElsewhere(ctx context.Context, email string) (string, error) {
	people, err := s.usersByEmail(ctx, email)
	if err != nil {
		return "", err
	}
	for _, u := range people {
		if !slices.Contains(addressForms(email), u.Username) {
			return u.ID, nil
		}
	}
	return "", nil
}
