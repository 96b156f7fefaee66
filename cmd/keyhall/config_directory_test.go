package main

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/ldapsync"
)

// directoryYAML is a valid single directory; %PW% is its password file.
const directoryYAML = `directory:
  preset: activedirectory
  url: ldaps://dc1.stadt.example:636
  bind_dn: CN=svc-keyhall,OU=Dienstkonten,DC=stadt,DC=example
  bind_password_file: %PW%
  base_dns: ["OU=Mitarbeiter,DC=stadt,DC=example"]
  interval: 2m
  max_disable_fraction: 5%
  max_disable_count: 40
  lockout_threshold: 20
  attributes:
    username: userPrincipalName
  groups:
    - dn: CN=Ratsmitglieder,OU=Gremien,DC=stadt,DC=example
      name: rat
    - filter: (&(objectClass=group)(cn=IT-*))
`

// TestLoadDirectoryConfig: a directory section loads into the
// ldapsync.Config the reader and syncer get, with the password read from
// its file and never kept in Config itself.
func TestLoadDirectoryConfig(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "ldap-password", "geheim\n")
	file := writeFile(t, dir, "keyhall.yaml", strings.ReplaceAll(directoryYAML, "%PW%", pw))
	cfg, err := loadConfig(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	lcs, err := cfg.ldapConfigs()
	if err != nil {
		t.Fatal(err)
	}
	if len(lcs) != 1 {
		t.Fatalf("%d directories, want 1", len(lcs))
	}
	got := lcs[0]
	want := ldapsync.Config{
		Name: "directory", Preset: ldapsync.PresetActiveDirectory, URL: "ldaps://dc1.stadt.example:636",
		BindDN: "CN=svc-keyhall,OU=Dienstkonten,DC=stadt,DC=example", BindPassword: "geheim",
		BaseDNs: []string{"OU=Mitarbeiter,DC=stadt,DC=example"}, MaxDisableFraction: 0.05, MaxDisableCount: 40,
		LockoutThreshold: 20, Attributes: ldapsync.Attributes{Username: "userPrincipalName"},
		Groups: []ldapsync.GroupMapping{
			{DN: "CN=Ratsmitglieder,OU=Gremien,DC=stadt,DC=example", Name: "rat"},
			{Filter: "(&(objectClass=group)(cn=IT-*))"},
		},
		Interval: 2 * time.Minute,
	}
	want = ldapWithDefaults(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ldapsync.Config\n got  %+v\n want %+v", got, want)
	}
	if got.Interval != 2*time.Minute || got.FullInterval == 0 {
		t.Errorf("interval %s, full interval %s: want 2m and a default", got.Interval, got.FullInterval)
	}
	for _, w := range cfg.Warnings() {
		t.Errorf("unexpected warning: %s", w)
	}
}

// TestLoadDirectoriesConfig: several directories, each under its name.
func TestLoadDirectoriesConfig(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", "x")
	file := writeFile(t, dir, "keyhall.yaml", `directories:
  - name: stadt
    preset: activedirectory
    url: ldaps://dc1.stadt.example
    bind_dn: CN=svc,DC=stadt,DC=example
    bind_password_file: `+pw+`
    base_dns:
      - DC=stadt,DC=example
  - name: kreis
    preset: openldap
    url: ldap://ldap.kreis.example
    start_tls: true
    bind_dn: cn=keyhall,dc=kreis,dc=example
    bind_password_file: `+pw+`
    base_dns: ["ou=people,dc=kreis,dc=example"]
`)
	cfg, err := loadConfig(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	lcs, err := cfg.ldapConfigs()
	if err != nil {
		t.Fatal(err)
	}
	if len(lcs) != 2 || lcs[0].Name != "stadt" || lcs[1].Name != "kreis" || !lcs[1].StartTLS || lcs[1].Preset != ldapsync.PresetOpenLDAP {
		t.Errorf("directories: %+v", lcs)
	}
}

// TestLoadDirectoryConfigProblems: each mistake is named with its setting's
// path and line, all at once.
func TestLoadDirectoryConfigProblems(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", "x")
	file := writeFile(t, dir, "keyhall.yaml", `directory:
  preset: ad
  url: ldap://dc1.stadt.example
  bnd_dn: CN=svc
  bind_password_file: `+pw+`
  base_dns: ["OU=Mitarbeiter,DC=stadt,DC=example", "not a dn"]
  user_filter: (objectClass=user
  max_disable_fraction: 1.5
  interval: 1h
  full_interval: 10m
  attributes:
    email: "mail address"
  groups:
    - name: rat
    - dn: CN=Rat,DC=stadt,DC=example
      filter: (cn=rat)
    - dn: CN=Rat2,DC=stadt,DC=example
      name: Rat
directories:
  - preset: openldap
    url: ldap://192.0.2.1
    insecure_plaintext: true
    bind_dn: cn=x
    bind_password_file: `+pw+`
    base_dns: ["dc=x"]
  - name: kreis
    preset: openldap
    url: ldaps://ldap.kreis.example
    bind_dn: cn=x
    bind_password_file: `+pw+`
    base_dns: [ou=people,dc=kreis,dc=example]
`)
	_, err := loadConfig(file, nil)
	if err == nil {
		t.Fatal("loaded")
	}
	got := strings.Join(problems(t, err), "\n")
	for _, want := range []string{
		file + `:2: directory.preset: "ad" is not one of activedirectory, openldap`,
		file + `:3: directory.url: is ldap:// without start_tls`,
		file + `:4: directory.bnd_dn: unknown setting (did you mean directory.bind_dn?)`,
		file + `:6: directory.base_dns[1]: "not a dn" is not a DN`,
		file + `:7: directory.user_filter: "(objectClass=user" is not an LDAP filter`,
		file + `:8: directory.max_disable_fraction: "1.5" is not a share from 0 to 1`,
		file + `:10: directory.full_interval: 10m0s is shorter than interval 1h0m0s (line 9)`,
		file + `:12: directory.attributes.email: "mail address" is not an attribute name`,
		file + `:14: directory.groups[0]: names no group: set dn (one group) or filter`,
		file + `:16: directory.groups[1].filter: is set, but dn is set too`,
		file + `:18: directory.groups[2].name: write "Rat" as "rat"`,
		file + `:19: directories: is set, but directory is set too`,
		file + `:20: directories[0].name: must be set`,
		file + `:22: directories[0].insecure_plaintext: is allowed only for 127.0.0.1`,
		file + `:31: directories[1].base_dns: "ou=people": in [ ], commas separate the items, which splits a DN`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing problem %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "bind_dn: must be set") {
		// The misspelt key is the one problem to fix, not a second one.
		t.Errorf("a misspelt bind_dn is reported as missing too:\n%s", got)
	}
}

// TestLoadDirectoryConfigEnv: KEYHALL_DIRECTORY_… variables set the single
// directory and override the file; the list has none.
func TestLoadDirectoryConfigEnv(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", "x")
	file := writeFile(t, dir, "keyhall.yaml", strings.ReplaceAll(directoryYAML, "%PW%", pw))
	cfg, err := loadConfig(file, []string{"KEYHALL_DIRECTORY_URL=ldaps://dc2.stadt.example",
		"KEYHALL_DIRECTORY_BASE_DNS=OU=A,DC=stadt,DC=example; OU=B,DC=stadt,DC=example",
		"KEYHALL_DIRECTORY_ATTRIBUTES_USERNAME=sAMAccountName", "KEYHALL_DIRECTORY_MAX_DISABLE_FRACTION=0.2"})
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Directory
	if d.URL != "ldaps://dc2.stadt.example" || !reflect.DeepEqual(d.BaseDNs, DNList{"OU=A,DC=stadt,DC=example", "OU=B,DC=stadt,DC=example"}) ||
		d.Attributes.Username != "sAMAccountName" || d.MaxDisableFraction != 0.2 {
		t.Errorf("environment not applied: %+v", d)
	}
	_, err = loadConfig(file, []string{"KEYHALL_DIRECTORY_URL=ldap://dc2.stadt.example"})
	if got := strings.Join(problems(t, err), "\n"); !strings.Contains(got, "environment KEYHALL_DIRECTORY_URL: directory.url: is ldap:// without start_tls") {
		t.Errorf("a bad URL from the environment: %s", got)
	}
	_, err = loadConfig(file, []string{"KEYHALL_DIRECTORIES_NAME=x"})
	if got := strings.Join(problems(t, err), "\n"); !strings.Contains(got, "KEYHALL_DIRECTORIES_NAME: directories: the settings in it have no environment variable") {
		t.Errorf("a variable for the list: %s", got)
	}
	// The directory from the environment alone.
	cfg, err = loadConfig("", []string{"KEYHALL_DIRECTORY_PRESET=openldap", "KEYHALL_DIRECTORY_URL=ldap://127.0.0.1:3389",
		"KEYHALL_DIRECTORY_INSECURE_PLAINTEXT=true", "KEYHALL_DIRECTORY_BIND_DN=cn=admin,dc=test",
		"KEYHALL_DIRECTORY_BIND_PASSWORD_FILE=" + pw, "KEYHALL_DIRECTORY_BASE_DNS=dc=test"})
	if err != nil {
		t.Fatal(err)
	}
	if lcs, err := cfg.ldapConfigs(); err != nil || len(lcs) != 1 || lcs[0].URL != "ldap://127.0.0.1:3389" || !lcs[0].InsecurePlaintext {
		t.Errorf("directory from the environment: %+v, %v", lcs, err)
	}
}

// TestLoadDirectoryPasswordFile: a missing or empty password file stops
// loading, naming the setting, its line and the file, never a password.
func TestLoadDirectoryPasswordFile(t *testing.T) {
	dir := t.TempDir()
	missing := dir + "/nonexistent"
	file := writeFile(t, dir, "keyhall.yaml", strings.ReplaceAll(directoryYAML, "%PW%", missing))
	_, err := loadConfig(file, nil)
	if err == nil {
		t.Fatal("loaded with a missing password file")
	}
	got := strings.Join(problems(t, err), "\n")
	if want := file + ":5: directory.bind_password_file: read file: stat " + missing + ": no such file or directory"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	empty := writeFile(t, dir, "empty", "")
	file = writeFile(t, dir, "keyhall.yaml", strings.ReplaceAll(directoryYAML, "%PW%", empty))
	if _, err := loadConfig(file, nil); err == nil || !strings.Contains(err.Error(), "directory.bind_password_file: read secret: "+empty+" is empty") {
		t.Errorf("empty password file: %v", err)
	}
}

// TestPasswordLimit: with a directory that locks people out, Keyhall's
// per-account limit of wrong passwords is half its threshold (rounded up),
// counted over at least AD's default observation window, so that Keyhall
// alone never locks a Windows account; without one it is authn's default.
func TestPasswordLimit(t *testing.T) {
	entry := func(threshold int) directoryEntry {
		return directoryEntry{dir: DirectoryConfig{LockoutThreshold: threshold}}
	}
	for _, tc := range []struct {
		thresholds []int
		limit      int
		window     time.Duration
	}{
		{nil, 10, 15 * time.Minute},
		{[]int{0}, 10, 15 * time.Minute},
		{[]int{5}, 3, 30 * time.Minute},
		{[]int{50}, 10, 30 * time.Minute},
		{[]int{20, 4}, 2, 30 * time.Minute},
		{[]int{1}, 1, 30 * time.Minute},
	} {
		var dirs []directoryEntry
		for _, th := range tc.thresholds {
			dirs = append(dirs, entry(th))
		}
		if limit, window := passwordLimit(dirs); limit != tc.limit || window != tc.window {
			t.Errorf("thresholds %v: limit %d per %v, want %d per %v", tc.thresholds, limit, window, tc.limit, tc.window)
		}
	}
}

// TestDirectoryWarnings: check-config warns where Keyhall's own limit of
// wrong passwords could lock a person out of her Windows account, and of a
// password file anyone may read.
func TestDirectoryWarnings(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", "Sommer2026!")
	yaml := strings.ReplaceAll(strings.ReplaceAll(directoryYAML, "%PW%", pw), "lockout_threshold: 20", "lockout_threshold: 1")
	// listen on a free port: check-config tries the address, and 8080 may be in use.
	file := writeFile(t, dir, "keyhall.yaml", "listen: 127.0.0.1:0\n"+yaml)
	if err := os.Chmod(pw, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runKeyhall(t, nil, "check-config", file)
	if code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("check-config: %d %s %s", code, out, errOut)
	}
	for _, want := range []string{
		file + ": warning: directory.lockout_threshold: 1, but Keyhall lets a person try at least 1 wrong password(s) (per 30m0s)",
		file + ": warning: directory.bind_password_file: " + pw + " may be read by anyone on this machine",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("missing %q in\n%s", want, errOut)
		}
	}
	if strings.Contains(out+errOut, "Sommer2026") {
		t.Errorf("the password is printed:\n%s%s", out, errOut)
	}
	// check-config names a problem with its path, and exits 2.
	bad := writeFile(t, dir, "bad.yaml", strings.ReplaceAll(yaml, "ldaps://dc1.stadt.example:636", "ldap://dc1.stadt.example"))
	code, _, errOut = runKeyhall(t, nil, "check-config", bad)
	if code != 2 || !strings.Contains(errOut, bad+":3: directory.url: is ldap:// without start_tls") {
		t.Errorf("check-config of an ldap:// URL: exit %d\n%s", code, errOut)
	}
}

// TestDirectoryLDAPValidate: the problems ldapsync.Config.Validate finds
// are named with the setting's path where it is written, once: one cmd
// found already is not repeated.
func TestDirectoryLDAPValidate(t *testing.T) {
	old := validateLDAPConfig
	defer func() { validateLDAPConfig = old }()
	validateLDAPConfig = func(c ldapsync.Config) error {
		if c.BindPassword == "" {
			return errors.New("directory.bind_password_file: the service account's password is missing or empty")
		}
		return errors.Join(errors.New("directory.url: is ldap:// without StartTLS"),
			errors.New("directory.page_size: 5000; use 1 to 1000"), errors.New("something about the whole directory"))
	}
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", "x")
	file := writeFile(t, dir, "keyhall.yaml", `directories:
  - name: kreis
    preset: openldap
    url: ldap://ldap.kreis.example
    bind_dn: cn=x
    bind_password_file: `+pw+`
    base_dns: ["dc=kreis"]
    page_size: 5000
`)
	_, err := loadConfig(file, nil)
	got := strings.Join(problems(t, err), "\n")
	want := file + `:2: directories[0]: something about the whole directory
` + file + `:4: directories[0].url: is ldap:// without start_tls: passwords would cross the network unencrypted; use ldaps:// or set start_tls: true
` + file + `:8: directories[0].page_size: 5000; use 1 to 1000`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
