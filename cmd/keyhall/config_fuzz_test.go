package main

import (
	"errors"
	"os"
	"testing"
	"unicode/utf8"
)

// FuzzLoadConfig feeds arbitrary bytes as the configuration file: loading
// never panics, and yields either a valid Config or a *configError.
func FuzzLoadConfig(f *testing.F) {
	if example, err := os.ReadFile("../../keyhall.example.yaml"); err == nil {
		f.Add(example)
	}
	for _, s := range []string{
		"",
		"public_url: https://login.example.org\nlisten: :8443\n",
		"tls:\n  cert_fle: x\n",
		"trusted_proxies: [10.0.0.0/8, ::1]\nlog: {level: debug}\n",
		"a: &x {b: *x}\n",
		"listen: &l ':1'\nbootstrap_user: *l\n",
		"<<: {listen: ':1'}\n",
		"--- \n...\n---\nlisten: [\n",
		"keys: {cookie_key: AAAA, cookie_key_file: /nonexistent}\n",
		"database:\n  max_open_conns: 0x7fffffffffffffffff\n",
		"shutdown_timeout: !!int 5\n",
		"public_url: https://login.stadt.example\npolicy:\n  groups:\n    rat: {level: phrh, allow_totp: false}\n" +
			"    staff:\n      level: mfa\n      user_verification: true\n    guests:\n" +
			"forward_auth:\n  cookie_domain: stadt.example\n  rules:\n    - host: wiki.stadt.example\n" +
			"    - {host: wiki.stadt.example, path_prefix: /admin/, groups: [rat], level: phr}\n",
		"policy: {groups: &g {rat: *g, Rat: {levle: x}, 1: {}, '': {}}}\n",
		"forward_auth: {rules: [&r {host: a}, *r, [b], ~, {hots: c}]}\n",
		"forward_auth:\n  rules: &x\n    - groups: *x\n",
		"session: {idle_timeout: 1h, max_age: 1h}\npasswords: {argon2_parallelism: 0}\n",
		"webauthn:\n  rp_name: \"Stadt M\xfcnster\" # M\xfcnster\n",
		"letter:\n  sender_address: [Rathaus, \"M\xfcnster\"]\n  footer: |\n    Gr\xfc\xdfe\n",
		"directory:\n  preset: activedirectory\n  url: ldaps://dc1.stadt.example\n  bind_dn: CN=svc,DC=stadt,DC=example\n" +
			"  bind_password_file: /nonexistent\n  base_dns: [OU=A,DC=stadt, \"OU=B,DC=stadt\"]\n  max_disable_fraction: 10%\n" +
			"  attributes: {id: objectGUID, member: member;range=0-1499}\n  groups:\n    - {dn: \"CN=Rat,DC=stadt\", name: rat}\n    - filter: (cn=*\n",
		"directories:\n  - name: a\n    preset: openldap\n    url: ldap://127.0.0.1:389\n    insecure_plaintext: true\n" +
			"  - &d {name: a, max_disable_fraction: 1e400, page_size: -1}\n  - *d\ndirectory: {name: x}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := buildConfig("fuzz.yaml", data, nil, nil)
		if err == nil && !utf8.Valid(data) {
			t.Fatalf("loaded a file that is not UTF-8")
		}
		if err != nil {
			var cerr *configError
			if !errors.As(err, &cerr) {
				t.Fatalf("error %v (%T) is not a *configError", err, err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("loaded an invalid config: %v", err)
		}
	})
}
