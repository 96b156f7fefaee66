package ldapsync

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/keyhall/keyhall/authn"
)

// Directory reads one configured directory. It holds no connection between
// reads: each Read and Check dials, binds, reads and closes, so a Directory
// is safe for concurrent use.
type Directory struct {
	cfg  Config
	log  *slog.Logger
	tls  *tls.Config
	host string // the URL's host name, for TLS and messages
	now  func() time.Time
}

var _ Reader = (*Directory)(nil)

// NewDirectory returns a reader of the directory cfg describes. It fills in
// cfg's defaults, refuses an invalid cfg (Validate's problems) and loads the
// CA file.
func NewDirectory(cfg Config, log *slog.Logger) (*Directory, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("directory.url: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("directory.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("directory.ca_file: %s holds no PEM certificate", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	return &Directory{
		cfg:  cfg,
		log:  log.With("directory", cfg.Name),
		tls:  tc,
		host: u.Hostname(),
		now:  time.Now,
	}, nil
}

// Config returns the directory's configuration with its defaults filled in.
func (d *Directory) Config() Config { return d.cfg }

// connect dials, upgrades to TLS and binds as the service account. The
// connection is closed when ctx ends, which ends any request waiting on it;
// the dial, the TLS handshake and the bind together get at most twice the
// request timeout.
func (d *Directory) connect(ctx context.Context) (*ldap.Conn, error) {
	u, _ := url.Parse(d.cfg.URL) // checked by NewDirectory
	port := u.Port()
	if port == "" {
		port = "389"
		if u.Scheme == "ldaps" {
			port = "636"
		}
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	cctx, cancel := context.WithTimeout(ctx, 2*d.cfg.Timeout)
	defer cancel()

	dialer := &net.Dialer{Timeout: d.cfg.Timeout}
	nc, err := dialer.DialContext(cctx, "tcp", addr)
	if err != nil {
		return nil, &stepError{step: "connect to " + addr, err: err}
	}
	if u.Scheme == "ldaps" {
		tc := tls.Client(nc, d.tls)
		hctx, hcancel := context.WithTimeout(cctx, d.cfg.Timeout)
		err := tc.HandshakeContext(hctx)
		hcancel()
		if err != nil {
			nc.Close()
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("no answer within directory.timeout (%v): %w", d.cfg.Timeout, err)
			}
			return nil, &stepError{step: "TLS handshake with " + addr, err: err}
		}
		nc = tc
	}
	conn := ldap.NewConn(nc, u.Scheme == "ldaps")
	conn.Start()
	conn.SetTimeout(d.cfg.Timeout)
	stopConnect := context.AfterFunc(cctx, func() { conn.Close() })
	fail := func(step string, err error) (*ldap.Conn, error) {
		conn.Close()
		if cctx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("no answer within %v: %w", 2*d.cfg.Timeout, err)
		}
		return nil, &stepError{step: step, err: err}
	}
	if d.cfg.StartTLS {
		var verifyErr error
		if err := conn.StartTLS(capturingVerify(d.tls, &verifyErr)); err != nil {
			if verifyErr != nil {
				// go-ldap reports the handshake's error as text only;
				// keep its type for Check's plain words.
				err = fmt.Errorf("TLS handshake: %w", verifyErr)
			}
			return fail("StartTLS with "+addr, err)
		}
	}
	if err := conn.Bind(d.cfg.BindDN, d.cfg.BindPassword); err != nil {
		return fail("bind as "+d.cfg.BindDN, err)
	}
	if !stopConnect() {
		return fail("connect to "+addr, context.DeadlineExceeded)
	}
	context.AfterFunc(ctx, func() { conn.Close() })
	return conn, nil
}

// capturingVerify returns a copy of c that verifies the server's
// certificate chain and name exactly as crypto/tls would (roots, the
// intermediates the server sent, ServerName, server auth usage) and stores
// the verification error in *verifyErr. It is used for StartTLS, where
// go-ldap flattens the handshake error to text.
func capturingVerify(c *tls.Config, verifyErr *error) *tls.Config {
	v := c.Clone()
	v.InsecureSkipVerify = true // verified in VerifyConnection below
	v.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			*verifyErr = errors.New("the server sent no certificate")
			return *verifyErr
		}
		opts := x509.VerifyOptions{
			Roots:         c.RootCAs,
			DNSName:       c.ServerName,
			Intermediates: x509.NewCertPool(),
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		for _, ic := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(ic)
		}
		if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
			*verifyErr = &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
			return *verifyErr
		}
		return nil
	}
	return v
}

// stepError names the step of a read that failed.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + explain(e.err) }
func (e *stepError) Unwrap() error { return e.err }

// explain adds plain words to the LDAP result codes a person running a sync
// must act on.
func explain(err error) string {
	var le *ldap.Error
	if !errors.As(err, &le) {
		return err.Error()
	}
	switch le.ResultCode {
	case ldap.LDAPResultSizeLimitExceeded:
		return "the directory stopped the search at the service account's size limit (code 4); allow it unlimited results (OpenLDAP: limits … size=unlimited; AD: MaxPageSize is per page and fine): " + err.Error()
	case ldap.LDAPResultTimeLimitExceeded:
		return "the directory stopped the search at its time limit (code 11): " + err.Error()
	case ldap.LDAPResultInvalidCredentials:
		return "the directory refused the service account's DN or password (code 49): " + err.Error()
	case ldap.LDAPResultNoSuchObject:
		return "the base DN does not exist in the directory (code 32): " + err.Error()
	case ldap.LDAPResultFilterError:
		return "the directory refused the filter (code 87): " + err.Error()
	case ldap.LDAPResultInsufficientAccessRights:
		return "the service account may not read this (code 50): " + err.Error()
	case ldap.ErrorNetwork:
		if strings.Contains(le.Error(), "timed out") {
			return "the directory did not answer within directory.timeout: " + err.Error()
		}
	}
	return err.Error()
}

// pagedSearch runs one search with the paged-results control (RFC 2696) in
// its own cookie loop and hands each page's entries to each as the page
// arrives; no page is kept. Any error ends the search with that error,
// including a server's size or time limit (the search looks complete but is
// not) and a closed connection (ctx ended). Continuation references
// (referrals) are ignored.
func (d *Directory) pagedSearch(ctx context.Context, conn *ldap.Conn, base, filter string, attrs []string, each func(*ldap.Entry) error) error {
	return d.pagedSearchN(ctx, conn, d.cfg.PageSize, base, filter, attrs, each)
}

// groupPageSize is the page size for groups: a group's entry carries its
// members (up to 1500 values from AD, all of them from OpenLDAP), so a page
// of groups weighs as much as thousands of people; small pages keep the
// memory of a read low.
const groupPageSize = 20

// pagedSearchN is pagedSearch with a page size of its own.
func (d *Directory) pagedSearchN(ctx context.Context, conn *ldap.Conn, pageSize int, base, filter string, attrs []string, each func(*ldap.Entry) error) error {
	paging := ldap.NewControlPaging(uint32(min(pageSize, d.cfg.PageSize)))
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			filter, attrs, []ldap.Control{paging})
		res, err := conn.Search(req)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%w (%v)", context.Cause(ctx), err)
			}
			return err
		}
		for _, e := range res.Entries {
			if err := each(e); err != nil {
				return err
			}
		}
		ctrl, ok := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if !ok || len(ctrl.Cookie) == 0 {
			// No control: the server did not page and sent everything
			// (or it would have ended with code 4). An empty cookie: the
			// last page.
			return ctx.Err()
		}
		paging.SetCookie(ctrl.Cookie)
	}
}

// personAttrs are the attributes a person's entry is read with.
func (d *Directory) personAttrs() []string {
	a := d.cfg.Attributes
	var out []string
	for _, n := range []string{a.ID, a.Username, a.DisplayName, a.GroupName, a.Email, a.Phone, a.Street,
		a.PostalCode, a.Locality, a.AccountControl, a.AccountExpires, a.LockedTime, a.ShadowExpire} {
		if n != "" {
			out = append(out, n)
		}
	}
	if d.cfg.Preset == PresetActiveDirectory {
		out = append(out, adPrimaryGroupID, adObjectSid)
	}
	return out
}

// Read reads every person under the base DNs that the user filter finds
// and the mapped groups with their members, nested groups resolved. It
// returns a complete Snapshot or an error, never a partial one: any failed
// request, a size or time limit, ctx ending or the sync deadline passing
// fails the whole read.
func (d *Directory) Read(ctx context.Context) (Snapshot, error) {
	start := d.now()
	ctx, cancel := context.WithTimeoutCause(ctx, d.cfg.SyncDeadline,
		fmt.Errorf("directory.sync_deadline of %v passed", d.cfg.SyncDeadline))
	defer cancel()
	conn, err := d.connect(ctx)
	if err != nil {
		return Snapshot{}, fmt.Errorf("read directory %s: %w", d.cfg.Name, err)
	}
	defer conn.Close()

	snap, err := d.read(ctx, conn)
	if err == nil {
		err = ctx.Err() // a search that ended because ctx did is no read
	}
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, context.Cause(ctx)) {
			err = fmt.Errorf("%w: %w", context.Cause(ctx), err)
		}
		return Snapshot{}, fmt.Errorf("read directory %s: %w", d.cfg.Name, err)
	}
	snap.ReadAt = start
	d.log.Info("directory read", "people", len(snap.People), "groups", len(snap.Groups),
		"skipped", len(snap.Skipped), "duration", d.now().Sub(start))
	return snap, nil
}

// read does Read's work on a bound connection. It also takes the change
// markers (read_changes.go) the next incremental read starts from: AD's
// before the people are read, OpenLDAP's from the people it reads.
func (d *Directory) read(ctx context.Context, conn *ldap.Conn) (Snapshot, error) {
	start := d.now()
	r := newPeopleRead(d.cfg.Name)
	var m changeMarkers
	if d.markerKind() == markerUSN {
		var err error
		if m, err = d.usnMarkers(conn); err != nil {
			// The full read stands on its own; the next run is full too.
			d.log.Warn("directory read: no change markers; the next sync is a full one", "err", err)
		}
	}
	for _, base := range d.cfg.BaseDNs {
		if err := d.readPeople(ctx, conn, base, d.cfg.UserFilter, r); err != nil {
			return Snapshot{}, &stepError{step: "read people under " + base, err: err}
		}
	}
	snap := r.snap
	sort.Slice(snap.People, func(i, j int) bool { return snap.People[i].Username < snap.People[j].Username })

	if len(d.cfg.Groups) > 0 { // else no group is imported: no need to read any
		groups, err := d.readGroups(ctx, conn, r.people, r.primary)
		if err != nil {
			return Snapshot{}, err
		}
		snap.Groups = groups
	}
	if d.markerKind() == markerModifyTimestamp && !r.modified.IsZero() {
		m = changeMarkers{Kind: markerModifyTimestamp, Since: modifiedSince(r.modified, d.now().Sub(start))}
	}
	snap.Markers = m.encode()
	return snap, nil
}

// maxClockSkew is how far the directory's clock may be ahead of Keyhall's
// before a modifyTimestamp counts as in the future.
const maxClockSkew = 10 * time.Minute

// peopleRead collects the people of a read.
type peopleRead struct {
	snap     Snapshot
	people   map[string]string // DN key → ExternalID
	ids      map[string]string // ExternalID → DN, to catch one id twice
	modified time.Time         // the newest modifyTimestamp seen, not in the future
	// warnedFuture: a modifyTimestamp in the future was logged.
	warnedFuture bool
	// primary (AD): a person's primary group (primaryGroupID, the group's
	// RID) does not list her in its member attribute: primaryGroupKey →
	// the DN keys of its people.
	primary map[string][]string
}

func newPeopleRead(dir string) *peopleRead {
	return &peopleRead{snap: Snapshot{Directory: dir}, people: map[string]string{}, ids: map[string]string{},
		primary: map[string][]string{}}
}

// readPeople reads the people under base that filter finds into r; an
// entry read before (overlapping base DNs, a second search) is skipped.
func (d *Directory) readPeople(ctx context.Context, conn *ldap.Conn, base, filter string, r *peopleRead) error {
	attrs := d.personAttrs()
	mtime := d.markerKind() == markerModifyTimestamp
	if mtime {
		attrs = append(attrs, d.cfg.Attributes.ChangeMarker)
	}
	return d.pagedSearch(ctx, conn, base, filter, attrs, func(e *ldap.Entry) error {
		return r.add(d, e, mtime)
	})
}

// add maps e into r.
func (r *peopleRead) add(d *Directory, e *ldap.Entry, mtime bool) error {
	key := dnKey(e.DN)
	if _, seen := r.people[key]; seen {
		return nil // under two overlapping base DNs
	}
	if mtime {
		t, err := parseGeneralizedTime(first(e, d.cfg.Attributes.ChangeMarker))
		switch {
		case err != nil || !t.After(r.modified):
		case t.After(d.now().Add(maxClockSkew)):
			// A time in the future (a clock that was ahead, an import
			// that kept its times) would move the marker past every real
			// change until then: it does not count.
			if !r.warnedFuture {
				r.warnedFuture = true
				d.log.Warn("directory entry changed in the future; its time does not move the change marker",
					"dn", e.DN, "modifyTimestamp", t)
			}
		default:
			r.modified = t
		}
	}
	p, skip := d.mapPerson(e)
	if skip == "" && d.adStateHidden(e) {
		// Every AD account has userAccountControl: without it the
		// service account may not read it, and every leaver would look
		// enabled and never expiring. The whole read fails.
		return errADStateUnreadable(e.DN, d.cfg.Attributes.AccountControl)
	}
	if skip == "" {
		if other, dup := r.ids[p.ExternalID]; dup {
			skip = "its id " + p.ExternalID + " is also the id of " + other
		}
	}
	if skip != "" {
		d.log.Warn("directory entry skipped", "dn", e.DN, "reason", skip)
		r.snap.Skipped = append(r.snap.Skipped, Skipped{DN: e.DN, ExternalID: p.ExternalID, Reason: skip})
		return nil
	}
	r.people[key] = p.ExternalID
	r.ids[p.ExternalID] = p.DN
	if k, ok := primaryGroupKey(e.GetRawAttributeValue(adObjectSid), first(e, adPrimaryGroupID)); ok && d.cfg.Preset == PresetActiveDirectory {
		r.primary[k] = append(r.primary[k], key)
	}
	r.snap.People = append(r.snap.People, p)
	return nil
}

// adStateHidden reports whether e, an AD account (it has a username),
// comes without its userAccountControl: the service account may not read
// it (a hardened domain).
func (d *Directory) adStateHidden(e *ldap.Entry) bool {
	a := d.cfg.Attributes
	return d.cfg.Preset == PresetActiveDirectory && a.AccountControl != "" &&
		len(e.GetEqualFoldRawAttributeValues(a.AccountControl)) == 0
}

// errADStateHidden: the service account cannot read an AD person's
// userAccountControl.
var errADStateHidden = errors.New("the service account cannot read userAccountControl")

// errADStateUnreadable names the cause and the remedy of an AD account
// read without its userAccountControl.
func errADStateUnreadable(dn, attr string) error {
	return fmt.Errorf("%w (%s of %s): every Active Directory account has one, so the service account may not read it "+
		"(a hardened domain: Authenticated Users removed from \"Pre-Windows 2000 Compatible Access\"); "+
		"let the service account read %s, accountExpires and lockoutTime of the people (delegate read access on the "+
		"people's OU, or add it to \"Pre-Windows 2000 Compatible Access\"); nothing was changed",
		errADStateHidden, attr, dn, attr)
}

// mapPerson maps one entry. A non-empty reason says why the entry is
// skipped; p.ExternalID is set when the id could be read.
func (d *Directory) mapPerson(e *ldap.Entry) (p Person, reason string) {
	a := d.cfg.Attributes
	p.DN = e.DN
	id, err := d.externalID(e)
	if err != nil {
		return p, err.Error()
	}
	p.ExternalID = id

	name := first(e, a.Username)
	if name == "" {
		return p, "no " + a.Username + " (directory.attributes.username)"
	}
	if p.Username, err = authn.CanonicalName(name); err != nil {
		return p, fmt.Sprintf("username %q: %v", name, err)
	}
	p.DisplayName = first(e, a.DisplayName)
	if p.DisplayName == "" {
		p.DisplayName = first(e, a.GroupName) // cn
	}
	p.Email = first(e, a.Email)
	p.Phone = first(e, a.Phone)
	if s := first(e, a.Street); s != "" {
		p.PostalAddress = append(p.PostalAddress, s)
	}
	if town := strings.TrimSpace(first(e, a.PostalCode) + " " + first(e, a.Locality)); town != "" {
		p.PostalAddress = append(p.PostalAddress, town)
	}

	if v := first(e, a.AccountControl); v != "" {
		uac, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			// AD sends a signed 32-bit number.
			n, err2 := strconv.ParseInt(v, 10, 32)
			if err2 != nil {
				return p, fmt.Sprintf("%s %q is not a number", a.AccountControl, v)
			}
			uac = uint64(uint32(n))
		}
		p.Disabled = uac&0x2 != 0
	}
	if v := first(e, a.AccountExpires); v != "" {
		if p.ExpiresAt, err = parseFileTime(v); err != nil {
			return p, a.AccountExpires + ": " + err.Error()
		}
	}
	if v := first(e, a.ShadowExpire); v != "" {
		if p.ExpiresAt, err = parseShadowExpire(v); err != nil {
			return p, a.ShadowExpire + ": " + err.Error()
		}
	}
	if v := first(e, a.LockedTime); v != "" {
		// 000001010000Z: locked by an administrator for good, a leaver.
		// Any other value: locked by the password policy for now. A value
		// that cannot be read counts as locked for now (not a leaver).
		if lockedForGoodValue(v) {
			p.Disabled = true
		} else {
			p.Locked = true
		}
	}
	return p, ""
}

// externalID reads the entry's stable id in canonical form: objectGUID's 16
// bytes as a GUID string; any other attribute as text, lower-cased when it
// is a UUID (entryUUID), else as it is.
func (d *Directory) externalID(e *ldap.Entry) (string, error) {
	name := d.cfg.Attributes.ID
	vals := e.GetEqualFoldRawAttributeValues(name)
	switch {
	case len(vals) == 0 || len(vals[0]) == 0:
		return "", fmt.Errorf("no %s (directory.attributes.id)", name)
	case len(vals) > 1:
		return "", fmt.Errorf("%s has %d values", name, len(vals))
	}
	if strings.EqualFold(name, "objectGUID") {
		return guidString(vals[0])
	}
	s := strings.TrimSpace(string(vals[0]))
	if u, err := canonicalUUID(s); err == nil {
		return u, nil
	}
	if !isPrintable(s) {
		return "", fmt.Errorf("%s is not printable text", name)
	}
	return s, nil
}

func isPrintable(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

// first returns the first value of attr (its name compared without case),
// trimmed; "" when attr is "" or absent.
func first(e *ldap.Entry, attr string) string {
	if attr == "" {
		return ""
	}
	return strings.TrimSpace(e.GetEqualFoldAttributeValue(attr))
}

// dnKey is the form of a DN two equal DNs share (distinguishedNameMatch
// without case, RFC 4517 §4.2.15): ParseDN's normal form, lower-cased.
//
// A DN in the plain form most directories send (ASCII, no escapes,
// quotes, multi-valued RDNs or spaces around ',' and '=') is only
// lower-cased: ParseDN would give the same, at a cost that shows with
// 150,000 member values.
func dnKey(dn string) string {
	if plainDN(dn) {
		return strings.ToLower(dn)
	}
	p, err := ldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(dn))
	}
	return strings.ToLower(p.String())
}

// plainDN reports whether ParseDN(dn).String() is dn itself up to case:
// attribute=value pairs joined by ',', in printable ASCII (ParseDN escapes
// the rest) without a character that needs escaping or parsing
// (backslash, '"', '+', ';', '<', '>', '#'), no space next to ',' or '='
// or at either end, and each RDN with one '=' and a value.
func plainDN(dn string) bool {
	if dn == "" || dn[0] == ' ' || dn[len(dn)-1] == ' ' {
		return false
	}
	eq := 0
	for i := 0; i < len(dn); i++ {
		c := dn[i]
		if c < 0x20 || c >= 0x7f {
			return false
		}
		switch c {
		case '\\', '"', '+', ';', '<', '>', '#':
			return false
		case ',', '=':
			if i == 0 || i == len(dn)-1 || dn[i-1] == ' ' || dn[i+1] == ' ' {
				return false
			}
			if c == '=' {
				if dn[i+1] == ',' {
					return false // an empty value
				}
				eq++
				if eq > 1 {
					return false
				}
			} else {
				if eq != 1 {
					return false
				}
				eq = 0
			}
		}
	}
	return eq == 1
}
