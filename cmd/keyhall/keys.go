package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// Fingerprint identifies the keys without revealing them (128 bits of a
// SHA-256 over them, 96 random bytes and more): the database keeps the
// first process's, so that a process started with other keys is refused
// (checkKeys).
func (k Keys) Fingerprint() string {
	h := sha256.New()
	h.Write([]byte("keyhall keys fingerprint v1\x00"))
	h.Write(k.Cookie)
	h.Write(k.Encryption[:])
	h.Write(k.OIDC[:])
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Keys are the secrets every Keyhall process of one installation must
// share. They come from the configuration (keys.*_key or keys.*_key_file)
// or from the key file (keys.file), never from the database.
type Keys struct {
	// Cookie authenticates cookies: 32 or 64 bytes (64 when generated).
	Cookie []byte
	// Encryption encrypts TOTP secrets and the OIDC signing key at rest.
	Encryption [32]byte
	// OIDC is zitadel/oidc's CryptoKey, which encrypts its tokens.
	OIDC [32]byte

	// PreviousCookie and PreviousEncryption are the keys a rotation
	// replaces (keys.previous_*; nil and zero when none): accepted for
	// opening what was sealed under them, never used to seal.
	PreviousCookie     []byte
	PreviousEncryption [32]byte
	PreviousOIDC       [32]byte
}

// previous returns the keys before the rotation: the previous ones where
// given, the current ones otherwise; ok is false when no previous key is
// given.
func (k Keys) previous() (Keys, bool) {
	p := Keys{Cookie: k.Cookie, Encryption: k.Encryption, OIDC: k.OIDC}
	if k.PreviousCookie != nil {
		p.Cookie = k.PreviousCookie
	}
	if k.PreviousEncryption != ([32]byte{}) {
		p.Encryption = k.PreviousEncryption
	}
	if k.PreviousOIDC != ([32]byte{}) {
		p.OIDC = k.PreviousOIDC
	}
	return p, k.PreviousCookie != nil || k.PreviousEncryption != ([32]byte{}) || k.PreviousOIDC != ([32]byte{})
}

// errNoKeyFile reports that the key file is needed but does not exist yet.
var errNoKeyFile = errors.New("key file does not exist")

// generatedKeySize is the length of each key Keyhall generates.
var generatedKeySize = map[string]int{"cookie_key": 64, "encryption_key": 32, "oidc_key": 32}

// loadKeys returns the shared keys: each from its configuration setting if
// given, otherwise from the key file. If the key file does not exist, it
// generates the keys not given, writes them to a new key file (mode 0600,
// created exclusively: of several processes starting at once, one writes
// it and the others read it) and logs where.
func loadKeys(c Config, logger *slog.Logger) (Keys, error) {
	got, missing, err := readKeys(c)
	if errors.Is(err, errNoKeyFile) {
		var made map[string][]byte
		made, err = createKeyFile(c.Keys.File, missing, logger)
		maps.Copy(got, made)
	}
	if err == nil {
		err = checkComplete(c.Keys.File, got)
	}
	if err != nil {
		return Keys{}, err
	}
	var k Keys
	k.Cookie = got["cookie_key"]
	copy(k.Encryption[:], got["encryption_key"])
	copy(k.OIDC[:], got["oidc_key"])
	prev, err := readPreviousKeys(c)
	if err != nil {
		return Keys{}, err
	}
	k.PreviousCookie = prev["previous_cookie_key"]
	copy(k.PreviousEncryption[:], prev["previous_encryption_key"])
	copy(k.PreviousOIDC[:], prev["previous_oidc_key"])
	return k, nil
}

// readPreviousKeys returns the keys a rotation replaces that are given:
// each from keys.previous_*, or else from a line of the key file if there
// is one.
func readPreviousKeys(c Config) (map[string][]byte, error) {
	got := map[string][]byte{}
	var inFile map[string][]byte
	for _, k := range c.previousKeySettings() {
		path := "keys." + k.name
		var err error
		switch {
		case k.value != "" && k.file != "":
			return nil, fmt.Errorf("load keys: %s and %s_file are both set; give one", path, path)
		case k.value != "":
			got[k.name], err = decodeKey(k.value, k.sizes)
		case k.file != "":
			var s string
			if s, err = readSecretFile(k.file); err == nil {
				got[k.name], err = decodeKey(s, k.sizes)
			}
		case c.Keys.File != "":
			if inFile == nil {
				if inFile, err = readKeyFile(c.Keys.File); errors.Is(err, fs.ErrNotExist) {
					inFile, err = map[string][]byte{}, nil
				}
			}
			if v := inFile[k.name]; v != nil {
				got[k.name] = v
			}
		}
		if err != nil {
			return nil, fmt.Errorf("load keys: %s: %w", path, err)
		}
	}
	return got, nil
}

// readKeys returns the keys the configuration gives and, for the others
// (missing), those in the key file. It creates nothing: if the key file is
// needed but absent, the error wraps errNoKeyFile.
func readKeys(c Config) (got map[string][]byte, missing []string, err error) {
	got = map[string][]byte{}
	for _, k := range c.keySettings() {
		path := "keys." + k.name
		switch {
		case k.value != "" && k.file != "":
			return nil, nil, fmt.Errorf("load keys: %s and %s_file are both set; give one", path, path)
		case k.value != "":
			got[k.name], err = decodeKey(k.value, k.sizes)
		case k.file != "":
			var s string
			if s, err = readSecretFile(k.file); err == nil {
				got[k.name], err = decodeKey(s, k.sizes)
			}
		default:
			missing = append(missing, k.name)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("load keys: %s: %w", path, err)
		}
	}
	if len(missing) == 0 {
		return got, nil, nil
	}
	inFile, err := readKeyFile(c.Keys.File)
	if errors.Is(err, fs.ErrNotExist) {
		return got, missing, fmt.Errorf("%w: %s", errNoKeyFile, c.Keys.File)
	}
	if err != nil {
		return nil, nil, err
	}
	for _, name := range missing {
		got[name] = inFile[name]
	}
	return got, missing, checkComplete(c.Keys.File, got)
}

// checkComplete checks that every key was found; file is the key file,
// where the missing ones were looked for.
func checkComplete(file string, got map[string][]byte) error {
	for _, k := range (Config{}).keySettings() {
		if got[k.name] == nil {
			return fmt.Errorf("load keys: key file %s has no %s; add one or set keys.%s", file, k.name, k.name)
		}
	}
	return nil
}

// readKeyFile reads a key file: lines of "name: base64", with blank lines
// and # comments. It refuses a file that group or others may read.
func readKeyFile(path string) (map[string][]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxSecretFile {
		return nil, fmt.Errorf("read key file: %s is not a regular file of at most %d bytes", path, maxSecretFile)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("read key file: %s can be read by group or others (mode %04o); "+
			"it holds secrets: run chmod 600 %s", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	keys, err := parseKeyFile(b)
	if err != nil {
		return nil, fmt.Errorf("read key file %s: %w", path, err)
	}
	return keys, nil
}

// parseKeyFile parses the content of a key file.
func parseKeyFile(b []byte) (map[string][]byte, error) {
	sizes := map[string][]int{}
	for _, k := range append((Config{}).keySettings(), (Config{}).previousKeySettings()...) {
		sizes[k.name] = k.sizes
	}
	keys := map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || line == "---" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		name, value = strings.TrimSpace(name), strings.Trim(strings.TrimSpace(value), `"'`)
		switch {
		case !ok:
			return nil, fmt.Errorf("line %d: not \"name: base64-key\"", n)
		case sizes[name] == nil:
			return nil, fmt.Errorf("line %d: unknown key %q (known: cookie_key, encryption_key, oidc_key, previous_cookie_key, previous_encryption_key, previous_oidc_key)", n, name)
		case keys[name] != nil:
			return nil, fmt.Errorf("line %d: %s is given twice", n, name)
		}
		k, err := decodeKey(value, sizes[name])
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", n, name, err)
		}
		keys[name] = k
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	return keys, nil
}

// createKeyFile generates the keys named and writes them to a new key file
// at path. It writes a temporary file first and links it into place, which
// fails if path exists: then another process won, and createKeyFile returns
// the keys in its file instead.
func createKeyFile(path string, names []string, logger *slog.Logger) (map[string][]byte, error) {
	keys := map[string][]byte{}
	var buf bytes.Buffer
	buf.WriteString("# Keyhall's shared keys, generated on first start.\n" +
		"# Every Keyhall process of this installation must use these same keys.\n" +
		"# Keep this file secret (mode 0600) and back it up: without it, cookies,\n" +
		"# TOTP secrets and OIDC tokens cannot be read.\n")
	for _, name := range names {
		k := make([]byte, generatedKeySize[name])
		rand.Read(k) // never fails (crypto/rand, Go ≥ 1.24)
		keys[name] = k
		fmt.Fprintf(&buf, "%s: %s\n", name, base64.StdEncoding.EncodeToString(k))
	}
	won, err := linkNewFile(path, buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	if !won {
		return readKeyFile(path)
	}
	abs, _ := filepath.Abs(path)
	logger.Warn("generated new keys into a key file; every Keyhall process of this installation must share it, so back it up and keep it secret",
		"file", abs, "keys", strings.Join(names, ","))
	return keys, nil
}

// linkNewFile writes content to a new file at path with mode 0600, atomically
// and durably: readers see either no file or the whole of it. It returns
// false, and writes nothing, if path exists already.
func linkNewFile(path string, content []byte) (bool, error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // make the new name durable; not every system can sync a directory
		d.Close()
	}
	return true, nil
}

// decodeKey decodes a base64 key (standard or URL alphabet, padded or not)
// and checks its length. The error never quotes the key.
func decodeKey(s string, sizes []int) ([]byte, error) {
	s = strings.TrimSpace(s)
	var k []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return nil, errors.New("is not base64 (generate a key with: openssl rand -base64 32)")
	}
	if !slices.Contains(sizes, len(k)) {
		want := fmt.Sprint(sizes[0])
		if len(sizes) > 1 {
			want = fmt.Sprintf("%d or %d", sizes[0], sizes[1])
		}
		return nil, fmt.Errorf("is %d bytes long, not %s (generate one with: openssl rand -base64 %d)", len(k), want, sizes[0])
	}
	return k, nil
}
