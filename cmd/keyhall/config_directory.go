package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/keyhall/keyhall/ldapsync"
)

// DirectoryConfig is one directory people and groups are synced from
// (issue #13): the `directory:` section, or one element of `directories:`.
// A zero value (every setting empty, but the single form's default name)
// means no directory. Zero durations and counts mean ldapsync's defaults.
type DirectoryConfig struct {
	// Name is the directory's short name, stored with each person it
	// brings; "directory" for the single form, required in the list.
	Name string `yaml:"name"`
	// Preset is activedirectory (also Samba AD) or openldap.
	Preset            string   `yaml:"preset"`
	URL               string   `yaml:"url"`
	StartTLS          bool     `yaml:"start_tls"`
	InsecurePlaintext bool     `yaml:"insecure_plaintext"`
	CAFile            string   `yaml:"ca_file"`
	BindDN            string   `yaml:"bind_dn"`
	BindPasswordFile  string   `yaml:"bind_password_file"`
	BaseDNs           DNList   `yaml:"base_dns"`
	GroupBaseDNs      DNList   `yaml:"group_base_dns"` // where groups are read; empty: BaseDNs
	UserFilter        string   `yaml:"user_filter"`
	GroupFilter       string   `yaml:"group_filter"`
	PageSize          int      `yaml:"page_size"`
	Timeout           Duration `yaml:"timeout"`
	SyncDeadline      Duration `yaml:"sync_deadline"`
	Interval          Duration `yaml:"interval"`
	FullInterval      Duration `yaml:"full_interval"`
	GracePeriod       Duration `yaml:"grace_period"`
	// MaxDisableFraction is written 0.1 or 10%.
	MaxDisableFraction Fraction            `yaml:"max_disable_fraction"`
	MaxDisableCount    int                 `yaml:"max_disable_count"`
	MaxStaleness       Duration            `yaml:"max_staleness"`
	LockoutThreshold   int                 `yaml:"lockout_threshold"`
	LockoutStopsKey    bool                `yaml:"lockout_stops_key"`
	Attributes         DirectoryAttributes `yaml:"attributes"`
	Groups             []DirectoryGroup    `yaml:"groups"`
}

// DirectoryAttributes overrides the attribute names the preset gives.
type DirectoryAttributes struct {
	ID             string `yaml:"id"`
	Username       string `yaml:"username"`
	DisplayName    string `yaml:"display_name"`
	Email          string `yaml:"email"`
	Phone          string `yaml:"phone"`
	Street         string `yaml:"street"`
	PostalCode     string `yaml:"postal_code"`
	Locality       string `yaml:"locality"`
	AccountControl string `yaml:"account_control"`
	AccountExpires string `yaml:"account_expires"`
	LockedTime     string `yaml:"locked_time"`
	ShadowExpire   string `yaml:"shadow_expire"`
	GroupName      string `yaml:"group_name"`
	Member         string `yaml:"member"`
	ChangeMarker   string `yaml:"change_marker"`
}

// DirectoryGroup takes one directory group (dn) or the groups a filter
// finds into Keyhall, under name (default: the group's cn, lower-cased).
type DirectoryGroup struct {
	DN     string `yaml:"dn"`
	Filter string `yaml:"filter"`
	Name   string `yaml:"name"`
}

// DNList is a list of distinguished names. A DN holds commas, so the
// environment gives the list separated by ";" (KEYHALL_DIRECTORY_BASE_DNS=
// OU=A,DC=x;OU=B,DC=x), and the YAML file refuses an unquoted DN in a
// [flow, list], where its commas would split it into several DNs
// ("DC=example" alone: the whole domain).
type DNList []string

// UnmarshalText reads a ";"-separated list (a "\;" in a DN stays).
func (l *DNList) UnmarshalText(b []byte) error {
	var out DNList
	start := 0
	s := string(b)
	for i := 0; i <= len(s); i++ {
		if i < len(s) && (s[i] != ';' || i > 0 && s[i-1] == '\\') {
			continue
		}
		if item := strings.TrimSpace(s[start:i]); item != "" {
			out = append(out, item)
		}
		start = i + 1
	}
	*l = out
	return nil
}

// defaultDirectoryName is the name of the single `directory:`.
const defaultDirectoryName = "directory"

// Fraction is a share from 0 to 1, written 0.1 or 10%.
type Fraction float64

// MarshalText writes f as a decimal.
func (f Fraction) MarshalText() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(f), 'g', -1, 64)), nil
}

// UnmarshalText reads 0.1 or 10%.
func (f *Fraction) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	scale := 1.0
	if t, ok := strings.CutSuffix(s, "%"); ok {
		s, scale = strings.TrimSpace(t), 100
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || x != x || x < 0 || x/scale > 1 {
		return fmt.Errorf("%q is not a share from 0 to 1 such as 0.1 or 10%%", b)
	}
	*f = Fraction(x / scale)
	return nil
}

// directoryEntry is one configured directory and its setting path.
type directoryEntry struct {
	path string // "directory" or "directories[1]"
	dir  DirectoryConfig
}

// directoryList returns the configured directories: the single
// `directory:` when it is set, else the elements of `directories:`.
func (c Config) directoryList() []directoryEntry {
	var out []directoryEntry
	if c.Directory.isSet() {
		out = append(out, directoryEntry{"directory", c.Directory})
	}
	for i, d := range c.Directories {
		out = append(out, directoryEntry{fmt.Sprintf("directories[%d]", i), d})
	}
	return out
}

// isSet reports whether any setting of d but its name is given: an empty
// `directory:` (as in the example file) configures none.
func (d DirectoryConfig) isSet() bool {
	d.Name = ""
	return !isEmptyValue(reflect.ValueOf(d))
}

// isEmptyValue is reflect's IsZero, but an empty list counts as empty too.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice:
		return v.Len() == 0
	case reflect.Struct:
		for i := range v.NumField() {
			if !isEmptyValue(v.Field(i)) {
				return false
			}
		}
		return true
	}
	return v.IsZero()
}

// validateDirectories checks directory and directories. The reader's own
// checks (ldapsync.Config.Validate) run on top where it exists.
func (c Config) validateDirectories(v *validator) {
	if c.Directory.isSet() && len(c.Directories) > 0 {
		v.add("directories", "is set, but directory is set too: write one directory under directory, or several under directories, not both")
	}
	if c.Directory.Name != defaultDirectoryName && !c.Directory.isSet() {
		v.add("directory.name", "is set, but nothing else of directory is: set preset, url and the rest, or leave directory out")
	}
	names := map[string]string{}
	for _, e := range c.directoryList() {
		if e.dir.Name == "" {
			v.add(e.path+".name", "must be set: a short name such as \"stadt\", stored with each person the directory brings")
		} else if !directoryNameRE.MatchString(e.dir.Name) {
			v.add(e.path+".name", "%q: use lower-case letters, digits, - and _, starting with a letter (up to 32)", e.dir.Name)
		} else if first, dup := names[e.dir.Name]; dup {
			v.addOther(e.path+".name", first+".name", "%q names another directory too", e.dir.Name)
		} else {
			names[e.dir.Name] = e.path
		}
		e.dir.validate(v, e.path)
		if lc, err := e.dir.ldapConfig("", true); err == nil {
			for _, err := range unjoin(validateLDAPConfig(lc)) {
				path, msg := ldapProblem(err, e.path)
				if path == e.path || !v.reported(path) {
					v.add(path, "%s", msg)
				}
			}
		}
	}
}

// ldapProblem splits a problem ldapsync.Config.Validate names
// ("directory.page_size: …") into its setting's path under at
// ("directories[1].page_size") and its message.
func ldapProblem(err error, at string) (path, msg string) {
	msg = err.Error()
	if rest, ok := strings.CutPrefix(msg, "directory."); ok {
		if name, m, ok := strings.Cut(rest, ": "); ok && !strings.ContainsAny(name, " ") {
			return at + "." + name, m
		}
	}
	return at, msg
}

// reported reports whether a problem with path, or a setting inside it,
// was found already.
func (v *validator) reported(path string) bool {
	for _, err := range v.errs {
		var fe *fieldError
		if errors.As(err, &fe) && (fe.Path == path || strings.HasPrefix(fe.Path, path+".") || strings.HasPrefix(fe.Path, path+"[")) {
			return true
		}
	}
	return false
}

var (
	directoryNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
	// attributeRE: an attribute description, a name or an OID, with
	// options (RFC 4512 §2.5).
	attributeRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)(;[A-Za-z0-9-]+)*$`)
)

// validate checks one directory's settings; path is where it is written.
func (d DirectoryConfig) validate(v *validator, path string) {
	p := func(name string) string { return path + "." + name }
	switch ldapsync.Preset(d.Preset) {
	case ldapsync.PresetActiveDirectory, ldapsync.PresetOpenLDAP:
	case "":
		v.add(p("preset"), "must be set: activedirectory (also Samba AD) or openldap")
	default:
		v.add(p("preset"), "%q is not one of activedirectory, openldap", d.Preset)
	}
	d.validateURL(v, path)
	switch {
	case d.BindDN == "":
		v.add(p("bind_dn"), "must be set: the DN of the service account Keyhall reads the directory as")
	default:
		if _, err := ldap.ParseDN(d.BindDN); err != nil {
			v.add(p("bind_dn"), "%q is not a DN: %v", d.BindDN, err)
		}
	}
	if d.BindPasswordFile == "" {
		v.add(p("bind_password_file"), "must be set: a file holding the service account's password")
	}
	if len(d.BaseDNs) == 0 {
		v.add(p("base_dns"), "must name at least one base DN, such as OU=Mitarbeiter,DC=stadt,DC=example")
	}
	for i, dn := range d.BaseDNs {
		if strings.TrimSpace(dn) == "" {
			v.add(fmt.Sprintf("%s[%d]", p("base_dns"), i), "is empty")
		} else if _, err := ldap.ParseDN(dn); err != nil {
			v.add(fmt.Sprintf("%s[%d]", p("base_dns"), i), "%q is not a DN: %v", dn, err)
		}
	}
	for i, dn := range d.GroupBaseDNs {
		if strings.TrimSpace(dn) == "" {
			v.add(fmt.Sprintf("%s[%d]", p("group_base_dns"), i), "is empty")
		} else if _, err := ldap.ParseDN(dn); err != nil {
			v.add(fmt.Sprintf("%s[%d]", p("group_base_dns"), i), "%q is not a DN: %v", dn, err)
		}
	}
	for _, f := range [][2]string{{"user_filter", d.UserFilter}, {"group_filter", d.GroupFilter}} {
		if f[1] != "" {
			v.check(p(f[0]), checkFilter(f[1]))
		}
	}
	if d.PageSize < 0 {
		v.add(p("page_size"), "must be 0 (the default, 500) or more, not %d", d.PageSize)
	}
	for _, dur := range []struct {
		name string
		d    Duration
	}{{"timeout", d.Timeout}, {"sync_deadline", d.SyncDeadline}, {"interval", d.Interval},
		{"full_interval", d.FullInterval}, {"grace_period", d.GracePeriod}, {"max_staleness", d.MaxStaleness}} {
		if dur.d < 0 {
			v.add(p(dur.name), "must be 0s (the default) or longer, not %s", dur.d)
		}
	}
	if d.Interval > 0 && d.FullInterval > 0 && d.FullInterval < d.Interval {
		v.addOther(p("full_interval"), p("interval"), "%s is shorter than interval %s", d.FullInterval, d.Interval)
	}
	if d.Timeout > 0 && d.SyncDeadline > 0 && d.SyncDeadline < d.Timeout {
		v.addOther(p("sync_deadline"), p("timeout"), "%s is shorter than timeout %s", d.SyncDeadline, d.Timeout)
	}
	if d.MaxDisableCount < 0 {
		v.add(p("max_disable_count"), "must be 0 (the default, 500) or more, not %d", d.MaxDisableCount)
	}
	if d.LockoutThreshold < 0 {
		v.add(p("lockout_threshold"), "must be 0 (unknown) or the directory's lockout threshold, not %d", d.LockoutThreshold)
	}
	av := reflect.ValueOf(d.Attributes)
	for i := range av.NumField() {
		if s := av.Field(i).String(); s != "" && !attributeRE.MatchString(s) {
			v.add(p("attributes."+yamlName(av.Type().Field(i))), "%q is not an attribute name such as mail or 1.2.840.113556.1.4.221", s)
		}
	}
	seen := map[string]string{}
	for i, g := range d.Groups {
		gp := fmt.Sprintf("%s[%d]", p("groups"), i)
		switch {
		case g.DN == "" && g.Filter == "":
			v.add(gp, "names no group: set dn (one group) or filter (the groups it finds)")
		case g.DN != "" && g.Filter != "":
			v.add(gp+".filter", "is set, but dn is set too: give one")
		case g.DN != "":
			if _, err := ldap.ParseDN(g.DN); err != nil {
				v.add(gp+".dn", "%q is not a DN: %v", g.DN, err)
			}
		default:
			v.check(gp+".filter", checkFilter(g.Filter))
		}
		if g.Name == "" {
			continue
		}
		if err := checkCanonical(g.Name); err != nil {
			v.add(gp+".name", "%s", err.Error())
		} else if first, dup := seen[g.Name]; dup {
			v.addOther(gp+".name", first, "%q is the name of another mapping too", g.Name)
		} else {
			seen[g.Name] = gp + ".name"
		}
	}
}

// validateURL checks url, start_tls and insecure_plaintext: ldaps://, or
// ldap:// with StartTLS; plain ldap:// only to the loopback address with
// insecure_plaintext (tests).
func (d DirectoryConfig) validateURL(v *validator, path string) {
	p := func(name string) string { return path + "." + name }
	if d.URL == "" {
		v.add(p("url"), "must be set, such as ldaps://dc1.stadt.example or ldap://ldap.stadt.example with start_tls: true")
		return
	}
	u, err := url.Parse(d.URL)
	if err != nil || u.Host == "" || u.Opaque != "" {
		v.add(p("url"), "%q is not a URL such as ldaps://dc1.stadt.example", d.URL)
		return
	}
	switch {
	case u.Scheme != "ldaps" && u.Scheme != "ldap":
		v.add(p("url"), "scheme %q is not ldaps or ldap", u.Scheme)
		return
	case u.User != nil:
		v.add(p("url"), "must not hold a user or password: use bind_dn and bind_password_file")
		return
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		v.add(p("url"), "must be scheme, host and port alone; put the base DN in base_dns")
		return
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			v.add(p("url"), "port %q is not a number from 1 to 65535", port)
		}
	}
	switch {
	case u.Scheme == "ldaps" && d.StartTLS:
		v.add(p("start_tls"), "is true, but url is ldaps:// (TLS from the start): leave start_tls out")
	case d.InsecurePlaintext && (u.Scheme == "ldaps" || d.StartTLS):
		v.add(p("insecure_plaintext"), "is true, but the connection is encrypted: leave insecure_plaintext out")
	case d.InsecurePlaintext && !isLoopback(u.Hostname()):
		v.add(p("insecure_plaintext"), "is allowed only for 127.0.0.1 (tests): the service account's and every person's password would cross the network unencrypted; use ldaps:// or start_tls: true")
	case u.Scheme == "ldap" && !d.StartTLS && !d.InsecurePlaintext:
		v.add(p("url"), "is ldap:// without start_tls: passwords would cross the network unencrypted; use ldaps:// or set start_tls: true")
	}
}

// isLoopback reports whether host is a loopback address (not a name:
// "localhost" may resolve elsewhere).
func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkFilter checks an LDAP search filter (RFC 4515).
func checkFilter(f string) error {
	if _, err := ldap.CompileFilter(f); err != nil {
		return fmt.Errorf("%q is not an LDAP filter such as (objectClass=person): %v", f, err)
	}
	return nil
}

// readDirectoryFiles reads each configured directory's bind_password_file
// and ca_file at load, after Validate, so that a missing or unreadable one
// stops start-up naming its setting. (Validate itself checks only that
// they are set, so that the example's commented directory is valid
// without its files.)
func (l *loader) readDirectoryFiles() {
	for _, e := range l.cfg.directoryList() {
		if e.dir.BindPasswordFile != "" {
			if _, err := readSecretFile(e.dir.BindPasswordFile); err != nil {
				l.fail(l.originOf(e.path+".bind_password_file"), e.path+".bind_password_file", "%s", err.Error())
			}
		}
		if e.dir.CAFile != "" {
			if err := checkCAFile(e.dir.CAFile); err != nil {
				l.fail(l.originOf(e.path+".ca_file"), e.path+".ca_file", "%s", err.Error())
			}
		}
	}
}

// checkCAFile checks that path holds at least one PEM certificate.
func checkCAFile(path string) error {
	if err := checkRegularFile(path); err != nil {
		return err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read file: %w", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		return fmt.Errorf("%s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path)
	}
	return nil
}

// directoryWarnings names what is valid but risky in the directories: a
// lockout threshold Keyhall's own per-account limit (passwordLimit) cannot
// stay below, and a password file anyone on the machine may read.
func (c Config) directoryWarnings() []string {
	var out []string
	limit, window := passwordLimit(c.directoryList())
	for _, e := range c.directoryList() {
		if t := e.dir.LockoutThreshold; t > 0 && limit >= t {
			out = append(out, fmt.Sprintf("%s.lockout_threshold: %d, but Keyhall lets a person try at least %d wrong password(s) (per %s) before it stops her: "+
				"wrong passwords typed at Keyhall could lock her Windows account; raise the directory's threshold above %d",
				e.path, t, limit, window, limit))
		}
		if f := e.dir.BindPasswordFile; f != "" {
			if fi, err := os.Stat(f); err == nil && fi.Mode().Perm()&0o004 != 0 {
				out = append(out, fmt.Sprintf("%s.bind_password_file: %s may be read by anyone on this machine (mode %v); chmod 600 it, owned by the user Keyhall runs as",
					e.path, f, fi.Mode().Perm()))
			}
		}
	}
	return out
}

// ldapConfigs returns the configured directories as ldapsync wants them,
// with each bind password read from its file and the defaults filled in.
func (c Config) ldapConfigs() ([]ldapsync.Config, error) {
	var out []ldapsync.Config
	for _, e := range c.directoryList() {
		lc, err := e.dir.ldapConfig(e.path, false)
		if err != nil {
			return nil, err
		}
		out = append(out, lc)
	}
	return out, nil
}

// ldapConfig maps d into an ldapsync.Config with the defaults filled in,
// reading the bind password unless noSecret (Validate, which reads no
// files).
func (d DirectoryConfig) ldapConfig(path string, noSecret bool) (ldapsync.Config, error) {
	lc := ldapsync.Config{
		Name: d.Name, URL: d.URL, StartTLS: d.StartTLS, InsecurePlaintext: d.InsecurePlaintext, CAFile: d.CAFile,
		BindDN: d.BindDN, BaseDNs: append([]string(nil), d.BaseDNs...),
		GroupBaseDNs: append([]string(nil), d.GroupBaseDNs...), UserFilter: d.UserFilter, GroupFilter: d.GroupFilter,
		PageSize: d.PageSize, Timeout: time.Duration(d.Timeout), SyncDeadline: time.Duration(d.SyncDeadline),
		Preset: ldapsync.Preset(d.Preset), Interval: time.Duration(d.Interval), FullInterval: time.Duration(d.FullInterval),
		GracePeriod: time.Duration(d.GracePeriod), MaxDisableFraction: float64(d.MaxDisableFraction),
		MaxDisableCount: d.MaxDisableCount, MaxStaleness: time.Duration(d.MaxStaleness),
		LockoutThreshold: d.LockoutThreshold, LockoutStopsKey: d.LockoutStopsKey,
		Attributes: ldapsync.Attributes{
			ID: d.Attributes.ID, Username: d.Attributes.Username, DisplayName: d.Attributes.DisplayName,
			Email: d.Attributes.Email, Phone: d.Attributes.Phone, Street: d.Attributes.Street,
			PostalCode: d.Attributes.PostalCode, Locality: d.Attributes.Locality,
			AccountControl: d.Attributes.AccountControl, AccountExpires: d.Attributes.AccountExpires,
			LockedTime: d.Attributes.LockedTime, ShadowExpire: d.Attributes.ShadowExpire,
			GroupName: d.Attributes.GroupName, Member: d.Attributes.Member, ChangeMarker: d.Attributes.ChangeMarker,
		},
	}
	for _, g := range d.Groups {
		lc.Groups = append(lc.Groups, ldapsync.GroupMapping{DN: g.DN, Filter: g.Filter, Name: g.Name})
	}
	if noSecret {
		if d.BindPasswordFile != "" {
			lc.BindPassword = "(read at load)" // readDirectoryFiles reads it
		}
	} else {
		pw, err := readSecretFile(d.BindPasswordFile)
		if err != nil {
			return ldapsync.Config{}, fmt.Errorf("%s.bind_password_file: %w", path, err)
		}
		lc.BindPassword = pw
	}
	return ldapWithDefaults(lc), nil
}

// ldapWithDefaults fills in what the preset and ldapsync's defaults give.
var ldapWithDefaults = ldapsync.Config.WithDefaults

// validateLDAPConfig runs ldapsync's own checks of a mapped config; a
// problem cmd's own checks found already for the same setting is not
// repeated (validateDirectories).
var validateLDAPConfig = ldapsync.Config.Validate

// errNoDirectory is returned by the directory commands when none is
// configured.
var errNoDirectory = errors.New("no directory is configured: set directory (or directories) in the configuration; see docs/directory.md")
