package ldapsync

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
)

// Limits of the Verifier.
const (
	// wrongTTL is how long a wrong password is remembered, and wrongKeep
	// how many per person: typed again meanwhile, it is not sent again.
	wrongTTL  = 5 * time.Minute
	wrongKeep = 5
	// expiredTTL is how long a password that bound on an OpenLDAP grace
	// login (expired) is remembered: typed again meanwhile, it is refused
	// without a bind, which would spend another of her grace logins.
	expiredTTL = 24 * time.Hour
	// statusTTL is how long a live check of an account (CheckAccount) is
	// trusted before the directory is asked again.
	statusTTL = time.Minute
	// idleConns is how many service-account connections each directory
	// keeps open; maxBinds how many people's binds may run at once.
	idleConns = 4
	maxBinds  = 16
	// unboundIdle is how long a connection for binds as people may lie
	// idle before it is closed rather than used (servers close idle ones).
	unboundIdle = time.Minute
	// sweepAt is the size of a map of the Verifier at which old entries
	// are swept out.
	sweepAt = 10_000
)

// Defaults where a Config leaves them out (WithDefaults fills them in).
const (
	defaultTimeout      = 10 * time.Second
	defaultMaxStaleness = 15 * time.Minute
)

// AD's userAccountControl and msDS-User-Account-Control-Computed bits.
const (
	uacDisabled = 0x2
	uacLockout  = 0x10
)

// Verifier checks directory people's passwords by binding as them
// (authn.PasswordVerifier), and whether a person may still sign in with her
// key (authn.AccountChecker). It is safe for concurrent use.
//
// A password check finds the person's DN by her stable id with the service
// account (AD: a base search of <GUID=…>; OpenLDAP: (entryUUID=…) under the
// base DNs) — never by what she typed — and then binds as her, once, on a
// connection over TLS used for nothing else. An empty password is
// refused before the directory is asked; a person AD reports locked out is
// not bound at all (no bind would succeed, and each would count); and a
// wrong password typed again within a few minutes is refused without being
// sent again (a keyed hash of the last few wrong ones is kept in memory,
// under a key made at start), so that the directory's lockout counter, which
// Outlook, VPN and the desktop share, rises only for new guesses.
type Verifier struct {
	dirs map[string]*bindDir
	log  *slog.Logger
	key  []byte // HMAC key of remembered wrong passwords, random per process

	// Now is the clock; nil means time.Now. Set it before first use.
	Now func() time.Time
	// LastSync, when set, returns when the last sync of a directory (by
	// Config.Name) succeeded, the zero time if none did. When the directory
	// does not answer a live check, CheckAccount relies on that sync's
	// state as it does on its own last successful check, if younger than
	// Config.MaxStaleness. Set it before first use.
	LastSync func(directory string) time.Time

	mu     sync.Mutex
	wrong  map[string][]wrongTry    // by person (dirKey)
	states map[string]accountStatus // by person (dirKey)
}

// wrongTry is a wrong (or expired) password remembered: its keyed hash,
// when, and for how long.
type wrongTry struct {
	mac     [sha256.Size]byte
	at      time.Time
	ttl     time.Duration
	expired bool // it bound on a grace login: right, but expired
}

// accountStatus is the last live check of a person: its answer (nil or a
// refusal), when, and when one last said she may sign in.
type accountStatus struct {
	err    error
	at     time.Time
	goodAt time.Time
}

// idleConn is an anonymous connection for binds as people, and since when
// it lies idle.
type idleConn struct {
	c     *ldap.Conn
	since time.Time
}

// bindDir is one configured directory.
type bindDir struct {
	cfg     Config
	ad      bool
	ldaps   bool   // TLS from the first byte (the URL's scheme, as url.Parse reads it)
	host    string // for dialling: host:port
	tls     *tls.Config
	timeout time.Duration
	stale   time.Duration
	attrs   []string // read of a person
	bases   []*ldap.DN
	idle    chan *ldap.Conn // service-account connections, bound
	binds   chan struct{}   // a slot per bind as a person
	unbound chan idleConn   // connections for binds as people, anonymous
}

// NewVerifier returns a Verifier for the directories dirs (by Config.Name).
func NewVerifier(dirs []Config, log *slog.Logger) (*Verifier, error) {
	if log == nil {
		log = slog.Default()
	}
	v := &Verifier{dirs: map[string]*bindDir{}, log: log, key: make([]byte, 32),
		wrong: map[string][]wrongTry{}, states: map[string]accountStatus{}}
	rand.Read(v.key) // never fails (crypto/rand, Go ≥ 1.24)
	var errs []error
	for _, c := range dirs {
		d, err := newBindDir(c)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("directory %q: %w", c.Name, err))
		case v.dirs[c.Name] != nil:
			errs = append(errs, fmt.Errorf("directory %q is configured twice", c.Name))
		default:
			v.dirs[c.Name] = d
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("password check by bind: %w", err)
	}
	return v, nil
}

func newBindDir(c Config) (*bindDir, error) {
	d := &bindDir{cfg: c, timeout: c.Timeout, stale: c.MaxStaleness,
		idle: make(chan *ldap.Conn, idleConns), binds: make(chan struct{}, maxBinds),
		unbound: make(chan idleConn, idleConns)}
	if c.Name == "" {
		return nil, errors.New("no name")
	}
	if d.timeout <= 0 {
		d.timeout = defaultTimeout
	}
	if d.stale <= 0 {
		d.stale = defaultMaxStaleness
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	host, port := u.Hostname(), u.Port()
	switch {
	case u.Scheme == "ldaps" && port == "":
		port = "636"
	case u.Scheme == "ldap" && port == "":
		port = "389"
	}
	switch {
	case u.Scheme == "ldaps":
	case u.Scheme == "ldap" && c.StartTLS:
	case u.Scheme == "ldap" && c.InsecurePlaintext && host == "127.0.0.1":
	case u.Scheme == "ldap":
		return nil, errors.New("a password may not travel in plain text: use ldaps:// or start_tls")
	default:
		return nil, fmt.Errorf("url %q: want ldaps:// or ldap://", c.URL)
	}
	if host == "" {
		return nil, fmt.Errorf("url %q has no host", c.URL)
	}
	d.host = net.JoinHostPort(host, port)
	d.ldaps = u.Scheme == "ldaps"
	if d.ldaps || c.StartTLS {
		d.tls = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return nil, fmt.Errorf("ca file: %w", err)
			}
			d.tls.RootCAs = x509.NewCertPool()
			if !d.tls.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("ca file %s holds no PEM certificate", c.CAFile)
			}
		}
	}
	if c.BindDN == "" || c.BindPassword == "" {
		return nil, errors.New("a service account (bind DN and password) is needed to find people by their id")
	}
	for _, b := range c.BaseDNs {
		dn, err := ldap.ParseDN(b)
		if err != nil {
			return nil, fmt.Errorf("base DN %q: %w", b, err)
		}
		d.bases = append(d.bases, dn)
	}
	if len(d.bases) == 0 {
		return nil, errors.New("no base DN")
	}
	a := c.Attributes
	d.ad = c.Preset == PresetActiveDirectory || (c.Preset == "" && strings.EqualFold(a.ID, "objectGUID"))
	if d.ad {
		d.attrs = []string{or(a.AccountControl, "userAccountControl"), or(a.AccountExpires, "accountExpires"),
			"lockoutTime", "msDS-User-Account-Control-Computed"}
	} else {
		d.attrs = []string{or(a.LockedTime, "pwdAccountLockedTime"), or(a.ShadowExpire, "shadowExpire")}
	}
	return d, nil
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// Close closes the idle connections.
func (v *Verifier) Close() error {
	for _, d := range v.dirs {
		for {
			select {
			case c := <-d.idle:
				c.Close()
				continue
			case ic := <-d.unbound:
				ic.c.Close()
				continue
			default:
			}
			break
		}
	}
	return nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// person is what a lookup found of a person.
type person struct {
	dn                string
	disabled, expired bool
	locked            bool // locked out for now
}

// errGraceLogin: the password bound on an OpenLDAP ppolicy grace login (it
// has expired).
var errGraceLogin = errors.New("bound on a grace login")

// errNotFound: the directory has no such person (under its base DNs and
// filter).
var errNotFound = errors.New("not found in the directory")

// canonicalID returns id when it is a lower-case UUID string, the form
// ExternalIDs are stored in; else an error. So no other text ever reaches
// a DN or a filter.
func canonicalID(id string) (string, error) {
	u, err := uuid.Parse(id)
	if err != nil || len(id) != 36 || u.String() != id {
		return "", fmt.Errorf("directory id %.40q is not a lower-case UUID", id)
	}
	return id, nil
}

// VerifyPassword checks u's password by binding as her: nil when it is
// right; authn.ErrWrongPassword; authn.ErrAccountDisabled, ErrAccountExpired,
// ErrPasswordMustChange or ErrAccountLocked as the directory reports them;
// authn.ErrDirectoryUnavailable when it does not answer (joined with
// authn.ErrPasswordSent when the password was sent and the answer lost).
func (v *Verifier) VerifyPassword(ctx context.Context, u authn.User, password string) error {
	if password == "" {
		return fmt.Errorf("%w: empty password (never sent: an unauthenticated bind is no proof)", authn.ErrWrongPassword)
	}
	d, err := v.dirOf(u)
	if err != nil {
		return err
	}
	id, err := canonicalID(u.ExternalID)
	if err != nil {
		return fmt.Errorf("%w: %v", authn.ErrAccountDisabled, err)
	}
	who := d.cfg.Name + "\x00" + id
	mac := v.mac(who, password)
	if tried, expired := v.wrongBefore(who, mac); tried && expired {
		return fmt.Errorf("%w: the same expired password again (not sent again: a bind would spend a grace login)", authn.ErrPasswordMustChange)
	} else if tried {
		return fmt.Errorf("%w: the same wrong password again (not sent again)", authn.ErrWrongPassword)
	}
	p, err := v.lookup(ctx, d, id)
	switch {
	case errors.Is(err, errNotFound):
		return fmt.Errorf("%w: %s %v", authn.ErrAccountDisabled, id, err)
	case err != nil:
		return err
	case p.disabled:
		// Not bound: a directory that does not enforce its own flag on a
		// bind (OpenLDAP's shadowExpire) must not let her in either.
		v.setState(who, accountStatus{at: v.now(), err: fmt.Errorf("%w: %s", authn.ErrAccountDisabled, p.dn)})
		return fmt.Errorf("%w: %s (not bound)", authn.ErrAccountDisabled, p.dn)
	case p.expired:
		v.setState(who, accountStatus{at: v.now(), err: fmt.Errorf("%w: %s", authn.ErrAccountExpired, p.dn)})
		return fmt.Errorf("%w: %s (not bound)", authn.ErrAccountExpired, p.dn)
	case p.locked && d.ad:
		return fmt.Errorf("%w: %s (not bound)", authn.ErrAccountLocked, p.dn)
	}
	err = v.bind(ctx, d, p.dn, password)
	switch {
	case errors.Is(err, authn.ErrWrongPassword) && p.locked:
		// OpenLDAP's ppolicy answers a locked account as a wrong password
		// (unless ppolicy_use_lockout); she was locked when looked up.
		return fmt.Errorf("%w: %s (pwdAccountLockedTime set; %v)", authn.ErrAccountLocked, p.dn, err)
	case errors.Is(err, authn.ErrWrongPassword):
		v.rememberWrong(who, mac, false)
	case errors.Is(err, errGraceLogin):
		v.rememberWrong(who, mac, true)
	case err == nil:
		v.mu.Lock()
		delete(v.wrong, who)
		now := v.now()
		v.states[who] = accountStatus{at: now, goodAt: now}
		v.mu.Unlock()
	}
	return err
}

// setState records what the directory last said of who, keeping when it
// last said yes.
func (v *Verifier) setState(who string, st accountStatus) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if st.goodAt.IsZero() {
		st.goodAt = v.states[who].goodAt
	}
	v.states[who] = st
}

// dirOf returns the directory u comes from: by u.Directory, or the only
// one configured when u.Directory is "" (people stored before the store
// kept it).
func (v *Verifier) dirOf(u authn.User) (*bindDir, error) {
	d, ok := v.dirs[u.Directory]
	if !ok && u.Directory == "" && len(v.dirs) == 1 {
		for _, only := range v.dirs {
			d, ok = only, true
		}
	}
	if !ok {
		v.log.Error("a directory person's directory is not configured", "user", u.ID, "directory", u.Directory)
		return nil, fmt.Errorf("%w: directory %q is not configured", authn.ErrDirectoryUnavailable, u.Directory)
	}
	return d, nil
}

// mac is the keyed hash of a password of person who.
func (v *Verifier) mac(who, password string) [sha256.Size]byte {
	h := hmac.New(sha256.New, v.key)
	h.Write([]byte(who))
	h.Write([]byte{0})
	h.Write([]byte(password))
	var m [sha256.Size]byte
	h.Sum(m[:0])
	return m
}

// wrongBefore reports whether mac was a wrong password of who within
// wrongTTL, or an expired one (bound on a grace login) within expiredTTL.
func (v *Verifier) wrongBefore(who string, mac [sha256.Size]byte) (tried, expired bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	for _, w := range v.wrong[who] {
		if now.Sub(w.at) < w.ttl && hmac.Equal(w.mac[:], mac[:]) {
			return true, w.expired
		}
	}
	return false, false
}

// rememberWrong remembers mac as a wrong password of who, or as an expired
// one.
func (v *Verifier) rememberWrong(who string, mac [sha256.Size]byte, expired bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	var keep []wrongTry
	for _, w := range v.wrong[who] {
		if now.Sub(w.at) < w.ttl {
			keep = append(keep, w)
		}
	}
	ttl := wrongTTL
	if expired {
		ttl = expiredTTL
	}
	keep = append(keep, wrongTry{mac: mac, at: now, ttl: ttl, expired: expired})
	if len(keep) > wrongKeep {
		keep = keep[len(keep)-wrongKeep:]
	}
	v.wrong[who] = keep
	if len(v.wrong) > sweepAt {
		for k, ws := range v.wrong {
			if now.Sub(ws[len(ws)-1].at) >= ws[len(ws)-1].ttl {
				delete(v.wrong, k)
			}
		}
	}
}

// CheckAccount asks u's directory live (by her stable id, with the
// service account) whether she may still sign in: nil;
// authn.ErrAccountDisabled (disabled, or no longer found), ErrAccountExpired,
// or ErrAccountLocked when Config.LockoutStopsKey. An answer is kept for a
// minute. When the directory does not answer, the last known state counts
// if it is younger than Config.MaxStaleness — the Verifier's own last
// successful check or bind of her, or the directory's last sync (LastSync);
// else authn.ErrDirectoryUnavailable. An AD directory that answers without
// her userAccountControl (the service account may not read it) is
// ErrDirectoryUnavailable at once: no last known state stands in for it.
func (v *Verifier) CheckAccount(ctx context.Context, u authn.User) error {
	d, err := v.dirOf(u)
	if err != nil {
		return err
	}
	id, err := canonicalID(u.ExternalID)
	if err != nil {
		return fmt.Errorf("%w: %v", authn.ErrAccountDisabled, err)
	}
	who := d.cfg.Name + "\x00" + id
	now := v.now()
	v.mu.Lock()
	st, known := v.states[who]
	v.mu.Unlock()
	if known && now.Sub(st.at) < statusTTL && now.Sub(st.at) >= 0 {
		return st.err
	}
	p, err := v.lookup(ctx, d, id)
	if errors.Is(err, errADStateHidden) {
		// Not an outage: the directory answers but hides whether she
		// is enabled. No last known state stands in for that.
		return err
	}
	if err != nil && !errors.Is(err, errNotFound) {
		if known && st.err != nil && !st.at.Before(st.goodAt) {
			// The newest answer she has refused her: an outage after it
			// does not turn it into a yes.
			return st.err
		}
		last := st.goodAt
		if v.LastSync != nil {
			if t := v.LastSync(d.cfg.Name); t.After(last) {
				last = t
			}
		}
		if !last.IsZero() && now.Sub(last) < d.stale {
			v.log.Warn("the directory does not answer; relying on the last known state of a person",
				"user", u.ID, "directory", u.Directory, "known_at", last, "err", err)
			return nil
		}
		return fmt.Errorf("%w (last known state: %v)", err, last)
	}
	switch {
	case errors.Is(err, errNotFound):
		err = fmt.Errorf("%w: %s %v", authn.ErrAccountDisabled, id, errNotFound)
	case p.disabled:
		err = fmt.Errorf("%w: %s", authn.ErrAccountDisabled, p.dn)
	case p.expired:
		err = fmt.Errorf("%w: %s", authn.ErrAccountExpired, p.dn)
	case p.locked && d.cfg.LockoutStopsKey:
		err = fmt.Errorf("%w: %s", authn.ErrAccountLocked, p.dn)
	}
	st = accountStatus{err: err, at: now, goodAt: st.goodAt}
	if err == nil {
		st.goodAt = now
	}
	v.mu.Lock()
	v.states[who] = st
	if len(v.states) > sweepAt {
		for k, s := range v.states {
			if now.Sub(s.at) >= d.stale && now.Sub(s.goodAt) >= d.stale {
				delete(v.states, k)
			}
		}
	}
	v.mu.Unlock()
	return err
}

// lookup finds the person with stable id id (canonical) with the service
// account: errNotFound, or authn.ErrDirectoryUnavailable when the directory
// does not answer (or refuses the service account).
func (v *Verifier) lookup(ctx context.Context, d *bindDir, id string) (person, error) {
	filter := "(objectClass=*)"
	if d.cfg.UserFilter != "" {
		filter = d.cfg.UserFilter
	}
	var reqs []*ldap.SearchRequest
	if d.ad {
		// AD finds an object by its GUID whatever the base.
		reqs = append(reqs, ldap.NewSearchRequest("<GUID="+id+">", ldap.ScopeBaseObject, ldap.NeverDerefAliases,
			2, int(d.timeout/time.Second), false, filter, d.attrs, nil))
	} else {
		filter = "(&(entryUUID=" + ldap.EscapeFilter(id) + ")" + filter + ")"
		for _, b := range d.cfg.BaseDNs {
			reqs = append(reqs, ldap.NewSearchRequest(b, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
				2, int(d.timeout/time.Second), false, filter, d.attrs, nil))
		}
	}
	var found []*ldap.Entry
	err := v.withService(ctx, d, func(c *ldap.Conn) error {
		found = found[:0]
		for _, r := range reqs {
			res, err := c.Search(r)
			if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
				continue
			}
			if err != nil {
				return err
			}
			found = append(found, res.Entries...)
		}
		return nil
	})
	if err != nil {
		return person{}, unavailable("find a person by her id", err, false)
	}
	var in []*ldap.Entry
	seen := map[string]bool{}
	for _, e := range found {
		// The same entry found under two overlapping base DNs is one.
		if k := dnKey(e.DN); d.under(e.DN) && !seen[k] {
			seen[k] = true
			in = append(in, e)
		}
	}
	switch {
	case len(in) == 0:
		return person{}, errNotFound
	case len(in) > 1:
		return person{}, unavailable("find a person by her id", fmt.Errorf("%d entries have the id %s", len(in), id), false)
	}
	p, err := d.read(in[0], v.now())
	if err != nil {
		v.log.Error("directory: a person's account state cannot be read; sign-ins are refused", "directory", d.cfg.Name, "err", err)
		return person{}, fmt.Errorf("%w: read a person's account state: %w", authn.ErrDirectoryUnavailable, err)
	}
	return p, nil
}

// under reports whether dn lies under one of the base DNs.
func (d *bindDir) under(dn string) bool {
	p, err := ldap.ParseDN(dn)
	if err != nil {
		return false
	}
	for _, b := range d.bases {
		if b.AncestorOfFold(p) {
			return true
		}
	}
	return false
}

// read maps the entry of a person. An AD entry without userAccountControl
// (which every AD account has) is an error: the service account may not
// read it, and she cannot be told enabled.
func (d *bindDir) read(e *ldap.Entry, now time.Time) (person, error) {
	p := person{dn: e.DN}
	if d.ad {
		if len(e.GetEqualFoldRawAttributeValues(d.attrs[0])) == 0 {
			return p, errADStateUnreadable(e.DN, d.attrs[0])
		}
		uac, _ := strconv.ParseInt(e.GetAttributeValue(d.attrs[0]), 10, 64)
		p.disabled = uac&uacDisabled != 0
		if v := e.GetAttributeValue(d.attrs[1]); v != "" {
			exp, err := parseFileTime(v)
			p.expired = err != nil || (!exp.IsZero() && !now.Before(exp))
		}
		if computed := e.GetAttributeValue(d.attrs[3]); computed != "" {
			n, _ := strconv.ParseInt(computed, 10, 64)
			p.locked = n&uacLockout != 0
		} else {
			n, _ := strconv.ParseInt(e.GetAttributeValue(d.attrs[2]), 10, 64)
			p.locked = n > 0
		}
		return p, nil
	}
	// Locked by ppolicy for a while: for as long as the policy says, which
	// is not read here; the attribute stays until her next successful bind,
	// so VerifyPassword binds her all the same, and takes a refusal then
	// for the lock.
	locked := e.GetAttributeValue(d.attrs[0])
	p.disabled = lockedForGoodValue(locked) // as the reader reads it
	p.locked = locked != "" && !p.disabled
	if v := e.GetAttributeValue(d.attrs[1]); v != "" {
		exp, err := parseShadowExpire(v)
		// An unreadable value is taken as expired, as the reader skips
		// such a person rather than guess.
		p.expired = err != nil || (!exp.IsZero() && !now.Before(exp))
	}
	return p, nil
}

// withService runs f on a connection bound as the service account, from
// the pool or new; a pooled one that broke is replaced once.
func (v *Verifier) withService(ctx context.Context, d *bindDir, f func(*ldap.Conn) error) error {
	for attempt := 0; ; attempt++ {
		var c *ldap.Conn
		pooled := false
		select {
		case c = <-d.idle:
			pooled = true
		default:
			var err error
			if c, err = v.dial(ctx, d); err != nil {
				return err
			}
			if err := v.guard(ctx, c, func() error { return c.Bind(d.cfg.BindDN, d.cfg.BindPassword) }); err != nil {
				c.Close()
				return fmt.Errorf("bind as the service account: %w", err)
			}
		}
		err := v.guard(ctx, c, func() error { return f(c) })
		if c.IsClosing() || ldap.IsErrorWithCode(err, ldap.ErrorNetwork) || ctx.Err() != nil {
			c.Close()
			if pooled && attempt == 0 && ctx.Err() == nil {
				continue // it broke while idle
			}
			return err
		}
		select {
		case d.idle <- c:
		default:
			c.Close()
		}
		return err
	}
}

// guard runs f, closing c when ctx ends first (which ends f).
func (v *Verifier) guard(ctx context.Context, c *ldap.Conn, f func() error) error {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	err := f()
	if !stop() {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// dial connects to d over TLS (ldaps://, or ldap:// with StartTLS),
// within its timeout and ctx.
func (v *Verifier) dial(ctx context.Context, d *bindDir) (*ldap.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", d.host)
	if err != nil {
		return nil, err
	}
	ldaps := d.ldaps
	if ldaps {
		tc := tls.Client(raw, d.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("tls: %w", err)
		}
		raw = tc
	}
	c := ldap.NewConn(raw, ldaps)
	c.Start()
	c.SetTimeout(d.timeout)
	if !ldaps && d.cfg.StartTLS {
		if err := v.guard(ctx, c, func() error { return c.StartTLS(d.tls) }); err != nil {
			c.Close()
			return nil, fmt.Errorf("starttls: %w", err)
		}
	}
	return c, nil
}

// bind binds as dn with password once, on a connection used for nothing
// but binds as people: a new one, or one whose last bind failed (which
// leaves it anonymous, RFC 4513 §4) or was followed by an anonymous bind.
// So no connection is left bound as a person, and none that was is used
// for anything but another bind.
func (v *Verifier) bind(ctx context.Context, d *bindDir, dn, password string) error {
	select {
	case d.binds <- struct{}{}:
		defer func() { <-d.binds }()
	case <-ctx.Done():
		return unavailable("wait to bind", ctx.Err(), false)
	}
	c, err := v.unboundConn(ctx, d)
	if err != nil {
		return unavailable("connect to bind", err, false)
	}
	req := &ldap.SimpleBindRequest{Username: dn, Password: password}
	if !d.ad {
		req.Controls = []ldap.Control{ldap.NewControlBeheraPasswordPolicy()}
	}
	var res *ldap.SimpleBindResult
	err = v.guard(ctx, c, func() (err error) {
		res, err = c.SimpleBind(req)
		return err
	})
	var pp *ldap.ControlBeheraPasswordPolicy
	if res != nil {
		pp, _ = ldap.FindControl(res.Controls, ldap.ControlTypeBeheraPasswordPolicy).(*ldap.ControlBeheraPasswordPolicy)
	}
	switch {
	case err == nil:
		// Bound as her: anonymous again before it goes back.
		if v.guard(ctx, c, func() error { return c.UnauthenticatedBind("") }) == nil {
			v.putUnbound(d, c)
		} else {
			c.Close()
		}
		if pp != nil && pp.Error == 2 { // changeAfterReset
			return fmt.Errorf("%w: %s (ppolicy: change after reset)", authn.ErrPasswordMustChange, dn)
		}
		if pp != nil && pp.Grace >= 0 {
			// Expired, bound on one of her last grace logins: each
			// Keyhall sign-in would spend one silently until she could
			// not even change it. She is told to change it first.
			v.log.Warn("directory: a password has expired; the sign-in is refused so that her grace logins are kept for changing it",
				"directory", d.cfg.Name, "dn", dn, "grace_logins_left", pp.Grace)
			return fmt.Errorf("%w: %s (ppolicy: password expired, bound on a grace login, %d left): %w",
				authn.ErrPasswordMustChange, dn, pp.Grace, errGraceLogin)
		}
		if pp != nil && pp.Expire >= 0 {
			v.log.Info("directory: a password expires soon", "directory", d.cfg.Name, "dn", dn,
				"expires_in", time.Duration(pp.Expire)*time.Second)
		}
		return nil
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials):
		v.putUnbound(d, c)
		if pp != nil {
			switch pp.Error {
			case 0:
				return fmt.Errorf("%w: %s (ppolicy: %s)", authn.ErrPasswordMustChange, dn, pp.ErrorString)
			case 1:
				return fmt.Errorf("%w: %s (ppolicy: %s)", authn.ErrAccountLocked, dn, pp.ErrorString)
			}
		}
		return bindRefusal(dn, err)
	}
	c.Close()
	return unavailable("bind", err, true)
}

// unboundConn returns an idle anonymous connection that is still open and
// not idle too long, or a new one.
func (v *Verifier) unboundConn(ctx context.Context, d *bindDir) (*ldap.Conn, error) {
	for {
		select {
		case ic := <-d.unbound:
			if ic.c.IsClosing() || v.now().Sub(ic.since) > unboundIdle || v.now().Before(ic.since) {
				ic.c.Close()
				continue
			}
			return ic.c, nil
		default:
			return v.dial(ctx, d)
		}
	}
}

// putUnbound keeps an anonymous connection for the next bind, or closes it.
func (v *Verifier) putUnbound(d *bindDir, c *ldap.Conn) {
	select {
	case d.unbound <- idleConn{c: c, since: v.now()}:
	default:
		c.Close()
	}
}

// bindRefusal maps AD's answer to a bind with invalid credentials (49) by
// the data code in its diagnostic message.
func bindRefusal(dn string, err error) error {
	code := adBindData(err.Error())
	var e error
	switch code {
	case "533", "530", "531": // disabled; not at this time; not at this workstation
		e = authn.ErrAccountDisabled
	case "701":
		e = authn.ErrAccountExpired
	case "773", "532": // must change (reset by IT); expired password
		e = authn.ErrPasswordMustChange
	case "775":
		e = authn.ErrAccountLocked
	default: // 52e wrong password, 525 no such user, or not AD
		e = authn.ErrWrongPassword
	}
	return fmt.Errorf("%w: %s (data %s)", e, dn, code)
}

// adBindData returns the code after "data " in AD's diagnostic message of
// a failed bind ("80090308: LdapErr: DSID-0C09042A, comment:
// AcceptSecurityContext error, data 52e, v3839"), in lower case, or "".
func adBindData(msg string) string {
	for i := 0; ; {
		j := strings.Index(msg[i:], "data ")
		if j < 0 {
			return ""
		}
		start := i + j + len("data ")
		if start-len("data ")-1 >= 0 && msg[start-len("data ")-1] != ' ' && msg[start-len("data ")-1] != ',' {
			i = start
			continue
		}
		end := start
		for end < len(msg) && end-start < 8 && isHex(msg[end]) {
			end++
		}
		if end > start && (end == len(msg) || msg[end] == ',' || msg[end] == ' ') {
			return strings.ToLower(msg[start:end])
		}
		i = start
	}
}

func isHex(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}

// unavailable wraps the error of a directory that did not answer (or not
// usably); sent: the password had been sent.
func unavailable(what string, err error, sent bool) error {
	e := fmt.Errorf("%w: %s: %v", authn.ErrDirectoryUnavailable, what, err)
	if sent {
		return errors.Join(e, authn.ErrPasswordSent)
	}
	return e
}

var (
	_ authn.PasswordVerifier = (*Verifier)(nil)
	_ authn.AccountChecker   = (*Verifier)(nil)
)
