package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runKeyhall runs "keyhall args…" in-process with env and returns the exit
// status and output.
func runKeyhall(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errOut, env)
	return code, out.String(), errOut.String()
}

func TestHelpOnEveryLevel(t *testing.T) {
	var walk func(c *command, path []string)
	walk = func(c *command, path []string) {
		args := append(append([]string{}, path...), "--help")
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errOut := runKeyhall(t, nil, args...)
			if code != 0 || errOut != "" {
				t.Errorf("exit %d, stderr %q; want 0 and nothing", code, errOut)
			}
			if !strings.HasPrefix(out, "Usage: keyhall") || (len(path) > 0 && !strings.Contains(out, "Examples:") && c.subs == nil) {
				t.Errorf("help lacks a usage line or examples:\n%s", out)
			}
		})
		for _, s := range c.subs {
			walk(s, append(append([]string{}, path...), s.name))
		}
	}
	walk(rootCommand(), nil)
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "keyhall: missing command; one of: serve, check-config, admin, sync, directory, version\nRun 'keyhall --help' for usage.\n"},
		{[]string{"serv"}, "keyhall: unknown command \"serv\" (did you mean serve?)\nRun 'keyhall --help' for usage.\n"},
		{[]string{"--verbose"}, "keyhall: unknown flag --verbose before a command\n"},
		{[]string{"admin"}, "keyhall: missing command; one of: users, groups, invite, confirm-email, reset, revoke-credential, oidc-secret, audit, notices, backup, restore, mds, keys\nRun 'keyhall admin --help' for usage.\n"},
		{[]string{"admin", "users", "add"}, "keyhall: missing USERNAME\nRun 'keyhall admin users add --help' for usage.\n"},
		{[]string{"admin", "users", "add", "a", "b"}, "keyhall: unexpected argument \"b\"\n"},
		{[]string{"admin", "users", "add", "an na"}, "keyhall: username \"an na\": name contains a space"},
		{[]string{"admin", "users", "add", "anna", "--email", "Anna <anna@example.org>"}, "is not an address such as"},
		{[]string{"admin", "users", "add", "anna", "--nmae", "x"}, "keyhall: unknown flag --nmae\n"},
		{[]string{"admin", "users", "add", "anna", "--name"}, "keyhall: flag --name needs a value\n"},
		{[]string{"admin", "users", "disable", "anna"}, "keyhall: --reason is required"},
		{[]string{"admin", "groups", "add-member", "rat"}, "keyhall: missing USERNAME\n"},
		{[]string{"admin", "users", "list", "--json=maybe"}, "invalid boolean value \"maybe\" for flag --json"},
		{[]string{"check-config"}, "keyhall: missing FILE\n"},
		{[]string{"version", "extra"}, "keyhall: unexpected argument \"extra\"\n"},
		{[]string{"serve", "--listen"}, "keyhall: flag --listen needs a value\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errOut := runKeyhall(t, nil, tt.args...)
			if code != 2 || out != "" || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing, and %q", code, out, errOut, tt.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runKeyhall(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "keyhall ") || !strings.Contains(out, "\ncommit: ") || !strings.Contains(out, "\ngo:     go1.") {
		t.Errorf("version: exit %d, %q", code, out)
	}
	version = "v1.2.3"
	defer func() { version = "" }()
	if _, out, _ := runKeyhall(t, nil, "version"); !strings.HasPrefix(out, "keyhall v1.2.3\n") {
		t.Errorf("version with -X main.version: %q", out)
	}
}

func TestCheckConfig(t *testing.T) {
	example, err := filepath.Abs("../../keyhall.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir) // the default key file and database would be here
	// check-config tries the listen address: port 0 is always free, where
	// the default 8080 may be taken by another test's serve.
	good := writeFile(t, dir, "good.yaml", "public_url: https://login.example.org\nlisten: 127.0.0.1:0\n")
	bad := writeFile(t, dir, "bad.yaml", "public_url: https://login.example.org/x\nlistn: :1\n")
	latin1 := writeFile(t, dir, "latin1.yaml", "public_url: https://login.example.org\nwebauthn:\n  rp_name: \"Stadt M\xfcnster\"\n")
	long := writeFile(t, dir, "long.yaml", "public_url: https://login.example.org\nwebauthn:\n  rp_name: \""+strings.Repeat("x", 70_000)+"\"\n")
	badKeys := writeFile(t, dir, "badkeys.yaml", "keys:\n  file: "+filepath.Join(dir, "open.keys")+"\n")
	writeFile(t, dir, "open.keys", "")
	os.Chmod(filepath.Join(dir, "open.keys"), 0o644)
	// Review of #16: unquoted, the colour is a YAML comment and the value empty.
	colour := writeFile(t, dir, "colour.yaml", "public_url: https://login.example.org\nlisten: 127.0.0.1:0\nsite:\n  name: Stadt\n  primary_color: #a4161a\n")
	colourOK := writeFile(t, dir, "colourok.yaml", "public_url: https://login.example.org\nlisten: 127.0.0.1:0\nsite:\n  name: Stadt # the city\n  primary_color: \"#a4161a\" # red\n  logo_file: # none yet\nadmin:\n  roles:\n    helpdesk: #add later\n")
	partKeys := writeFile(t, dir, "partkeys.yaml", "keys:\n  file: "+writeFile(t, dir, "part.keys", "oidc_key: "+key32+"\n")+"\n")

	tests := []struct {
		name     string
		args     []string
		env      []string
		code     int
		out, err string
	}{
		{"ok", []string{"check-config", good}, nil, 0, good + ": ok\n", ""},
		{"example", []string{"check-config", example}, []string{"KEYHALL_LISTEN=127.0.0.1:0"}, 0, example + ": ok\n", ""},
		{"problems", []string{"check-config", bad}, nil, 2, "",
			bad + ":1: public_url: must not have a path (\"/x\"): Keyhall needs a host of its own\n" +
				bad + ":2: listn: unknown setting (did you mean listen?)\n"},
		{"environment", []string{"check-config", good}, []string{"KEYHALL_LOG_LEVEL=x"}, 2, "",
			"environment KEYHALL_LOG_LEVEL: log.level: \"x\" is not one of debug, info, warn, error\n"},
		{"not UTF-8", []string{"check-config", latin1}, nil, 2, "", latin1 + ":3: webauthn.rp_name: value is not valid UTF-8; save the file as UTF-8\n"},
		{"not UTF-8 in the environment", []string{"check-config", good}, []string{"KEYHALL_WEBAUTHN_RP_NAME=M\xfcnster"}, 2, "",
			"environment KEYHALL_WEBAUTHN_RP_NAME: webauthn.rp_name: value is not valid UTF-8\n"},
		{"too long", []string{"check-config", long}, nil, 2, "", long + ":3: webauthn.rp_name: value is too long: at most 65536 characters"},
		{"unquoted colour", []string{"check-config", colour}, nil, 2, "",
			colour + ":5: site.primary_color: the value is empty: an unquoted #colour is a YAML comment; put the colour in quotes"},
		{"quoted colour", []string{"check-config", colourOK}, nil, 0, colourOK + ": ok\n", ""},
		{"missing", []string{"check-config", filepath.Join(dir, "none.yaml")}, nil, 2, "", "no such file"},
		{"open key file", []string{"check-config", badKeys}, nil, 2, "", "can be read by group or others"},
		{"incomplete key file", []string{"check-config", partKeys}, nil, 2, "", "part.keys has no cookie_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runKeyhall(t, tt.env, tt.args...)
			if code != tt.code || (tt.out != "" && out != tt.out) || !strings.Contains(errOut, tt.err) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, out, errOut, tt.code, tt.out, tt.err)
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".keys") && e.Name() != "open.keys" && e.Name() != "part.keys" || strings.HasSuffix(e.Name(), ".db") {
			t.Errorf("check-config created %s", e.Name())
		}
	}
}
