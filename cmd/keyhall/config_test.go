package main

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// problems returns the lines of a configuration error.
func problems(t *testing.T, err error) []string {
	t.Helper()
	var cerr *configError
	if !errors.As(err, &cerr) {
		t.Fatalf("error %v (%T) is not a *configError", err, err)
	}
	return strings.Split(cerr.Error(), "\n")
}

const key32 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" // bytes 0…31

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := loadConfig("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, defaultConfig()) {
		t.Errorf("loadConfig with nothing = %+v, want the defaults %+v", cfg, defaultConfig())
	}
	if err := defaultConfig().Validate(); err != nil {
		t.Errorf("defaults are invalid: %v", err)
	}
}

func TestLoadConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "keyhall.yaml", `
public_url: https://login.example.org
listen: ":8443"
storage: postgres://keyhall@db.example.org/keyhall
database: {max_open_conns: 20}
trusted_proxies: [10.0.0.0/8, "192.0.2.7"]
log:
  level: debug
  format: json
shutdown_timeout: 1m30s
keys:
  cookie_key: `+key32+`
tls:
admin_group: rat
`)
	cfg, err := loadConfig(path, []string{"HOME=/root", "KEYHALL_BOOTSTRAP_USER=anna"})
	if err != nil {
		t.Fatal(err)
	}
	want := defaultConfig()
	want.PublicURL = "https://login.example.org"
	want.Listen = ":8443"
	want.Storage = "postgres://keyhall@db.example.org/keyhall"
	want.Database.MaxOpenConns = 20
	want.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.7"}
	want.Log.Level, want.Log.Format = "debug", "json"
	want.ShutdownTimeout = Duration(90 * time.Second)
	want.Keys.CookieKey = key32
	want.AdminGroup = "rat"
	want.BootstrapUser = "anna"
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
}

func TestLoadConfigEnv(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "keyhall.yaml", "public_url: https://a.example.org\nlisten: 127.0.0.1:1\n")
	tests := []struct {
		env   string
		check func(Config) bool
	}{
		{"KEYHALL_PUBLIC_URL=https://b.example.org", func(c Config) bool { return c.PublicURL == "https://b.example.org" }},
		{"KEYHALL_LISTEN=:9000", func(c Config) bool { return c.Listen == ":9000" }},
		{"KEYHALL_DATABASE_MAX_OPEN_CONNS=7", func(c Config) bool { return c.Database.MaxOpenConns == 7 }},
		{"KEYHALL_TRUSTED_PROXIES=10.0.0.0/8, ::1 ,", func(c Config) bool {
			return reflect.DeepEqual(c.TrustedProxies, []string{"10.0.0.0/8", "::1"})
		}},
		{"KEYHALL_SHUTDOWN_TIMEOUT=3s", func(c Config) bool { return c.ShutdownTimeout == Duration(3*time.Second) }},
		{"KEYHALL_LOG_FORMAT=json", func(c Config) bool { return c.Log.Format == "json" }},
		{"KEYHALL_KEYS_OIDC_KEY=" + key32, func(c Config) bool { return c.Keys.OIDCKey == key32 }},
		{"KEYHALL_KEYS_FILE=/etc/keyhall/keys", func(c Config) bool { return c.Keys.File == "/etc/keyhall/keys" }},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			cfg, err := loadConfig(file, []string{tt.env})
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Errorf("%s not applied: %+v", tt.env, cfg)
			}
		})
	}
}

// TestEnvNamesFromTags pins a few derived names and checks that every
// setting outside lists and maps of sections has one, and those inside none.
func TestEnvNamesFromTags(t *testing.T) {
	names := map[string]bool{}
	var inside []string
	for _, p := range settingPaths() {
		name, ok := envName(p)
		if !ok {
			inside = append(inside, p)
			continue
		}
		names[name] = true
	}
	for _, want := range []string{"KEYHALL_PUBLIC_URL", "KEYHALL_TLS_CERT_FILE", "KEYHALL_KEYS_ENCRYPTION_KEY_FILE",
		"KEYHALL_DATABASE_MAX_OPEN_CONNS", "KEYHALL_STORAGE_PASSWORD_FILE", "KEYHALL_SHUTDOWN_TIMEOUT",
		"KEYHALL_SESSION_IDLE_TIMEOUT", "KEYHALL_WEBAUTHN_RP_NAME", "KEYHALL_PASSWORDS_ARGON2_MEMORY_KIB",
		"KEYHALL_FORWARD_AUTH_COOKIE_DOMAIN", "KEYHALL_LETTER_SENDER_ADDRESS", "KEYHALL_MAIL_SMTP_HOST",
		"KEYHALL_MAIL_PASSWORD_FILE", "KEYHALL_MAIL_STARTTLS", "KEYHALL_OIDC_CODE_LIFETIME", "KEYHALL_METRICS_LISTEN",
		"KEYHALL_DIRECTORY_URL", "KEYHALL_DIRECTORY_BIND_PASSWORD_FILE", "KEYHALL_DIRECTORY_BASE_DNS", "KEYHALL_DIRECTORY_GROUP_BASE_DNS",
		"KEYHALL_DIRECTORY_MAX_DISABLE_FRACTION", "KEYHALL_DIRECTORY_ATTRIBUTES_CHANGE_MARKER",
		"KEYHALL_ADMIN_ROLES_HELPDESK", "KEYHALL_ADMIN_ROLES_ADMIN", "KEYHALL_SITE_NAME", "KEYHALL_SITE_LOGO_FILE",
		"KEYHALL_SITE_PRIMARY_COLOR",
		"KEYHALL_KEYS_PREVIOUS_ENCRYPTION_KEY_FILE"} {
		if !names[want] {
			t.Errorf("no setting is named %s; have %v", want, names)
		}
	}
	wantInside := []string{"policy.groups.*.level", "policy.groups.*.user_verification", "policy.groups.*.allow_totp", "policy.groups.*.attestation", "policy.groups.*.aaguids", "policy.groups.*.refuse_compromised_models",
		"policy.groups.*.protected", "policy.groups.*.reset_approval", "policy.groups.*.email_recovery",
		"forward_auth.rules[].host", "forward_auth.rules[].path_prefix", "forward_auth.rules[].groups",
		"forward_auth.rules[].level", "oidc.clients[].id", "oidc.clients[].name", "oidc.clients[].secret_sha256", "oidc.clients[].native",
		"oidc.clients[].redirect_uris", "oidc.clients[].post_logout_redirect_uris", "oidc.clients[].groups",
		"oidc.clients[].level", "oidc.clients[].access_token_lifetime", "oidc.clients[].id_token_lifetime",
		"oidc.clients[].refresh_token_lifetime", "oidc.clients[].backchannel_logout_uri", "oidc.clients[].cors_origins",
		"directory.groups[].dn", "directory.groups[].filter", "directory.groups[].name"}
	for _, p := range settingPaths() {
		if strings.HasPrefix(p, "directories[].") {
			wantInside = append(wantInside, p)
		}
	}
	if !reflect.DeepEqual(inside, wantInside) {
		t.Errorf("settings without a variable: %q, want %q", inside, wantInside)
	}
	if n := len(names); n != 96 {
		t.Errorf("%d settings, want 96: a new Config field needs a test here and in keyhall.example.yaml", n)
	}
}

func TestLoadConfigSecretFiles(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", "s3cret\r\n")
	ck := writeFile(t, dir, "cookie", key32+"\n")
	file := writeFile(t, dir, "keyhall.yaml", "storage: postgres://keyhall@db/keyhall\nstorage_password_file: "+pw+
		"\nkeys:\n  cookie_key_file: "+ck+"\n")
	cfg, err := loadConfig(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := cfg.storagePassword(); err != nil || got != "s3cret" {
		t.Errorf("storagePassword() = %q, %v; want s3cret", got, err)
	}
	_, err = loadConfig(file, []string{"KEYHALL_KEYS_COOKIE_KEY=" + key32})
	want := file + ":4: keys.cookie_key_file: is set, but keys.cookie_key is set too; give one"
	if got := problems(t, err); !reflect.DeepEqual(got, []string{want}) {
		t.Errorf("value and file: got %q, want %q", got, want)
	}
}

func TestLoadConfigInvalid(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeTestCert(t, dir)
	empty := writeFile(t, dir, "empty", "")
	tests := []struct {
		yaml string // one line, on line 1
		want string // the problem, after "keyhall.yaml:1: "
	}{
		{"public_url: ''", "public_url: must be set"},
		{"public_url: login.example.org", "public_url: \"login.example.org\" is not an absolute URL"},
		{"public_url: ftp://login.example.org", "public_url: scheme \"ftp\" is not https"},
		{"public_url: http://login.example.org", "public_url: http:// is allowed only for localhost"},
		{"public_url: https://192.0.2.1", "public_url: host \"192.0.2.1\" is an IP address"},
		{"public_url: 'https://[::1]:8443'", "public_url: host \"::1\" is an IP address"},
		{"public_url: https://login.example.org/keyhall", "public_url: must not have a path"},
		{"public_url: https://login.example.org/?a=b", "public_url: must not have a query"},
		{"public_url: https://login.example.org/#top", "public_url: must not have a fragment"},
		{"public_url: https://anna@login.example.org", "public_url: must not contain a user name"},
		{"public_url: https://Login.example.org", "public_url: host \"Login.example.org\" must be written in lower case"},
		{"public_url: https://login.example.org:99999", "public_url: port \"99999\" is not a number"},
		{"public_url: https://bad_host.example.org", "public_url: host \"bad_host.example.org\" is not a valid host name"},
		{"listen: localhost", "listen: \"localhost\" is not host:port"},
		{"listen: ':http'", "listen: port \"http\" is not a number"},
		{"storage: mysql://x", "storage: scheme \"mysql\" is not sqlite:// or postgres://"},
		{"storage: 'sqlite://'", "storage: names no file"},
		{"storage: 'sqlite://:memory:'", "storage: names no file"},
		{"storage_password_file: /etc/hostname", "storage_password_file: is only for PostgreSQL"},
		{"database: {max_open_conns: -1}", "database.max_open_conns: must be 0 (the default) or more, not -1"},
		{"trusted_proxies: [10.0.0.0/33]", "trusted_proxies[0]: \"10.0.0.0/33\" is not a CIDR"},
		{"trusted_proxies: [proxy.example.org]", "trusted_proxies[0]: \"proxy.example.org\" is not an IP address or CIDR"},
		{"tls: {cert_file: " + cert + "}", "tls.cert_file: is set, but tls.key_file is not"},
		{"tls: {key_file: " + key + "}", "tls.key_file: is set, but tls.cert_file is not"},
		{"tls: {cert_file: " + key + ", key_file: " + cert + "}", "tls.cert_file: cannot load the certificate and key"},
		{"tls: {cert_file: /nonexistent.pem, key_file: " + key + "}", "tls.cert_file: read file: stat /nonexistent.pem"},
		{"log: {level: verbose}", "log.level: \"verbose\" is not one of debug, info, warn, error"},
		{"log: {format: xml}", "log.format: \"xml\" is not one of text, json, journal"},
		{"shutdown_timeout: 0s", "shutdown_timeout: must be longer than 0s"},
		{"shutdown_timeout: soon", "shutdown_timeout: \"soon\" is not a duration"},
		{"keys: {file: ''}", "keys.file: must be set"},
		{"keys: {cookie_key: 'not base64!'}", "keys.cookie_key: is not base64"},
		{"keys: {encryption_key: AAAA}", "keys.encryption_key: is 3 bytes long, not 32"},
		{"keys: {oidc_key_file: /nonexistent}", "keys.oidc_key_file: /nonexistent: read file: stat /nonexistent"},
		{"keys: {oidc_key_file: " + empty + "}", "keys.oidc_key_file: " + empty + ": read secret: " + empty + " is empty"},
		{"admin_group: Keyhall-Admins", "admin_group: write \"Keyhall-Admins\" as \"keyhall-admins\""},
		{"bootstrap_user: 'an na'", "bootstrap_user: \"an na\": name contains a space"},
	}
	for _, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			file := writeFile(t, t.TempDir(), "keyhall.yaml", tt.yaml+"\n")
			var env []string
			if strings.HasPrefix(tt.yaml, "tls") {
				env = []string{"KEYHALL_PUBLIC_URL=https://localhost"}
			}
			_, err := loadConfig(file, env)
			got := problems(t, err)
			want := file + ":1: " + tt.want
			if len(got) != 1 || !strings.HasPrefix(got[0], want) {
				t.Errorf("got %q\nwant one problem starting with %q", got, want)
			}
		})
	}
}

func TestLoadConfigHTTPWithTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeTestCert(t, dir)
	file := writeFile(t, dir, "k.yaml", "tls:\n  cert_file: "+cert+"\n  key_file: "+key+"\n")
	_, err := loadConfig(file, nil)
	want := file + ":2: tls.cert_file: is set, but public_url is http://; use https:// in public_url"
	if got := problems(t, err); !reflect.DeepEqual(got, []string{want}) {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := loadConfig(file, []string{"KEYHALL_PUBLIC_URL=https://localhost:8443"}); err != nil {
		t.Errorf("https with TLS: %v", err)
	}
}

// TestLoadConfigAllProblems checks that problems of every kind are
// reported together, in order, each with its line or variable.
func TestLoadConfigAllProblems(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "keyhall.yaml", `# comment
public_url: http://login.example.org
listen: 127.0.0.1:8080
tls:
  cert_fle: /etc/keyhall/cert.pem
database:
  max_open_conns: many
trusted_proxies:
  - 10.0.0.0/8
  - 300.1.1.1
log: verbose
shutdown_timeout: 10
listn: ":80"
cert_file: x
`)
	env := []string{"PATH=/bin", "KEYHALL_LOG_LEVEL=loud", "KEYHALL_PUBLICURL=x", "KEYHALL_TLS_KEY_FILE=/k.pem"}
	_, err := loadConfig(file, env)
	want := []string{
		file + ":2: public_url: http:// is allowed only for localhost; use https://login.example.org",
		file + ":5: tls.cert_fle: unknown setting (did you mean tls.cert_file?)",
		file + ":7: database.max_open_conns: expected a whole number, got text",
		file + ":10: trusted_proxies[1]: \"300.1.1.1\" is not an IP address or CIDR",
		file + ":11: log: expected a mapping of settings for log, got text",
		file + ":12: shutdown_timeout: \"10\" is not a duration such as 10s or 1m30s",
		file + ":13: listn: unknown setting (did you mean listen?)",
		file + ":14: cert_file: unknown setting (did you mean tls.cert_file?)",
		"environment KEYHALL_PUBLICURL: unknown setting (did you mean KEYHALL_PUBLIC_URL?)",
		"environment KEYHALL_TLS_KEY_FILE: tls.key_file: is set, but tls.cert_file is not; set both or neither",
		"environment KEYHALL_LOG_LEVEL: log.level: \"loud\" is not one of debug, info, warn, error",
	}
	if got := problems(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadConfigTypes(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"listen: [a, b]", ":1: listen: expected text, got a list"},
		{"listen: {a: b}", ":1: listen: expected text, got a mapping"},
		{"public_url: true", ":1: public_url: expected text, got a boolean (true; put it in quotes if you mean text)"},
		{"trusted_proxies: 10.0.0.0/8", ":1: trusted_proxies: expected a list, got text"},
		{"trusted_proxies: [[a]]", ":1: trusted_proxies[0]: expected text, got a list"},
		{"database: 5", ":1: database: expected a mapping of settings for database, got a number (5)"},
		{"database: {max_open_conns: 99999999999999999999}", ":1: database.max_open_conns: "},
		{"- a\n- b", ":1: expected a mapping of settings for the file, got a list"},
		{"listen: :1\nlisten: :2", ":2: invalid YAML: mapping key \"listen\" already defined at [1:1]"},
		{"listen: *nowhere", ":1: listen: alias *nowhere names no anchor before it"},
		{"<<: {listen: ':1'}", ":1: merge keys (<<) are not supported"},
		{"public_url: http://localhost\n---\nlisten: :1", ":3: a second YAML document"},
		{"public_url: \"unterminated", ":1: invalid YAML"},
		{"tls:\n  cert_file: a\n key_file: b", ":3: invalid YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			file := writeFile(t, t.TempDir(), "keyhall.yaml", tt.yaml+"\n")
			_, err := loadConfig(file, nil)
			got := problems(t, err)
			if !strings.HasPrefix(got[0], file+tt.want) {
				t.Errorf("got %q\nwant a first problem starting with %q", got, file+tt.want)
			}
		})
	}
}

func TestLoadConfigYAMLFeatures(t *testing.T) {
	tests := []struct {
		yaml  string
		check func(Config) bool
	}{
		{"", func(c Config) bool { return reflect.DeepEqual(c, defaultConfig()) }},
		{"# only a comment\n", func(c Config) bool { return reflect.DeepEqual(c, defaultConfig()) }},
		{"tls:\nlog:\n", func(c Config) bool { return reflect.DeepEqual(c, defaultConfig()) }},
		{"listen: &l ':9000'\n", func(c Config) bool { return c.Listen == ":9000" }},
		{"bootstrap_user: &u root\nadmin_group: *u\n", func(c Config) bool { return c.AdminGroup == "root" }},
		{"bootstrap_user: 4711\n", func(c Config) bool { return c.BootstrapUser == "4711" }},
		{"bootstrap_user: !!str anna\n", func(c Config) bool { return c.BootstrapUser == "anna" }},
		{"trusted_proxies:\n  - 10.0.0.1\n  - fd00::/8\n", func(c Config) bool { return len(c.TrustedProxies) == 2 }},
		{"---\nlisten: ':9001'\n", func(c Config) bool { return c.Listen == ":9001" }},
	}
	for _, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			file := writeFile(t, t.TempDir(), "keyhall.yaml", tt.yaml)
			cfg, err := loadConfig(file, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Errorf("unexpected config %+v", cfg)
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := loadConfig(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	if got := problems(t, err); len(got) != 1 || !strings.Contains(got[0], "no such file") {
		t.Errorf("got %q", got)
	}
}

func TestListenFlag(t *testing.T) {
	cfg, err := loadConfigWith("", []string{"KEYHALL_LISTEN=:1"}, []flagSetting{{"--listen", "listen", ":2"}})
	if err != nil || cfg.Listen != ":2" {
		t.Errorf("--listen :2 over the environment: %q, %v", cfg.Listen, err)
	}
	_, err = loadConfigWith("", nil, []flagSetting{{"--listen", "listen", "nope"}})
	want := `flag --listen: listen: "nope" is not host:port, such as 127.0.0.1:8080 or :8080`
	if got := problems(t, err); !reflect.DeepEqual(got, []string{want}) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestExampleConfig keeps keyhall.example.yaml in step with Config: it must
// be valid, hold the defaults and set every setting; a setting inside a list
// or map of sections, empty by default, must be shown in a commented
// example that is itself valid (see commentedExamples).
func TestExampleConfig(t *testing.T) {
	const path = "../../keyhall.example.yaml"
	cfg, err := loadConfig(path, nil)
	if err != nil {
		t.Fatalf("the example config is invalid:\n%v", err)
	}
	if !reflect.DeepEqual(cfg, withEmptyLists(defaultConfig())) {
		t.Errorf("the example's values differ from the defaults:\n got  %+v\n want %+v", cfg, defaultConfig())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l := newLoader()
	l.decodeYAML(path, data)
	shown := slices.Collect(maps.Keys(l.origins))
	examples := commentedExamples(string(data))
	if len(examples) == 0 {
		t.Error("the example config has no commented examples")
	}
	for i, ex := range examples {
		// The examples' cookie domain needs a public_url under it.
		l := newLoader()
		l.decodeYAML(fmt.Sprintf("example %d", i+1), []byte(ex))
		l.applyEnv([]string{"KEYHALL_PUBLIC_URL=https://login.stadt.example"})
		l.validate()
		if len(l.problems) > 0 {
			t.Errorf("commented example %d:\n%s\nis invalid: %v", i+1, ex, errors.Join(l.problems...))
		}
		shown = slices.AppendSeq(shown, maps.Keys(l.origins))
	}
	for _, p := range settingPaths() {
		if !slices.ContainsFunc(shown, patternRegexp(p).MatchString) {
			t.Errorf("the example config does not show setting %s", p)
		}
	}
}

// commentedExamples returns the YAML examples in the comments of an example
// config: each starts with a line "# NAME:" where NAME is a top-level
// setting, and goes on while lines start with "#" and two spaces.
func commentedExamples(config string) []string {
	top := map[string]bool{}
	for _, p := range settingPaths() {
		name, _, _ := strings.Cut(p, ".")
		name, _, _ = strings.Cut(name, "[") // a list of sections: "directories[].name"
		top[name] = true
	}
	var out, cur []string
	for line := range strings.Lines(config + "\n") {
		text, comment := strings.CutPrefix(strings.TrimRight(line, "\n"), "# ")
		if comment && len(cur) > 0 && strings.HasPrefix(text, " ") {
			cur = append(cur, text)
			continue
		}
		if len(cur) > 0 {
			out = append(out, strings.Join(cur, "\n")+"\n")
			cur = nil
		}
		if name, _, isKey := strings.Cut(text, ":"); comment && isKey && top[name] {
			cur = []string{text}
		}
	}
	return out
}

// patternRegexp returns a regular expression that matches the paths of a
// setting pattern: "[]" stands for any index, "*" for any map key.
func patternRegexp(pattern string) *regexp.Regexp {
	q := regexp.QuoteMeta(pattern)
	q = strings.ReplaceAll(q, `\[\]`, `\[[0-9]+\]`)
	q = strings.ReplaceAll(q, `\.\*`, `(\.[^.\[]+|\["[^"]*"\])`)
	return regexp.MustCompile("^" + q + "$")
}

// withEmptyLists returns c with nil lists and maps made empty, as "key: []"
// and "key: {}" read.
func withEmptyLists(c Config) Config {
	if c.TrustedProxies == nil {
		c.TrustedProxies = []string{}
	}
	if c.Policy.Groups == nil {
		c.Policy.Groups = map[string]GroupPolicy{}
	}
	if c.ForwardAuth.Rules == nil {
		c.ForwardAuth.Rules = []ForwardAuthRule{}
	}
	if c.OIDC.Clients == nil {
		c.OIDC.Clients = []OIDCClient{}
	}
	if c.Letter.SenderAddress == nil {
		c.Letter.SenderAddress = []string{}
	}
	if c.Admin.Roles.Helpdesk == nil {
		c.Admin.Roles.Helpdesk = []string{}
	}
	if c.Admin.Roles.Admin == nil {
		c.Admin.Roles.Admin = []string{}
	}
	if c.Directory.BaseDNs == nil {
		c.Directory.BaseDNs = DNList{}
	}
	if c.Directory.GroupBaseDNs == nil {
		c.Directory.GroupBaseDNs = DNList{}
	}
	if c.Directory.Groups == nil {
		c.Directory.Groups = []DirectoryGroup{}
	}
	if c.Directories == nil {
		c.Directories = []DirectoryConfig{}
	}
	return c
}

func TestValidateDoesNotChangeConfig(t *testing.T) {
	c := defaultConfig()
	c.TrustedProxies = []string{"10.1.2.3/8"}
	c.AdminGroup = "Admins"
	before := c
	before.TrustedProxies = append([]string(nil), c.TrustedProxies...)
	if err := c.Validate(); err == nil {
		t.Fatal("Validate accepted a non-canonical admin group")
	}
	if !reflect.DeepEqual(c, before) {
		t.Errorf("Validate changed the config: %+v", c)
	}
	var fe *fieldError
	if err := c.Validate(); !errors.As(err, &fe) || fe.Path != "admin_group" {
		t.Errorf("Validate() = %v; want a *fieldError for admin_group", err)
	}
}
