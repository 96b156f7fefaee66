package main

import (
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/web"
)

const sumHex = "50d858e0985ecc7f60418aaf0cc5ab587f42c2570a884095a9e8ccacd0f6545c" // SHA-256 of "example"

func TestLoadConfigOIDC(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "keyhall.yaml", `public_url: https://login.stadt.example
oidc:
  code_lifetime: 2m
  clients:
    - id: ris
      secret_sha256: `+sumHex+`
      redirect_uris: [https://ris.stadt.example/cb]
      post_logout_redirect_uris: [https://ris.stadt.example/]
      groups: [rat]
      level: phrh
      access_token_lifetime: 5m
      backchannel_logout_uri: https://ris.stadt.example/logout
    - id: ratsapp
      native: true
      redirect_uris: ["de.stadt.ratsapp:/callback", "http://127.0.0.1/callback", "http://[::1]/callback"]
    - id: portal
      redirect_uris: [https://portal.stadt.example/cb, "http://localhost:3000/cb"]
      cors_origins: [https://portal.stadt.example, "http://localhost:3000"]
`)
	cfg, err := loadConfig(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := Keys{Encryption: [32]byte{1}, OIDC: [32]byte{2}}
	oc, err := oidcConfig(cfg, keys)
	if err != nil {
		t.Fatal(err)
	}
	if oc.CryptoKey != keys.OIDC || oc.EncryptionKey != keys.Encryption || oc.CodeLifetime != 2*time.Minute {
		t.Errorf("keys or code lifetime: %+v", oc)
	}
	sum := sha256.Sum256([]byte("example"))
	want := web.OIDCClient{ID: "ris", SecretSHA256: sum[:], RedirectURIs: []string{"https://ris.stadt.example/cb"},
		PostLogoutRedirectURIs: []string{"https://ris.stadt.example/"}, Groups: []string{"rat"}, Level: authn.LevelPhrh,
		AccessTokenLifetime: 5 * time.Minute, IDTokenLifetime: 10 * time.Minute, RefreshTokenLifetime: 8 * time.Hour,
		BackchannelLogoutURI: "https://ris.stadt.example/logout"}
	if len(oc.Clients) != 3 || !reflect.DeepEqual(oc.Clients[0], want) {
		t.Fatalf("clients[0] = %+v\nwant %+v", oc.Clients, want)
	}
	if app := oc.Clients[1]; !app.Native || app.SecretSHA256 != nil || len(app.RedirectURIs) != 3 {
		t.Errorf("native app: %+v", app)
	}
	if portal := oc.Clients[2]; portal.SecretSHA256 != nil || len(portal.CORSOrigins) != 2 {
		t.Errorf("browser app: %+v", portal)
	}
	if err := oc.Validate(); err != nil {
		t.Errorf("web refuses what the config accepted: %v", err)
	}
	if got := defaultConfig().OIDC.CodeLifetime; got != Duration(time.Minute) {
		t.Errorf("default code_lifetime %s, want 1m", got)
	}
	_, err = loadConfig(file, []string{"KEYHALL_OIDC_CLIENTS=x"})
	wantEnv := "environment KEYHALL_OIDC_CLIENTS: oidc.clients: the settings in it have no environment variable; write them in the config file"
	if got := problems(t, err); !reflect.DeepEqual(got, []string{wantEnv}) {
		t.Errorf("got %q, want %q", got, wantEnv)
	}
}

// TestLoadConfigOIDCInvalid checks that every problem of oidc is reported
// at once, each on the line where the value is (or, for a setting left
// out, where its client starts).
func TestLoadConfigOIDCInvalid(t *testing.T) {
	dir := t.TempDir()
	secret, _ := web.NewOIDCClientSecret()
	file := writeFile(t, dir, "keyhall.yaml", `public_url: https://login.stadt.example
oidc:
  code_lifetime: 11m
  clients:
    - id: ris
      secret_sha256: abc
      redirect_uris:
        - http://ris.stadt.example/cb
        - https://ris.stadt.example/cb#top
        - /cb
        - https://*.stadt.example/cb
        - https://anna@ris.stadt.example/cb
      groups: [Rat]
      level: high
    - id: ris
      secret_sha256: `+secret+`
      redirect_uris: [ris:/cb]
      access_token_lifetime: 0s
    - id: "a:b"
      native: true
      secret_sha256: `+sumHex+`
      redirect_uris: [ratsapp:/cb]
      post_logout_redirect_uris: [http://app.stadt.example/]
      backchannel_logout_uri: "ftp://x"
      cors_origins: ["*", https://app.stadt.example/, HTTPS://APP.example, http://app.stadt.example]
    - id: ""
      name: `+strings.Repeat("x", 201)+`
`)
	_, err := loadConfig(file, nil)
	at := func(line, msg string) string { return file + ":" + line + ": " + msg }
	want := []string{
		at("3", "oidc.code_lifetime: must be longer than 0s and at most 10m (RFC 6749 §4.1.2), not 11m0s"),
		at("6", "oidc.clients[0].secret_sha256: is not 64 hex digits (a SHA-256, as \"keyhall admin oidc-secret\" prints it) but 3 characters"),
		at("8", `oidc.clients[0].redirect_uris[0]: "http://ris.stadt.example/cb": http:// is allowed only for 127.0.0.1, [::1] and localhost; use https://`),
		at("9", `oidc.clients[0].redirect_uris[1]: "https://ris.stadt.example/cb#top" must not have a fragment (#…) (RFC 6749 §3.1.2)`),
		at("10", `oidc.clients[0].redirect_uris[2]: "/cb" is not an absolute URL such as https://ris.stadt.example/callback`),
		at("11", `oidc.clients[0].redirect_uris[3]: "https://*.stadt.example/cb": addresses are compared exactly; * is not a wildcard`),
		at("12", `oidc.clients[0].redirect_uris[4]: "https://anna@ris.stadt.example/cb" must not contain a user name (…@)`),
		at("13", `oidc.clients[0].groups[0]: write "Rat" as "rat" (canonical form)`),
		at("14", `oidc.clients[0].level: "high" is not one of "" (no requirement), mfa, phr, phrh`),
		at("15", `oidc.clients[1].id: "ris" is the id of oidc.clients[0] too; each client needs its own (line 5)`),
		at("16", "oidc.clients[1].secret_sha256: holds the secret itself; write its SHA-256 instead, the secret_sha256 line "+
			"that \"keyhall admin oidc-secret\" prints, and keep the secret out of this file"),
		at("17", `oidc.clients[1].redirect_uris[0]: "ris:/cb": scheme "ris" is not https; a private-use scheme is for apps on a device (set native: true)`),
		at("18", "oidc.clients[1].access_token_lifetime: must be longer than 0s, not 0s"),
		at("19", `oidc.clients[2].id: "a:b" must not contain spaces or colons`),
		at("21", "oidc.clients[2].secret_sha256: is set, but native is true: an app on a device cannot keep a secret "+
			"(RFC 8252 §8.5); leave secret_sha256 out, PKCE protects its codes"),
		at("22", `oidc.clients[2].redirect_uris[0]: "ratsapp:/cb": a private-use scheme must be a reversed domain name you control, such as de.stadt.app (RFC 8252 §7.1)`),
		at("23", `oidc.clients[2].post_logout_redirect_uris[0]: "http://app.stadt.example/": http:// is allowed only for 127.0.0.1, [::1] and localhost; use https://`),
		at("24", `oidc.clients[2].backchannel_logout_uri: "ftp://x" is not an https:// address that Keyhall can POST logout tokens to`),
		at("25", `oidc.clients[2].cors_origins[0]: "*" would let any web site call the endpoints; list each origin, such as https://app.stadt.example`),
		at("25", `oidc.clients[2].cors_origins[1]: "https://app.stadt.example/": an origin is scheme://host[:port] alone, without path (not even /), query or fragment`),
		at("25", `oidc.clients[2].cors_origins[2]: write "HTTPS://APP.example" in lower case, as browsers send it`),
		at("25", `oidc.clients[2].cors_origins[3]: "http://app.stadt.example": an origin must be https:// (http:// only for 127.0.0.1, [::1] and localhost)`),
		at("26", "oidc.clients[3].id: must be set: it is the client_id the tool sends"),
		at("26", "oidc.clients[3].redirect_uris: must list at least one address the code may be sent to"),
		at("27", "oidc.clients[3].name: display name is too long: at most 200 characters are allowed"),
	}
	got := problems(t, err)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, p := range got {
		if strings.Contains(p, secret) {
			t.Errorf("a problem quotes the secret: %s", p)
		}
	}
}

// TestOIDCConfigMatchesWeb checks that a config that passes validation
// is one the provider accepts, secret hash included.
func TestOIDCConfigMatchesWeb(t *testing.T) {
	secret, sum := web.NewOIDCClientSecret()
	c := defaultConfig()
	c.OIDC.Clients = []OIDCClient{{ID: "wiki", SecretSHA256: hex.EncodeToString(sum[:]),
		RedirectURIs: []string{"https://wiki.example/cb"}}}
	c.OIDC.Clients[0].setDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	oc, err := oidcConfig(c, Keys{})
	if err != nil || oc.Validate() != nil {
		t.Fatalf("oidcConfig: %v, %v", err, oc.Validate())
	}
	if got := sha256.Sum256([]byte(secret)); !reflect.DeepEqual(oc.Clients[0].SecretSHA256, got[:]) {
		t.Errorf("secret hash %x, want %x", oc.Clients[0].SecretSHA256, got)
	}
}
