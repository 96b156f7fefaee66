package main

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadConfigSignInSettings(t *testing.T) {
	file := writeFile(t, t.TempDir(), "keyhall.yaml", `
public_url: https://login.stadt.example
session: {idle_timeout: 15m, max_age: 8h}
webauthn: {rp_name: Stadt Musterhausen}
passwords:
  argon2_memory_kib: 65536
  argon2_iterations: 3
  argon2_parallelism: 4
  max_concurrent: 8
policy:
  groups:
    rat:
      level: phrh
      user_verification: true
      allow_totp: false
    staff: {level: mfa}
    guests:
forward_auth:
  cookie_domain: stadt.example
  rules:
    - host: wiki.stadt.example
    - host: wiki.stadt.example
      path_prefix: /admin/
      groups: [rat, staff]
      level: phr
`)
	cfg, err := loadConfig(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := defaultConfig()
	want.PublicURL = "https://login.stadt.example"
	want.Session.IdleTimeout, want.Session.MaxAge = Duration(15*time.Minute), Duration(8*time.Hour)
	want.WebAuthn.RPName = "Stadt Musterhausen"
	want.Passwords.Argon2MemoryKiB, want.Passwords.Argon2Iterations = 65536, 3
	want.Passwords.Argon2Parallelism, want.Passwords.MaxConcurrent = 4, 8
	want.Policy.Groups = map[string]GroupPolicy{
		"rat":    {Level: "phrh", UserVerification: true, AllowTOTP: false},
		"staff":  {Level: "mfa", AllowTOTP: true}, // allow_totp defaults to true
		"guests": {AllowTOTP: true},
	}
	want.ForwardAuth.CookieDomain = "stadt.example"
	want.ForwardAuth.Rules = []ForwardAuthRule{
		{Host: "wiki.stadt.example", PathPrefix: "/"}, // path_prefix defaults to "/"
		{Host: "wiki.stadt.example", PathPrefix: "/admin/", Groups: []string{"rat", "staff"}, Level: "phr"},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
}

// TestLoadConfigListAndMapProblems checks that problems inside lists and
// maps of sections are all reported, each with its path and line.
func TestLoadConfigListAndMapProblems(t *testing.T) {
	file := writeFile(t, t.TempDir(), "keyhall.yaml", `public_url: https://login.stadt.example
policy:
  groups:
    Rat:
      level: phrh
    rat:
      levle: mfa
      allow_totp: "no"
    "a.b": {level: high}
forward_auth:
  cookie_domain: stadt.example
  rules:
    - host: wiki.stadt.example
      path_prefix: /
    - hots: wiki.stadt.example
    - host: git.other.example
      groups: [Rat]
    - path_prefix: /
      host: wiki.stadt.example
      level: top
    - host: Wiki.stadt.example
      path_prefix: admin
`)
	_, err := loadConfig(file, nil)
	want := []string{
		file + `:4: policy.groups.Rat: write "Rat" as "rat" (canonical form); "rat" is listed too: merge the two (line 6)`,
		file + ":7: policy.groups.rat.levle: unknown setting (did you mean policy.groups.rat.level?)",
		file + ":8: policy.groups.rat.allow_totp: expected true or false, got text",
		file + `:9: policy.groups["a.b"].level: "high" is not one of "" (no requirement), mfa, phr, phrh`,
		file + ":15: forward_auth.rules[1].hots: unknown setting (did you mean forward_auth.rules[1].host?)",
		file + `:16: forward_auth.rules[2].host: "git.other.example" is not forward_auth.cookie_domain (stadt.example) or under it: the sign-in cookie never reaches it`,
		file + `:17: forward_auth.rules[2].groups[0]: write "Rat" as "rat" (canonical form)`,
		file + ":18: forward_auth.rules[3]: has the same host and path_prefix as forward_auth.rules[0] (line 13)",
		file + `:20: forward_auth.rules[3].level: "top" is not one of "" (no requirement), mfa, phr, phrh`,
		file + `:21: forward_auth.rules[4].host: host "Wiki.stadt.example" must be written in lower case`,
		file + `:22: forward_auth.rules[4].path_prefix: "admin" must start with "/"`,
	}
	if got := problems(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadConfigSignInInvalid(t *testing.T) {
	tests := []struct {
		yaml string // on line 1, after public_url on line 1 of the environment
		want string // the problem, after "keyhall.yaml:1: "
	}{
		{"session: {idle_timeout: 0s}", "session.idle_timeout: must be longer than 0s, not 0s"},
		{"session: {max_age: -1h}", "session.max_age: must be longer than 0s, not -1h0m0s"},
		{"session: {idle_timeout: 2h, max_age: 2h}", "session.max_age: must be longer than session.idle_timeout (2h0m0s), not 2h0m0s"},
		{"webauthn: {rp_name: ' '}", "webauthn.rp_name: must be set"},
		{"webauthn: {rp_name: \"a\\tb\"}", `webauthn.rp_name: "a\tb" contains a control character`},
		{"webauthn: {rp_name: " + strings.Repeat("ü", 33) + "}", "webauthn.rp_name: is 66 bytes long; at most 64"},
		{"passwords: {argon2_memory_kib: 8191}", "passwords.argon2_memory_kib: must be from 8192 to 2097152 (KiB), not 8191"},
		{"passwords: {argon2_iterations: 0}", "passwords.argon2_iterations: must be from 1 to 64, not 0"},
		{"passwords: {argon2_parallelism: 17}", "passwords.argon2_parallelism: must be from 1 to 16, not 17"},
		{"passwords: {max_concurrent: -1}", "passwords.max_concurrent: must be 0 (2 × CPUs) or more, not -1"},
		{"passwords: {max_concurrent: two}", "passwords.max_concurrent: expected a whole number, got text"},
		{"policy: {groups: [rat]}", "policy.groups: expected a mapping of names to settings, got a list"},
		{"policy: {groups: {rat: phrh}}", "policy.groups.rat: expected a mapping of settings for policy.groups.rat, got text"},
		{"policy: {groups: {true: {}}}", "policy.groups: a name must be plain text, not a boolean (true;"},
		{"policy: {groups: {'': {}}}", `policy.groups[""]: "": name is empty`},
		{"policy: {groups: {rat: {user_verification: yes}}}", "policy.groups.rat.user_verification: expected true or false, got text"},
		{"forward_auth: {cookie_domain: .stadt.example}", `forward_auth.cookie_domain: write "stadt.example" without the leading dot`},
		{"forward_auth: {cookie_domain: other.example}", `forward_auth.cookie_domain: "other.example" is neither public_url's host (login.stadt.example) nor a parent domain`},
		{"forward_auth: {cookie_domain: example}", `forward_auth.cookie_domain: "example" is a top-level domain`},
		{"forward_auth: {cookie_domain: 192.0.2.1}", `forward_auth.cookie_domain: "192.0.2.1" is an IP address`},
		{"forward_auth: {cookie_domain: 'stadt.example:443'}", `forward_auth.cookie_domain: host "stadt.example:443" is not a valid host name`},
		{"forward_auth: {rules: {host: a}}", "forward_auth.rules: expected a list, got a mapping"},
		{"forward_auth: {rules: [wiki]}", "forward_auth.rules[0]: expected a mapping of settings for forward_auth.rules[0], got text"},
		{"forward_auth: {rules: [{host: 'https://wiki.stadt.example'}]}", `forward_auth.rules[0].host: "https://wiki.stadt.example": write the host name alone, without the scheme`},
		{"forward_auth: {rules: [{host: 'wiki.stadt.example:8443'}]}", `forward_auth.rules[0].host: "wiki.stadt.example:8443": write the host name alone, without a port`},
		{"forward_auth: {rules: [{host: wiki.stadt.example/x}]}", `forward_auth.rules[0].host: "wiki.stadt.example/x": write the host name alone; put a path in path_prefix`},
		{"forward_auth: {rules: [{host: w, path_prefix: '/?a'}]}", `forward_auth.rules[0].path_prefix: "/?a" must be a path alone`},
		{"forward_auth: {rules: [{host: w, groups: wiki}]}", "forward_auth.rules[0].groups: expected a list, got text"},
		{"forward_auth: {rules: [{host: w, <<: {}}]}", "forward_auth.rules[0]: merge keys (<<) are not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			file := writeFile(t, t.TempDir(), "keyhall.yaml", tt.yaml+"\n")
			_, err := loadConfig(file, []string{"KEYHALL_PUBLIC_URL=https://login.stadt.example"})
			got := problems(t, err)
			want := file + ":1: " + tt.want
			if len(got) != 1 || !strings.HasPrefix(got[0], want) {
				t.Errorf("got %q\nwant one problem starting with %q", got, want)
			}
		})
	}
}

// TestCookieDomainOnLocalhost: http://localhost may carry a cookie domain,
// as public_url may be http only there.
func TestCookieDomainOnLocalhost(t *testing.T) {
	file := writeFile(t, t.TempDir(), "k.yaml", `forward_auth:
  cookie_domain: localhost
  rules: [{host: localhost, path_prefix: /app/}]
`)
	if _, err := loadConfig(file, nil); err != nil {
		t.Errorf("cookie_domain localhost with http://localhost: %v", err)
	}
	_, err := loadConfig(file, []string{"KEYHALL_PUBLIC_URL=http://login.stadt.example"})
	want := "environment KEYHALL_PUBLIC_URL: public_url: http:// is allowed only for localhost"
	if got := problems(t, err); len(got) != 1 || !strings.HasPrefix(got[0], want) {
		t.Errorf("got %q, want one problem starting with %q", got, want)
	}
}

// TestEnvInsideListsAndMaps: settings in lists and maps of sections have no
// environment variable, and a variable that tries is refused as such; the
// other new settings have one.
func TestEnvInsideListsAndMaps(t *testing.T) {
	env := []string{
		"KEYHALL_POLICY_GROUPS_RAT_LEVEL=phrh",
		"KEYHALL_FORWARD_AUTH_RULES=wiki.stadt.example",
	}
	_, err := loadConfig("", env)
	want := []string{
		"environment KEYHALL_POLICY_GROUPS_RAT_LEVEL: policy.groups: the settings in it have no environment variable; write them in the config file",
		"environment KEYHALL_FORWARD_AUTH_RULES: forward_auth.rules: the settings in it have no environment variable; write them in the config file",
	}
	if got := problems(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	cfg, err := loadConfig("", []string{"KEYHALL_SESSION_IDLE_TIMEOUT=5m", "KEYHALL_WEBAUTHN_RP_NAME=Stadt",
		"KEYHALL_PASSWORDS_MAX_CONCURRENT=3", "KEYHALL_FORWARD_AUTH_COOKIE_DOMAIN=localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Session.IdleTimeout != Duration(5*time.Minute) || cfg.WebAuthn.RPName != "Stadt" ||
		cfg.Passwords.MaxConcurrent != 3 || cfg.ForwardAuth.CookieDomain != "localhost" {
		t.Errorf("environment not applied: %+v", cfg)
	}
}

// TestProblemAtDefaultNamesSection: a setting that kept its default but is
// wrong with another is named at the line of its section.
func TestProblemAtDefaultNamesSection(t *testing.T) {
	file := writeFile(t, t.TempDir(), "k.yaml", "# a comment\nsession:\n  idle_timeout: 24h\n")
	_, err := loadConfig(file, nil)
	want := file + ":2: session.max_age: must be longer than session.idle_timeout (24h0m0s), not 12h0m0s"
	if got := problems(t, err); !reflect.DeepEqual(got, []string{want}) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSetFromTextBool(t *testing.T) {
	var b bool
	v := reflect.ValueOf(&b).Elem()
	if err := setFromText(v, " true "); err != nil || !b {
		t.Errorf("true: %v, %v", b, err)
	}
	if err := setFromText(v, "yes"); err == nil || err.Error() != `"yes" is not true or false` {
		t.Errorf("yes: %v", err)
	}
}

func TestMapKeyPath(t *testing.T) {
	for key, want := range map[string]string{
		"rat":     "policy.groups.rat",
		"ärzte":   "policy.groups.ärzte",
		"a.b":     `policy.groups["a.b"]`,
		"":        `policy.groups[""]`,
		"*":       `policy.groups["*"]`,
		"a b":     `policy.groups["a b"]`,
		"a\u200b": `policy.groups["a\u200b"]`,
	} {
		if got := mapKeyPath("policy.groups", key); got != want {
			t.Errorf("mapKeyPath(%q) = %s, want %s", key, got, want)
		}
	}
}

// TestValidateDoesNotChangeLists: Validate neither fills in an element's
// defaults nor changes lists and maps.
func TestValidateDoesNotChangeLists(t *testing.T) {
	c := defaultConfig()
	c.Policy.Groups = map[string]GroupPolicy{"Rat": {Level: "phrh"}}
	c.ForwardAuth.Rules = []ForwardAuthRule{{Host: "wiki.example", Groups: []string{"Rat"}}}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted a rule without path_prefix")
	}
	for _, want := range []string{`forward_auth.rules[0].path_prefix: "" must start with "/"`, "policy.groups.Rat: write"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v; want a problem %q", err, want)
		}
	}
	if c.ForwardAuth.Rules[0].PathPrefix != "" || c.ForwardAuth.Rules[0].Groups[0] != "Rat" || len(c.Policy.Groups) != 1 ||
		!reflect.DeepEqual(c.Policy.Groups["Rat"], GroupPolicy{Level: "phrh"}) {
		t.Errorf("Validate changed the config: %+v", c)
	}
}

// TestDecodeProblemsHideTheirConsequences: a value that did not decode is
// not reported again by validation, and list indexes stay the file's; a
// setting of the same element that is wrong on its own still is.
func TestDecodeProblemsHideTheirConsequences(t *testing.T) {
	file := writeFile(t, t.TempDir(), "k.yaml", `trusted_proxies: [[a], 300.1.1.1]
forward_auth:
  rules:
    - hots: wiki.example
      level: top
    - 5
`)
	_, err := loadConfig(file, nil)
	want := []string{
		file + ":1: trusted_proxies[0]: expected text, got a list",
		file + `:1: trusted_proxies[1]: "300.1.1.1" is not an IP address or CIDR`,
		file + ":4: forward_auth.rules[0].hots: unknown setting (did you mean forward_auth.rules[0].host?)",
		file + `:5: forward_auth.rules[0].level: "top" is not one of "" (no requirement), mfa, phr, phrh`,
		file + ":6: forward_auth.rules[1]: expected a mapping of settings for forward_auth.rules[1], got a number (5)",
	}
	if got := problems(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestEnvListReplacesUndecodedItems: a list from the environment replaces
// the file's, and its own problems are reported with the file's.
func TestEnvListReplacesUndecodedItems(t *testing.T) {
	file := writeFile(t, t.TempDir(), "k.yaml", "trusted_proxies: [[a]]\n")
	_, err := loadConfig(file, []string{"KEYHALL_TRUSTED_PROXIES=bad"})
	want := []string{
		file + ":1: trusted_proxies[0]: expected text, got a list",
		`environment KEYHALL_TRUSTED_PROXIES: trusted_proxies[0]: "bad" is not an IP address or CIDR`,
	}
	if got := problems(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
