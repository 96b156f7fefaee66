package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeTestCert writes a self-signed certificate for localhost and its key
// into dir and returns their paths.
func writeTestCert(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cert = writeFile(t, dir, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	key = writeFile(t, dir, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})))
	return cert, key
}

// keysConfig returns the default config with the key file in dir.
func keysConfig(dir string) Config {
	c := defaultConfig()
	c.Keys.File = filepath.Join(dir, "keyhall.keys")
	return c
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestLoadKeysGeneratesAndReuses(t *testing.T) {
	dir := t.TempDir()
	c := keysConfig(dir)
	var log bytes.Buffer
	first, err := loadKeys(c, slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Cookie) != 64 || first.Encryption == ([32]byte{}) || first.OIDC == ([32]byte{}) || first.OIDC == first.Encryption {
		t.Errorf("generated keys look wrong: %+v", first)
	}
	fi, err := os.Stat(c.Keys.File)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode %04o, want 0600", perm)
	}
	if !strings.Contains(log.String(), c.Keys.File) || !strings.Contains(log.String(), "must share it") {
		t.Errorf("the log does not say where the keys are and that they are shared: %s", log.String())
	}
	second, err := loadKeys(c, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Cookie, second.Cookie) || first.Encryption != second.Encryption || first.OIDC != second.OIDC {
		t.Error("a second start generated new keys instead of reading the key file")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory holds %d files, want only the key file", len(entries))
	}
}

func TestLoadKeysFromConfig(t *testing.T) {
	dir := t.TempDir()
	c := keysConfig(dir)
	c.Keys.CookieKey = key32
	c.Keys.EncryptionKeyFile = writeFile(t, dir, "enc", key32+"\n")
	c.Keys.OIDCKey = base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	k, err := loadKeys(c, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := base64.StdEncoding.DecodeString(key32)
	if !bytes.Equal(k.Cookie, want) || !bytes.Equal(k.Encryption[:], want) || k.OIDC[0] != 7 {
		t.Errorf("keys not taken from the config: %+v", k)
	}
	if _, err := os.Stat(c.Keys.File); !os.IsNotExist(err) {
		t.Errorf("a key file was written although the config gives every key (stat: %v)", err)
	}

	// Keys not in the config are generated; the given one is not written.
	c.Keys.EncryptionKeyFile, c.Keys.OIDCKey = "", ""
	if _, err := loadKeys(c, discardLogger()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(c.Keys.File)
	if strings.Contains(string(b), "cookie_key") || !strings.Contains(string(b), "oidc_key:") {
		t.Errorf("key file holds the wrong keys:\n%s", b)
	}
}

func TestLoadKeysRefusals(t *testing.T) {
	long := base64.StdEncoding.EncodeToString(make([]byte, 64))
	tests := []struct {
		name, content string
		mode          os.FileMode
		want          string
	}{
		{"group readable", "", 0o640, "can be read by group or others (mode 0640); it holds secrets: run chmod 600"},
		{"world readable", "", 0o604, "mode 0604"},
		{"bad base64", "cookie_key: %%%\n", 0o600, "line 1: cookie_key: is not base64"},
		{"short key", "# c\n\nencryption_key: AAAA\n", 0o600, "line 3: encryption_key: is 3 bytes long, not 32"},
		{"long key", "oidc_key: " + long + "\n", 0o600, "line 1: oidc_key: is 64 bytes long, not 32"},
		{"unknown key", "cookie: " + key32 + "\n", 0o600, `line 1: unknown key "cookie"`},
		{"twice", "oidc_key: " + key32 + "\noidc_key: " + key32 + "\n", 0o600, "line 2: oidc_key is given twice"},
		{"no colon", "oidc_key " + key32 + "\n", 0o600, "line 1: not \"name: base64-key\""},
		{"incomplete", "oidc_key: " + key32 + "\n", 0o600, "has no cookie_key; add one or set keys.cookie_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := keysConfig(t.TempDir())
			if err := os.WriteFile(c.Keys.File, []byte(tt.content), tt.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(c.Keys.File, tt.mode) // not narrowed by the umask
			_, err := loadKeys(c, discardLogger())
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), c.Keys.File) {
				t.Errorf("loadKeys() = %v; want an error naming %s and saying %q", err, c.Keys.File, tt.want)
			}
		})
	}
}

func TestLoadKeysBadConfigKey(t *testing.T) {
	c := keysConfig(t.TempDir())
	c.Keys.CookieKey = "AAAA"
	_, err := loadKeys(c, discardLogger())
	if err == nil || !strings.Contains(err.Error(), "keys.cookie_key: is 3 bytes long, not 32 or 64") {
		t.Errorf("loadKeys() = %v", err)
	}
	c.Keys.CookieKeyFile = "/nonexistent"
	if _, err := loadKeys(c, discardLogger()); err == nil || !strings.Contains(err.Error(), "both set") {
		t.Errorf("value and file: loadKeys() = %v", err)
	}
	c.Keys.CookieKey = ""
	_, err = loadKeys(c, discardLogger())
	if err == nil || !strings.Contains(err.Error(), "keys.cookie_key: read file") {
		t.Errorf("missing key file: loadKeys() = %v", err)
	}
	if _, serr := os.Stat(c.Keys.File); !os.IsNotExist(serr) {
		t.Error("a key file was generated although a configured key file is missing")
	}
}

// TestLoadKeysConcurrent starts several processes' worth of loadKeys on
// one fresh key file: all must end with the same keys, and one file.
func TestLoadKeysConcurrent(t *testing.T) {
	for round := range 10 {
		dir := t.TempDir()
		c := keysConfig(dir)
		const n = 4
		keys := make([]Keys, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { keys[i], errs[i] = loadKeys(c, discardLogger()) })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d, goroutine %d: %v", round, i, errs[i])
			}
			if !bytes.Equal(keys[i].Cookie, keys[0].Cookie) || keys[i].Encryption != keys[0].Encryption || keys[i].OIDC != keys[0].OIDC {
				t.Fatalf("round %d: goroutines %d and 0 ended with different keys", round, i)
			}
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Fatalf("round %d: %d files left, want only the key file", round, len(entries))
		}
	}
}
