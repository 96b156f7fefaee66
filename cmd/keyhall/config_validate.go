package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// fieldError is one invalid setting, named by its yaml path (for example
// "tls.cert_file" or "trusted_proxies[2]"). loadConfig adds where the value
// came from.
type fieldError struct {
	Path string
	Msg  string
	// Other, if set, is the path of another setting the problem is about
	// (the first of two rules that clash); loadConfig adds its line.
	Other string
}

func (e *fieldError) Error() string { return e.Path + ": " + e.Msg }

// validator collects every problem rather than stopping at the first.
type validator struct {
	errs []error
}

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, &fieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// check records err, if any, as a problem with path.
func (v *validator) check(path string, err error) {
	if err != nil {
		v.add(path, "%s", err.Error())
	}
}

// Validate reports every invalid value in c at once, joined with
// errors.Join; each is a *fieldError naming the setting. It never changes
// c. It reads the files that TLS and secret settings name, to check they
// exist and hold what they should, but it creates nothing.
func (c Config) Validate() error {
	var v validator
	v.check("public_url", checkPublicURL(c.PublicURL))
	v.check("listen", checkListen(c.Listen))
	if c.MetricsListen != "" {
		v.check("metrics_listen", checkListen(c.MetricsListen))
	}
	c.validateStorage(&v)
	if c.Database.MaxOpenConns < 0 {
		v.add("database.max_open_conns", "must be 0 (the default) or more, not %d", c.Database.MaxOpenConns)
	}
	for i, p := range c.TrustedProxies {
		if _, err := parseProxy(p); err != nil {
			v.add(fmt.Sprintf("trusted_proxies[%d]", i), "%s", err.Error())
		}
	}
	c.validateTLS(&v)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.add("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json", "journal":
	default:
		v.add("log.format", "%q is not one of text, json, journal", c.Log.Format)
	}
	if c.ShutdownTimeout <= 0 {
		v.add("shutdown_timeout", "must be longer than 0s, not %s", c.ShutdownTimeout)
	}
	c.validateKeys(&v)
	v.check("admin_group", checkCanonical(c.AdminGroup))
	v.check("bootstrap_user", checkCanonical(c.BootstrapUser))
	c.validateSignIn(&v)
	c.validateForwardAuth(&v)
	c.validateOIDC(&v)
	c.validateLetterMail(&v)
	c.validateDirectories(&v)
	c.validateCitizens(&v)
	c.validateSite(&v)
	return errors.Join(v.errs...)
}

// checkPublicURL checks the rules for public_url: https (http only for
// localhost), a host name (not an IP address: WebAuthn needs a name), and
// nothing but an optional port and "/" after it.
func checkPublicURL(s string) error {
	if s == "" {
		return errors.New("must be set, for example https://login.example.org")
	}
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL such as https://login.example.org", s)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("scheme %q is not https", u.Scheme)
	case u.User != nil:
		return errors.New("must not contain a user name or password")
	case u.Path != "" && u.Path != "/":
		return fmt.Errorf("must not have a path (%q): Keyhall needs a host of its own", u.Path)
	case u.RawQuery != "" || u.ForceQuery:
		return errors.New("must not have a query (?…)")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return errors.New("must not have a fragment (#…)")
	}
	host := u.Hostname()
	if _, err := netip.ParseAddr(host); err == nil {
		return fmt.Errorf("host %q is an IP address; WebAuthn needs a host name (use localhost for local tests)", host)
	}
	if err := checkHostName(host); err != nil {
		return err
	}
	if p := u.Port(); p != "" || strings.HasSuffix(u.Host, ":") {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q is not a number from 1 to 65535", p)
		}
	}
	if u.Scheme == "http" && host != "localhost" {
		return fmt.Errorf("http:// is allowed only for localhost; use https://%s", u.Host)
	}
	return nil
}

// checkHostName checks that h is a DNS name in lower case, as WebAuthn
// compares the RP ID byte for byte.
func checkHostName(h string) error {
	if len(h) > 253 {
		return errors.New("host name is longer than 253 characters")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("host %q is not a valid host name", h)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("host %q is not a valid host name (a part starts or ends with '-')", h)
		}
		for _, r := range label {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			case r >= 'A' && r <= 'Z':
				return fmt.Errorf("host %q must be written in lower case", h)
			default:
				return fmt.Errorf("host %q is not a valid host name (write an international name in its xn-- form)", h)
			}
		}
	}
	return nil
}

// checkListen checks a host:port listen address; port 0 picks a free port.
func checkListen(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port, such as 127.0.0.1:8080 or :8080", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("host %q is not a host name or IP address", host)
	}
	return nil
}

// parseProxy parses a trusted proxy: a CIDR or a single address.
func parseProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// validateStorage checks the database URL and its password file, as
// sqlstore.Open reads them. Messages never quote the URL: it may hold a
// password.
func (c Config) validateStorage(v *validator) {
	if path, ok := strings.CutPrefix(c.Storage, "sqlite://"); ok {
		if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, ":memory:") {
			v.add("storage", "names no file: write sqlite://keyhall.db (relative) or sqlite:///var/lib/keyhall/keyhall.db")
		}
		if c.StoragePasswordFile != "" {
			v.add("storage_password_file", "is only for PostgreSQL; SQLite has no password")
		}
		return
	}
	if !strings.HasPrefix(c.Storage, "postgres://") && !strings.HasPrefix(c.Storage, "postgresql://") {
		scheme, _, _ := strings.Cut(c.Storage, ":")
		v.add("storage", "scheme %q is not sqlite:// or postgres://", scheme)
		return
	}
	u, err := url.Parse(c.Storage)
	if err != nil {
		v.add("storage", "is not a URL such as postgres://keyhall@db.example.org/keyhall")
		return
	}
	if c.StoragePasswordFile == "" {
		return
	}
	if _, ok := u.User.Password(); ok {
		v.add("storage_password_file", "is set, but storage holds a password too; give it once")
	}
	if _, err := readSecretFile(c.StoragePasswordFile); err != nil {
		v.add("storage_password_file", "%s", err.Error())
	}
}

// validateTLS checks that both or neither TLS files are set, and that they
// load as a certificate and its key.
func (c Config) validateTLS(v *validator) {
	cert, key := c.TLS.CertFile, c.TLS.KeyFile
	switch {
	case cert == "" && key == "":
		return
	case key == "":
		v.add("tls.cert_file", "is set, but tls.key_file is not; set both or neither")
		return
	case cert == "":
		v.add("tls.key_file", "is set, but tls.cert_file is not; set both or neither")
		return
	}
	ok := true
	for _, f := range [][2]string{{"tls.cert_file", cert}, {"tls.key_file", key}} {
		if err := checkRegularFile(f[1]); err != nil {
			v.add(f[0], "%s", err.Error())
			ok = false
		}
	}
	if ok {
		if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
			v.add("tls.cert_file", "cannot load the certificate and key: %s", err.Error())
		}
	}
	if strings.HasPrefix(c.PublicURL, "http://") {
		v.add("tls.cert_file", "is set, but public_url is http://; use https:// in public_url")
	}
}

// keySetting describes one of the shared keys: its settings and sizes.
type keySetting struct {
	name        string // as in the key file, e.g. "cookie_key"
	value, file string
	sizes       []int // allowed lengths in bytes
}

// keySettings lists the shared keys of c, in key-file order.
func (c Config) keySettings() []keySetting {
	return []keySetting{
		{"cookie_key", c.Keys.CookieKey, c.Keys.CookieKeyFile, []int{32, 64}},
		{"encryption_key", c.Keys.EncryptionKey, c.Keys.EncryptionKeyFile, []int{32}},
		{"oidc_key", c.Keys.OIDCKey, c.Keys.OIDCKeyFile, []int{32}},
	}
}

// validateKeys checks the key settings, keys.previous_* too: a value or a file, not both, each
// holding a base64 key of the right length. Messages never quote a key.
func (c Config) validateKeys(v *validator) {
	if c.Keys.File == "" {
		v.add("keys.file", "must be set: the keys not given otherwise are kept there")
	}
	for _, k := range append(c.keySettings(), c.previousKeySettings()...) {
		path := "keys." + k.name
		switch {
		case k.value != "" && k.file != "":
			v.add(path+"_file", "is set, but %s is set too; give one", path)
		case k.value != "":
			if _, err := decodeKey(k.value, k.sizes); err != nil {
				v.add(path, "%s", err.Error())
			}
		case k.file != "":
			s, err := readSecretFile(k.file)
			if err == nil {
				_, err = decodeKey(s, k.sizes)
			}
			if err != nil {
				v.add(path+"_file", "%s: %s", k.file, err.Error())
			}
		}
	}
}

// checkCanonical checks that name is a canonical user or group name.
func checkCanonical(name string) error {
	c, err := authn.CanonicalName(name)
	if err != nil {
		return fmt.Errorf("%q: %w", name, err)
	}
	if c != name {
		return fmt.Errorf("write %q as %q (canonical form)", name, c)
	}
	return nil
}

// Warnings reports settings that are valid but cannot work as meant, each
// naming its setting; check-config prints them and still exits 0. Today:
// a level phrh that no member of the groups it is for can reach, and an
// app allowed where the level (phr, phrh) refuses it. Only a
// key attested by a trusted root signs in at phrh, and the roots Keyhall
// trusts are Yubico's (shipped) and those policy.groups.*.attestation
// names, which are Yubico's too; so a group whose aaguids admit no YubiKey
// model cannot reach phrh.
func (c Config) Warnings() []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(c.Policy.Groups)) {
		if c.Policy.Groups[name].Level == string(authn.LevelPhrh) && !c.reachesPhrh(name) {
			out = append(out, fmt.Sprintf("%s.level: phrh needs a key attested by Yubico's roots, but %s.aaguids admits no YubiKey model: no member can sign in",
				mapKeyPath("policy.groups", name), mapKeyPath("policy.groups", name)))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Policy.Groups)) {
		if g := c.Policy.Groups[name]; g.AllowTOTP && !authn.LevelMFA.Meets(authn.Level(g.Level)) {
			out = append(out, fmt.Sprintf("%s.allow_totp: true (the default) with level %s: an app signs in at mfa, below %s, so members are not offered one; set allow_totp: false",
				mapKeyPath("policy.groups", name), g.Level, g.Level))
		}
	}
	for i, r := range c.ForwardAuth.Rules {
		if r.Level == string(authn.LevelPhrh) && len(r.Groups) > 0 && !slices.ContainsFunc(r.Groups, c.reachesPhrh) {
			out = append(out, fmt.Sprintf("forward_auth.rules[%d].level: phrh, but no key of a member of %s can reach it (%s)",
				i, strings.Join(r.Groups, ", "), phrhHint))
		}
	}
	for i, cl := range c.OIDC.Clients {
		if cl.Level == string(authn.LevelPhrh) && len(cl.Groups) > 0 && !slices.ContainsFunc(cl.Groups, c.reachesPhrh) {
			out = append(out, fmt.Sprintf("oidc.clients[%d].level: phrh, but no key of a member of %s can reach it (%s)",
				i, strings.Join(cl.Groups, ", "), phrhHint))
		}
	}
	out = append(out, c.citizensWarnings()...)
	return append(out, c.directoryWarnings()...)
}

// phrhHint says why a level phrh cannot be reached.
const phrhHint = "phrh needs a key attested by Yubico's roots, and their policy.groups.*.aaguids admit no YubiKey model"

// reachesPhrh reports whether a member of group could sign in at phrh: her
// group's key policy admits some key Keyhall can verify as hardware,
// which is a YubiKey (see Warnings).
func (c Config) reachesPhrh(group string) bool {
	g, ok := c.Policy.Groups[group]
	if !ok || len(g.AAGUIDs) == 0 {
		return true
	}
	yubiKeys := enroll.YubiKeyAAGUIDs()
	return slices.ContainsFunc(g.AAGUIDs, func(id string) bool {
		u, err := uuid.Parse(id)
		return id == aaguidsYubiKey || (err == nil && slices.Contains(yubiKeys, u))
	})
}

// checkPlaces checks what serve needs from this machine beyond the values
// themselves, so that a configuration check-config passes also starts: the
// directories of the SQLite file and of keys.file exist (serve would answer
// 503 for ever, or stop after writing some of its files), and, when
// probeListen is set, the listen addresses are free (serve opens them
// itself, before it writes anything). Each problem is a *fieldError.
func (c Config) checkPlaces(probeListen bool) error {
	var v validator
	if path, ok := strings.CutPrefix(c.Storage, "sqlite://"); ok {
		v.check("storage", checkDir(path, "the database file"))
	}
	if c.Keys.File != "" && c.usesKeyFile() {
		v.check("keys.file", checkDir(c.Keys.File, "the key file"))
	}
	if probeListen {
		listens := [][2]string{{"listen", c.Listen}}
		if c.MetricsListen != "" {
			listens = append(listens, [2]string{"metrics_listen", c.MetricsListen})
		}
		for _, l := range listens {
			ln, err := net.Listen("tcp", l[1])
			if err != nil {
				v.add(l[0], "cannot listen on %s: %v (is another program, or Keyhall already, using it?)", l[1], unwrapOp(err))
				continue
			}
			ln.Close()
		}
	}
	return errors.Join(v.errs...)
}

// usesKeyFile reports whether some key is not given in the configuration,
// so that it is read from (or on the first start written to) keys.file.
func (c Config) usesKeyFile() bool {
	for _, k := range c.keySettings() {
		if k.value == "" && k.file == "" {
			return true
		}
	}
	return false
}

// checkDir checks that the directory file is to be in exists; what names
// the file for the message.
func checkDir(file, what string) error {
	dir := filepath.Dir(file)
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return fmt.Errorf("the directory %s for %s does not exist or cannot be read (%v): create it, owned by the user Keyhall runs as", dir, what, unwrapOp(err))
	case !fi.IsDir():
		return fmt.Errorf("%s, where %s should be, is not a directory", dir, what)
	}
	return nil
}

// unwrapOp drops the operation and path that os and net errors repeat.
func unwrapOp(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Err
	}
	return err
}

// prefixLines puts "file: " before each problem that err joins.
func prefixLines(file string, err error) error {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = fmt.Errorf("%s: %w", file, e)
	}
	return errors.Join(out...)
}
