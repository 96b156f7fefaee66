package ldapsync

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/keyhall/keyhall/authn"
)

// Preset names a kind of directory whose attribute names Keyhall knows.
type Preset string

const (
	PresetActiveDirectory Preset = "activedirectory" // also Samba AD
	PresetOpenLDAP        Preset = "openldap"
)

// Config describes one directory. cmd/keyhall fills it from the YAML
// (`directory:`), reading BindPassword from its file; WithDefaults fills in
// what the preset and the defaults give, and Validate names every problem.
type Config struct {
	// Name is the directory's short name, unique among the configured
	// directories and stored with each person it brings (authn.User.Directory).
	Name string
	// URL is ldaps://host[:port] or ldap://host[:port].
	URL string
	// StartTLS upgrades an ldap:// connection; required for ldap:// unless
	// InsecurePlaintext, which is allowed only for 127.0.0.1 (tests).
	StartTLS          bool
	InsecurePlaintext bool
	CAFile            string // PEM; "" = the system's roots
	BindDN            string
	BindPassword      string
	BaseDNs           []string
	GroupBaseDNs      []string      // where groups are read; empty: BaseDNs (a group mapped by DN: where it is)
	UserFilter        string        // e.g. (&(objectClass=user)(objectCategory=person)); preset default
	GroupFilter       string        // preset default
	PageSize          int           // paged-results page size; default 500
	Timeout           time.Duration // each request (and dial); default 10 s
	SyncDeadline      time.Duration // a whole read; default 10 min
	Preset            Preset
	Attributes        Attributes
	// Groups maps directory groups to Keyhall group names; only mapped
	// groups are imported.
	Groups []GroupMapping

	// Interval between incremental syncs (default 5 min) and FullInterval
	// between full syncs (default 24 h), for serve.
	Interval     time.Duration
	FullInterval time.Duration
	// GracePeriod: how long a leaver stays disabled before she is deleted
	// with her factors (default 30 days).
	GracePeriod time.Duration
	// The safety valve (sync.go): a complete read that would disable or
	// delete more than MaxDisableFraction of the directory's people
	// (default 0.10) or more than MaxDisableCount (default 500) changes none
	// of them without AllowMassChange.
	MaxDisableFraction float64
	MaxDisableCount    int
	// MaxStaleness: how old the last known state of a person may be when the
	// directory does not answer a live check (default 15 min).
	MaxStaleness time.Duration
	// LockoutThreshold is the directory's own lockout threshold (AD
	// "account lockout threshold", ppolicy pwdMaxFailure); 0 = unknown.
	// Keyhall's per-account password limit must stay below it.
	LockoutThreshold int
	// LockoutStopsKey: a person the directory reports locked may not sign
	// in with her key either (default false).
	LockoutStopsKey bool
}

// Attributes names the directory attributes Keyhall reads. A preset fills
// every one; a config may override each.
type Attributes struct {
	ID          string // objectGUID | entryUUID
	Username    string // sAMAccountName (or userPrincipalName) | uid
	DisplayName string // displayName | cn (displayName where present)
	Email       string // mail
	Phone       string // telephoneNumber
	Street      string // streetAddress | street
	PostalCode  string // postalCode
	Locality    string // l
	// AD: userAccountControl (disabled bit 0x2) and accountExpires
	// (FILETIME). OpenLDAP: pwdAccountLockedTime and shadowExpire.
	AccountControl string
	AccountExpires string
	LockedTime     string
	ShadowExpire   string
	GroupName      string // cn
	Member         string // member | member (or uniqueMember)
	ChangeMarker   string // uSNChanged | modifyTimestamp
}

// GroupMapping takes one directory group (by DN) or the groups a filter
// finds (each under its own cn, lower-cased, unless Name is set) into
// Keyhall.
type GroupMapping struct {
	DN     string
	Filter string
	Name   string // the Keyhall group name, e.g. "rat"
}

// Defaults of a Config; WithDefaults fills them in where a setting is zero.
const (
	DefaultPageSize           = 500
	DefaultTimeout            = 10 * time.Second
	DefaultSyncDeadline       = 10 * time.Minute
	DefaultInterval           = 5 * time.Minute
	DefaultFullInterval       = 24 * time.Hour
	DefaultGracePeriod        = 30 * 24 * time.Hour
	DefaultMaxDisableFraction = 0.10
	DefaultMaxDisableCount    = 500
	DefaultMaxStaleness       = 15 * time.Minute
)

// presetAttributes are the attribute names each preset fills in.
var presetAttributes = map[Preset]Attributes{
	PresetActiveDirectory: {
		ID:             "objectGUID",
		Username:       "sAMAccountName",
		DisplayName:    "displayName",
		Email:          "mail",
		Phone:          "telephoneNumber",
		Street:         "streetAddress",
		PostalCode:     "postalCode",
		Locality:       "l",
		AccountControl: "userAccountControl",
		AccountExpires: "accountExpires",
		GroupName:      "cn",
		Member:         "member",
		ChangeMarker:   "uSNChanged",
	},
	PresetOpenLDAP: {
		ID:           "entryUUID",
		Username:     "uid",
		DisplayName:  "displayName",
		Email:        "mail",
		Phone:        "telephoneNumber",
		Street:       "street",
		PostalCode:   "postalCode",
		Locality:     "l",
		LockedTime:   "pwdAccountLockedTime",
		ShadowExpire: "shadowExpire",
		GroupName:    "cn",
		Member:       "member",
		ChangeMarker: "modifyTimestamp",
	},
}

// presetFilters are each preset's user and group filters.
var presetFilters = map[Preset][2]string{
	PresetActiveDirectory: {"(&(objectClass=user)(objectCategory=person))", "(objectClass=group)"},
	PresetOpenLDAP:        {"(objectClass=inetOrgPerson)", "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"},
}

// WithDefaults returns c with every zero setting filled in from its preset
// and the defaults above. An attribute or filter set in c is kept. It does
// not check anything; Validate does.
func (c Config) WithDefaults() Config {
	if p, ok := presetAttributes[c.Preset]; ok {
		a := &c.Attributes
		fill := func(dst *string, v string) {
			if *dst == "" {
				*dst = v
			}
		}
		fill(&a.ID, p.ID)
		fill(&a.Username, p.Username)
		fill(&a.DisplayName, p.DisplayName)
		fill(&a.Email, p.Email)
		fill(&a.Phone, p.Phone)
		fill(&a.Street, p.Street)
		fill(&a.PostalCode, p.PostalCode)
		fill(&a.Locality, p.Locality)
		fill(&a.AccountControl, p.AccountControl)
		fill(&a.AccountExpires, p.AccountExpires)
		fill(&a.LockedTime, p.LockedTime)
		fill(&a.ShadowExpire, p.ShadowExpire)
		fill(&a.GroupName, p.GroupName)
		fill(&a.Member, p.Member)
		fill(&a.ChangeMarker, p.ChangeMarker)
		f := presetFilters[c.Preset]
		fill(&c.UserFilter, f[0])
		fill(&c.GroupFilter, f[1])
	}
	// The Groups slice is shared with the caller's; WithDefaults does not
	// change it, so no copy is needed.
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.SyncDeadline == 0 {
		c.SyncDeadline = DefaultSyncDeadline
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.FullInterval == 0 {
		c.FullInterval = DefaultFullInterval
	}
	if c.GracePeriod == 0 {
		c.GracePeriod = DefaultGracePeriod
	}
	if c.MaxDisableFraction == 0 {
		c.MaxDisableFraction = DefaultMaxDisableFraction
	}
	if c.MaxDisableCount == 0 {
		c.MaxDisableCount = DefaultMaxDisableCount
	}
	if c.MaxStaleness == 0 {
		c.MaxStaleness = DefaultMaxStaleness
	}
	return c
}

// Validate names every problem of c in plain words, each with the YAML name
// of its setting (directory.url, directory.bind_dn, …), joined with
// errors.Join; nil if there is none. Call it on the result of WithDefaults.
// It changes nothing.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}

	if c.Name == "" {
		bad("directory.name: missing; give the directory a short name (e.g. \"ad\")")
	} else if n, err := authn.CanonicalName(c.Name); err != nil || n != c.Name {
		bad("directory.name: %q is not a valid name (lower case, no spaces)", c.Name)
	}

	switch c.Preset {
	case PresetActiveDirectory, PresetOpenLDAP:
	case "":
		bad("directory.preset: missing; use %q or %q", PresetActiveDirectory, PresetOpenLDAP)
	default:
		bad("directory.preset: %q is unknown; use %q or %q", c.Preset, PresetActiveDirectory, PresetOpenLDAP)
	}

	if want := presetAttributes[c.Preset].ID; want != "" && c.Attributes.ID != "" && !strings.EqualFold(c.Attributes.ID, want) {
		// The verifier finds a person by her id (<GUID=…>, entryUUID=…),
		// and ids are UUIDs in canonical form everywhere.
		bad("directory.attributes.id: %q; Keyhall identifies people by %s with this preset, and no other attribute yet", c.Attributes.ID, want)
	}

	errs = append(errs, c.validateURL()...)

	if c.BindDN == "" {
		bad("directory.bind_dn: missing; Keyhall reads the directory as a service account")
	} else if _, err := ldap.ParseDN(c.BindDN); err != nil {
		bad("directory.bind_dn: %q is not a DN: %v", c.BindDN, err)
	}
	if c.BindPassword == "" {
		bad("directory.bind_password_file: the service account's password is missing or empty")
	}
	if len(c.BaseDNs) == 0 {
		bad("directory.base_dns: missing; name at least one base DN to read people and groups under")
	}
	for i, b := range c.BaseDNs {
		if d, err := ldap.ParseDN(b); err != nil || len(d.RDNs) == 0 {
			bad("directory.base_dns[%d]: %q is not a DN", i, b)
		}
	}
	for _, o := range BaseDNOverlaps(c.BaseDNs, "directory.base_dns") {
		bad("directory.base_dns[%d]: %s", o.Index, o.Problem)
	}
	for i, b := range c.GroupBaseDNs {
		if d, err := ldap.ParseDN(b); err != nil || len(d.RDNs) == 0 {
			bad("directory.group_base_dns[%d]: %q is not a DN", i, b)
		}
	}
	for _, o := range BaseDNOverlaps(c.GroupBaseDNs, "directory.group_base_dns") {
		bad("directory.group_base_dns[%d]: %s", o.Index, o.Problem)
	}
	for _, f := range []struct{ name, v string }{
		{"directory.user_filter", c.UserFilter},
		{"directory.group_filter", c.GroupFilter},
	} {
		if f.v == "" {
			bad("%s: missing", f.name)
		} else if _, err := ldap.CompileFilter(f.v); err != nil {
			bad("%s: %q is not an LDAP filter: %v", f.name, f.v, err)
		}
	}
	if c.PageSize < 1 || c.PageSize > 1000 {
		bad("directory.page_size: %d; use 1 to 1000 (Active Directory serves at most 1000 a page)", c.PageSize)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"directory.timeout", c.Timeout},
		{"directory.sync_deadline", c.SyncDeadline},
		{"directory.interval", c.Interval},
		{"directory.full_interval", c.FullInterval},
		{"directory.grace_period", c.GracePeriod},
		{"directory.max_staleness", c.MaxStaleness},
	} {
		if d.v <= 0 {
			bad("%s: %v; must be longer than zero", d.name, d.v)
		}
	}
	if c.Timeout > 0 && c.SyncDeadline > 0 && c.SyncDeadline < c.Timeout {
		bad("directory.sync_deadline: %v is shorter than directory.timeout (%v)", c.SyncDeadline, c.Timeout)
	}
	if c.MaxDisableFraction <= 0 || c.MaxDisableFraction > 1 {
		bad("directory.max_disable_fraction: %v; use a fraction above 0 and at most 1 (e.g. 0.1)", c.MaxDisableFraction)
	}
	if c.MaxDisableCount < 1 {
		bad("directory.max_disable_count: %d; must be at least 1", c.MaxDisableCount)
	}
	if c.LockoutThreshold < 0 {
		bad("directory.lockout_threshold: %d; must not be negative (0 = unknown)", c.LockoutThreshold)
	}

	a := c.Attributes
	for _, f := range []struct{ name, v string }{
		{"id", a.ID}, {"username", a.Username}, {"group_name", a.GroupName}, {"member", a.Member},
	} {
		if f.v == "" {
			bad("directory.attributes.%s: missing", f.name)
		}
	}

	names := map[string]int{}
	for i, g := range c.Groups {
		where := fmt.Sprintf("directory.groups[%d]", i)
		switch {
		case g.DN == "" && g.Filter == "":
			bad("%s: give either dn or filter", where)
		case g.DN != "" && g.Filter != "":
			bad("%s: give either dn or filter, not both", where)
		case g.DN != "":
			if _, err := ldap.ParseDN(g.DN); err != nil {
				bad("%s.dn: %q is not a DN: %v", where, g.DN, err)
			}
			if g.Name == "" {
				bad("%s.name: missing; a group taken by DN needs the Keyhall name it gets (e.g. \"rat\")", where)
			}
		default:
			if _, err := ldap.CompileFilter(g.Filter); err != nil {
				bad("%s.filter: %q is not an LDAP filter: %v", where, g.Filter, err)
			}
		}
		if g.Name != "" {
			if n, err := authn.CanonicalName(g.Name); err != nil || n != g.Name {
				bad("%s.name: %q is not a valid group name (lower case, no spaces)", where, g.Name)
			} else if j, dup := names[g.Name]; dup {
				bad("%s.name: %q is already taken by directory.groups[%d]", where, g.Name, j)
			} else {
				names[g.Name] = i
			}
		}
	}
	return errors.Join(errs...)
}

// validateURL checks directory.url and the TLS settings that go with it.
func (c Config) validateURL() []error {
	if c.URL == "" {
		return []error{errors.New("directory.url: missing; use ldaps://host or ldap://host with start_tls: true")}
	}
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return []error{fmt.Errorf("directory.url: %q is not a URL like ldaps://dc1.example.org", c.URL)}
	}
	var errs []error
	switch u.Scheme {
	case "ldaps":
		if c.StartTLS {
			errs = append(errs, errors.New("directory.start_tls: not with ldaps:// (the connection is TLS already)"))
		}
		if c.InsecurePlaintext {
			errs = append(errs, errors.New("directory.insecure_plaintext: not with ldaps://"))
		}
	case "ldap":
		if c.StartTLS && c.InsecurePlaintext {
			errs = append(errs, errors.New("directory.insecure_plaintext: not with start_tls: true"))
		}
		if !c.StartTLS && !c.InsecurePlaintext {
			errs = append(errs, fmt.Errorf("directory.url: %q would send passwords in plain text; use ldaps:// or set directory.start_tls: true", c.URL))
		}
		if c.InsecurePlaintext && u.Hostname() != "127.0.0.1" {
			errs = append(errs, fmt.Errorf("directory.insecure_plaintext: allowed only for ldap://127.0.0.1 (tests), not for %s", u.Hostname()))
		}
	default:
		errs = append(errs, fmt.Errorf("directory.url: scheme %q; use ldaps:// or ldap:// with start_tls: true", u.Scheme))
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		errs = append(errs, fmt.Errorf("directory.url: %q has a path or query; give only scheme, host and port (base DNs go in directory.base_dns)", c.URL))
	}
	// The CA file is read by NewDirectory (and by cmd/keyhall at load),
	// not here: Validate checks the settings, not the machine.
	return errs
}

// BaseDNOverlap is a base DN that repeats another (compared as DNs,
// without case) or lies under another: a person under it would be found
// twice.
type BaseDNOverlap struct {
	Index   int    // of the base DN to remove
	Problem string // in plain words, naming the other as name[j]
}

// BaseDNOverlaps names each base DN of dns that repeats an earlier one or
// lies under another; name is the setting's name (directory.base_dns).
// DNs that do not parse are left to the caller.
func BaseDNOverlaps(dns []string, name string) []BaseDNOverlap {
	parsed := make([]*ldap.DN, len(dns))
	for i, b := range dns {
		if d, err := ldap.ParseDN(b); err == nil && len(d.RDNs) > 0 {
			parsed[i] = d
		}
	}
	var out []BaseDNOverlap
	for i, d := range parsed {
		if d == nil {
			continue
		}
		for j, o := range parsed {
			switch {
			case o == nil || i == j:
				continue
			case j < i && d.EqualFold(o):
				out = append(out, BaseDNOverlap{i, fmt.Sprintf("%q is %s[%d] again; name each base DN once", dns[i], name, j)})
			case o.AncestorOfFold(d):
				out = append(out, BaseDNOverlap{i, fmt.Sprintf("%q lies under %s[%d] %q, which reads it already; "+
					"remove one of them (a person under both would be found twice)", dns[i], name, j, dns[j])})
			default:
				continue
			}
			break
		}
	}
	return out
}

// groupBases are the base DNs groups are read under: GroupBaseDNs, or
// BaseDNs when it is empty.
func (c Config) groupBases() []string {
	if len(c.GroupBaseDNs) > 0 {
		return c.GroupBaseDNs
	}
	return c.BaseDNs
}
