package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

func TestAdminOIDCSecret(t *testing.T) {
	out := mustRun(t, nil, 0, "admin", "oidc-secret")
	m := regexp.MustCompile(`(?s)^Client secret \(shown only this once; [^\n]*\n\n    ([A-Za-z0-9_-]{43})\n\n.*\n\n    secret_sha256: ([0-9a-f]{64})\n$`).
		FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("output:\n%s", out)
	}
	if sum := sha256.Sum256([]byte(m[1])); hex.EncodeToString(sum[:]) != m[2] {
		t.Errorf("secret_sha256 %s is not the SHA-256 of the secret", m[2])
	}
	// The printed line is what the configuration accepts.
	c := defaultConfig()
	c.OIDC.Clients = []OIDCClient{{ID: "ris", SecretSHA256: m[2], RedirectURIs: []string{"https://ris.example/cb"}}}
	c.OIDC.Clients[0].setDefaults()
	if err := c.Validate(); err != nil {
		t.Errorf("the printed secret_sha256 does not validate: %v", err)
	}

	var j oidcSecretJSON
	if err := json.Unmarshal([]byte(mustRun(t, nil, 0, "admin", "oidc-secret", "--json")), &j); err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256([]byte(j.Secret)); len(j.Secret) != 43 || hex.EncodeToString(sum[:]) != j.SecretSHA256 {
		t.Errorf("--json: %+v", j)
	}
	if j.Secret == m[1] {
		t.Error("two runs printed the same secret")
	}
	if errOut := mustRun(t, nil, 2, "admin", "oidc-secret", "ris"); !strings.HasPrefix(errOut, "keyhall: unexpected argument \"ris\"\n") {
		t.Errorf("with an argument: %q", errOut)
	}
}
