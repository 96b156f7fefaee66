package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config is Keyhall's configuration: defaults, then the YAML file, then
// KEYHALL_… environment variables, then command-line flags. The yaml tags
// are the setting names; environment variable names are derived from them
// (see envName). Validate reports every invalid value at once.
type Config struct {
	// PublicURL is the one source of the OIDC issuer, the WebAuthn RP ID and
	// origin, the base of every link and the cookies' Secure flag.
	PublicURL string `yaml:"public_url"`
	// Listen is the address the HTTP server listens on.
	Listen string `yaml:"listen"`
	// MetricsListen is the address /metrics is served on, apart from the
	// public listener; "" serves no metrics.
	MetricsListen string `yaml:"metrics_listen"`
	// Storage is the database URL: sqlite://relative.db, sqlite:///abs.db
	// or postgres://… (postgresql:// too).
	Storage string `yaml:"storage"`
	// StoragePasswordFile names a file holding the PostgreSQL password.
	StoragePasswordFile string `yaml:"storage_password_file"`
	Database            struct {
		// MaxOpenConns caps the open database connections; 0 means the
		// store's default.
		MaxOpenConns int `yaml:"max_open_conns"`
	} `yaml:"database"`
	// TrustedProxies lists the reverse proxies (CIDRs or single addresses)
	// whose X-Forwarded-For is believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
	TLS            struct {
		CertFile string `yaml:"cert_file"`
		KeyFile  string `yaml:"key_file"`
	} `yaml:"tls"`
	Log struct {
		Level  string `yaml:"level"`  // debug, info, warn or error
		Format string `yaml:"format"` // text, json or journal
	} `yaml:"log"`
	// ShutdownTimeout is how long serve waits for requests in flight.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	Keys            struct {
		// File holds the keys not given below; generated on the first
		// serve when absent.
		File              string `yaml:"file"`
		CookieKey         string `yaml:"cookie_key"` // base64, 32 or 64 bytes
		CookieKeyFile     string `yaml:"cookie_key_file"`
		EncryptionKey     string `yaml:"encryption_key"` // base64, 32 bytes
		EncryptionKeyFile string `yaml:"encryption_key_file"`
		OIDCKey           string `yaml:"oidc_key"` // base64, 32 bytes
		OIDCKeyFile       string `yaml:"oidc_key_file"`
		// The keys replaced by a rotation (docs/keys.md): accepted for
		// opening, never for sealing.
		PreviousCookieKey         string `yaml:"previous_cookie_key"`
		PreviousCookieKeyFile     string `yaml:"previous_cookie_key_file"`
		PreviousEncryptionKey     string `yaml:"previous_encryption_key"`
		PreviousEncryptionKeyFile string `yaml:"previous_encryption_key_file"`
		PreviousOIDCKey           string `yaml:"previous_oidc_key"`
		PreviousOIDCKeyFile       string `yaml:"previous_oidc_key_file"`
	} `yaml:"keys"`
	// AdminGroup is the canonical name of the group whose members may use
	// the admin console.
	AdminGroup string `yaml:"admin_group"`
	// Admin says who may use the IT desk (keyhall admin and the /admin
	// console): roles from groups (canonical names). admin_group's members
	// are admins too.
	Admin struct {
		Roles struct {
			Helpdesk []string `yaml:"helpdesk"`
			Admin    []string `yaml:"admin"`
		} `yaml:"roles"`
	} `yaml:"admin"`
	// BootstrapUser is the canonical username of the first administrator,
	// created on an empty database.
	BootstrapUser string `yaml:"bootstrap_user"`
	Session       struct {
		// IdleTimeout ends a session not used for this long.
		IdleTimeout Duration `yaml:"idle_timeout"`
		// MaxAge ends every session this long after sign-in.
		MaxAge Duration `yaml:"max_age"`
	} `yaml:"session"`
	WebAuthn struct {
		// RPName is the relying party's name the browser and the
		// authenticator show (WebAuthn L3 §5.4.1).
		RPName string `yaml:"rp_name"`
	} `yaml:"webauthn"`
	// Passwords are the argon2id parameters for local people's passwords
	// (RFC 9106) and how many hashes may run at once.
	Passwords struct {
		Argon2MemoryKiB   int `yaml:"argon2_memory_kib"`
		Argon2Iterations  int `yaml:"argon2_iterations"`
		Argon2Parallelism int `yaml:"argon2_parallelism"`
		// MaxConcurrent caps concurrent hashes; 0 means 2 × CPUs.
		MaxConcurrent int `yaml:"max_concurrent"`
	} `yaml:"passwords"`
	Policy struct {
		// Groups says what the members of a group (by canonical name) must
		// use to sign in.
		Groups map[string]GroupPolicy `yaml:"groups"`
	} `yaml:"policy"`
	ForwardAuth struct {
		// CookieDomain ("stadt.example"), when set, is the Domain of the
		// cookie that lets the hosts under it see who signed in.
		CookieDomain string `yaml:"cookie_domain"`
		// Rules say who may reach which host behind the reverse proxy.
		Rules []ForwardAuthRule `yaml:"rules"`
	} `yaml:"forward_auth"`
	// OIDC is the OpenID Connect provider for the city's tools; it is off
	// while no client is configured.
	OIDC struct {
		// CodeLifetime is how long an authorization code may be redeemed:
		// at most 10 minutes (RFC 6749 §4.1.2).
		CodeLifetime Duration `yaml:"code_lifetime"`
		// Clients are the tools that may ask who signed in.
		Clients []OIDCClient `yaml:"clients"`
	} `yaml:"oidc"`
	// Letter is the sender of enrollment letters and mail, and where
	// people get help.
	Letter struct {
		SenderName    string   `yaml:"sender_name"`    // "Stadt Musterstadt"
		SenderAddress []string `yaml:"sender_address"` // department, street, postcode and city
		HelpPhone     string   `yaml:"help_phone"`
		HelpEmail     string   `yaml:"help_email"`
	} `yaml:"letter"`
	// Mail is the SMTP server that notices go through; none when SMTPHost
	// is empty.
	Mail struct {
		SMTPHost     string   `yaml:"smtp_host"`
		SMTPPort     int      `yaml:"smtp_port"`
		Username     string   `yaml:"username"`
		PasswordFile string   `yaml:"password_file"`
		From         string   `yaml:"from"`     // "Stadt Musterstadt <keyhall@stadt.example>"
		StartTLS     string   `yaml:"starttls"` // auto, required or off
		Timeout      Duration `yaml:"timeout"`
	} `yaml:"mail"`
	// Directory is the one directory (Active Directory, OpenLDAP) people
	// and groups are synced from; Directories, several, each with a name.
	// Not both. See docs/directory.md.
	Directory   DirectoryConfig   `yaml:"directory"`
	Directories []DirectoryConfig `yaml:"directories"`
	// Citizens lets citizens register themselves at /register, sign in,
	// see and download what Keyhall holds about them, and delete their
	// account (docs/privacy.md). Off by default.
	Citizens struct {
		Enabled bool `yaml:"enabled"`
		// Group is the canonical name of the group every registered
		// citizen joins; its policy.groups entry, if any, applies to her.
		Group string `yaml:"group"`
		// InactiveAfter: a citizen account not used for this long is
		// mailed a notice and deleted 30 days later.
		InactiveAfter Duration `yaml:"inactive_after"`
	} `yaml:"citizens"`
	// Retention is how long Keyhall keeps records about people.
	Retention struct {
		// Signins: sign-in records (audit events "signin") older than this
		// are removed, at a signed audit checkpoint.
		Signins Duration `yaml:"signins"`
	} `yaml:"retention"`
	// Legal are the city's imprint (Impressum) and privacy notice
	// (Datenschutzerklärung), linked from every page; both are required
	// once citizens may register.
	Legal struct {
		ImprintURL string `yaml:"imprint_url"`
		PrivacyURL string `yaml:"privacy_url"`
	} `yaml:"legal"`
	// Site is the city's own name, logo and colour: in every page's
	// header, the mail, the letters and the authenticator app's entry
	// (docs/branding.md). Unset: Keyhall's own.
	Site struct {
		Name         string `yaml:"name"`          // "Stadt Münster – Anmeldung"
		LogoFile     string `yaml:"logo_file"`     // a PNG or SVG file, read at start
		PrimaryColor string `yaml:"primary_color"` // "#RRGGBB", at least 4.5:1 against white
	} `yaml:"site"`
}

// GroupPolicy is what a group asks of its members' sign-ins: one element
// of policy.groups. Settings inside it have no environment variable.
type GroupPolicy struct {
	// Level is the lowest level a member may sign in with: "", mfa, phr
	// or phrh.
	Level string `yaml:"level"`
	// UserVerification asks the key to verify the person (PIN, biometric).
	UserVerification bool `yaml:"user_verification"`
	// AllowTOTP lets members use an authenticator app; true by default.
	AllowTOTP bool `yaml:"allow_totp"`
	// Attestation, when set, admits only keys whose attestation chains to
	// this set of roots shipped in the binary: "yubico" (Yubico's FIDO
	// roots). Keys without attestation (synced passkeys, self attestation)
	// are refused.
	Attestation string `yaml:"attestation"`
	// AAGUIDs, when set, admits only these authenticator models: AAGUIDs,
	// or "yubikey" for every current YubiKey model.
	AAGUIDs []string `yaml:"aaguids"`
	// RefuseCompromisedModels refuses at registration a key whose model
	// the imported FIDO MDS3 blob reports compromised (REVOKED,
	// ATTESTATION_KEY_COMPROMISE, USER_VERIFICATION_BYPASS,
	// USER_KEY_REMOTE_COMPROMISE: authn.CompromiseStatuses), and a key
	// whose model its attestation does not prove: a certificate naming the
	// model that chains to a root the blob lists for that model, to this
	// group's attestation roots, or to Yubico's.
	RefuseCompromisedModels bool `yaml:"refuse_compromised_models"`
	// Protected: only an admin acts on the members on the IT desk, never
	// the helpdesk.
	Protected bool `yaml:"protected"`
	// ResetApproval: a reset of a member waits for a second person's
	// approval (dual control; admins' resets always do).
	ResetApproval bool `yaml:"reset_approval"`
	// EmailRecovery lets a member who lost every factor and her recovery
	// codes enroll a new factor through a link mailed to her verified
	// address; her old factors are removed 72 hours later unless she
	// cancels. Refused for groups with a key policy (level phr or phrh,
	// attestation, aaguids).
	EmailRecovery bool `yaml:"email_recovery"`
}

// setDefaults sets the values a group policy has when the file does not
// give them.
func (g *GroupPolicy) setDefaults() { g.AllowTOTP = true }

// ForwardAuthRule admits members of Groups (anyone signed in when empty)
// who signed in at Level or above to Host under PathPrefix: one element of
// forward_auth.rules. Settings inside it have no environment variable.
type ForwardAuthRule struct {
	Host       string   `yaml:"host"`
	PathPrefix string   `yaml:"path_prefix"`
	Groups     []string `yaml:"groups"`
	Level      string   `yaml:"level"`
}

// setDefaults sets the values a rule has when the file does not give them.
func (r *ForwardAuthRule) setDefaults() { r.PathPrefix = "/" }

// defaultConfig returns the configuration used when nothing is set: a
// local-only instance on http://localhost:8080 with an embedded SQLite file.
func defaultConfig() Config {
	var c Config
	c.PublicURL = "http://localhost:8080"
	c.Listen = "127.0.0.1:8080"
	c.Storage = "sqlite://keyhall.db"
	c.Log.Level = "info"
	c.Log.Format = "text"
	c.ShutdownTimeout = Duration(10 * time.Second)
	c.Keys.File = "keyhall.keys"
	c.AdminGroup = "keyhall-admins"
	c.BootstrapUser = "admin"
	c.Session.IdleTimeout = Duration(30 * time.Minute)
	c.Session.MaxAge = Duration(12 * time.Hour)
	c.WebAuthn.RPName = "Keyhall"
	c.Passwords.Argon2MemoryKiB = 19456 // OWASP's minimum for argon2id
	c.Passwords.Argon2Iterations = 2
	c.Passwords.Argon2Parallelism = 1
	c.OIDC.CodeLifetime = Duration(time.Minute)
	c.Mail.SMTPPort = 587
	c.Mail.StartTLS = "auto"
	c.Mail.Timeout = Duration(30 * time.Second)
	c.Directory.Name = defaultDirectoryName
	c.Citizens.Group = "buerger"
	c.Citizens.InactiveAfter = Duration(2 * 365 * 24 * time.Hour)
	c.Retention.Signins = Duration(90 * 24 * time.Hour)
	return c
}

// Duration is a time.Duration written as in "10s" or "1m30s".
type Duration time.Duration

// String returns d as time.Duration writes it.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes d as time.Duration writes it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a duration such as "10s" or "1m30s".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 10s or 1m30s", b)
	}
	*d = Duration(v)
	return nil
}

// parsedPublicURL returns PublicURL parsed. The config must be valid.
func (c Config) parsedPublicURL() (*url.URL, error) {
	if err := checkPublicURL(c.PublicURL); err != nil {
		return nil, fmt.Errorf("public_url: %w", err)
	}
	return url.Parse(c.PublicURL)
}

// proxyPrefixes returns TrustedProxies as prefixes, a single address as a
// prefix of its full length.
func (c Config) proxyPrefixes() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(c.TrustedProxies))
	for i, s := range c.TrustedProxies {
		p, err := parseProxy(s)
		if err != nil {
			return nil, fmt.Errorf("trusted_proxies[%d]: %w", i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// storagePassword returns the database password from StoragePasswordFile,
// or "" when none is set.
func (c Config) storagePassword() (string, error) {
	if c.StoragePasswordFile == "" {
		return "", nil
	}
	return readSecretFile(c.StoragePasswordFile)
}

// maxSecretFile is the largest secret or certificate file Keyhall reads.
const maxSecretFile = 1 << 20

// readSecretFile reads a secret from a regular file, without one trailing
// newline ("\n" or "\r\n"). The error names the file but never its content.
func readSecretFile(path string) (string, error) {
	if err := checkRegularFile(path); err != nil {
		return "", err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	s := string(b)
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		s = strings.TrimSuffix(t, "\r")
	}
	if s == "" {
		return "", fmt.Errorf("read secret: %s is empty", path)
	}
	return s, nil
}

// checkRegularFile checks that path names a regular file (or a link to one)
// of at most maxSecretFile bytes, so that reading it cannot block or fill
// memory (a FIFO, /dev/zero).
func checkRegularFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("read file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("read file: %s is not a regular file", path)
	}
	if fi.Size() > maxSecretFile {
		return fmt.Errorf("read file: %s is larger than %d bytes", path, maxSecretFile)
	}
	return nil
}

// newLogger returns the logger the configuration asks for, writing to w.
// The config must be valid; an unknown level or format falls back to info
// and text.
func newLogger(c Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Log.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.Log.Format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts))
	case "journal":
		return slog.New(newJournalHandler(journalSocket, level, slog.NewTextHandler(w, opts)))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
