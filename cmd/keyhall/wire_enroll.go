package main

import (
	"fmt"
	"github.com/google/uuid"
	"log/slog"
	"net/url"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/citizens"
)

// enrollService builds the enrollment service from the configuration, as
// both serve and the admin commands use it: the public URL, the relying
// party's name, the key policy of policy.groups, and the encryption key
// that seals TOTP secrets. dir checks directory people's passwords (nil:
// none).
func enrollService(cfg Config, keys Keys, st enroll.Store, dir enroll.PasswordChecker, logger *slog.Logger) (*enroll.Service, error) {
	publicURL, err := cfg.parsedPublicURL()
	if err != nil {
		return nil, err
	}
	ec := enrollConfig(cfg, keys, publicURL, logger)
	ec.Store, ec.Directory = st, dir
	svc, err := enroll.New(ec)
	if err != nil {
		return nil, fmt.Errorf("set up enrollment: %w", err)
	}
	return svc, nil
}

// enrollConfig is the enrollment service's configuration but its Store,
// Directory and mail; enrollService adds the first two for the admin
// commands, which send their own mail.
func enrollConfig(cfg Config, keys Keys, publicURL *url.URL, logger *slog.Logger) enroll.Config {
	return enroll.Config{
		PublicURL: publicURL, RPName: cfg.WebAuthn.RPName, Issuer: cfg.Site.Name, Policy: enrollPolicy(cfg),
		EncryptionKey: keys.Encryption, PreviousEncryptionKey: keys.PreviousEncryption, Logger: logger,
	}
}

// serveEnrollConfig is what serve hands to web (web.Config.Enroll), which
// adds the store when the database is open: enrollConfig with the mail
// that tells people of changes to their own factors, sent through mail.*
// or, without mail.smtp_host, only logged.
func serveEnrollConfig(cfg Config, keys Keys, publicURL *url.URL, logger *slog.Logger) (enroll.Config, error) {
	ec := enrollConfig(cfg, keys, publicURL, logger)
	var err error
	if ec.Notices, err = cfg.notices(); err != nil {
		return enroll.Config{}, err
	}
	if ec.Mailer, _, err = newMailer(cfg, logger); err != nil {
		return enroll.Config{}, err
	}
	return ec, nil
}

// enrollPolicy translates policy.groups into key policies: a group at
// level phrh refuses synced passkeys (the secret stays on the hardware
// key); user_verification requires a PIN or fingerprint at registration;
// allow_totp admits an app, which may be the only factor only where the
// level asks for no phishing-resistant key. People in no such group get
// enroll.DefaultKeyPolicy.
func enrollPolicy(cfg Config) enroll.Policy {
	p := enroll.Policy{Groups: map[string]enroll.KeyPolicy{}, Default: enroll.DefaultKeyPolicy()}
	for name, g := range cfg.Policy.Groups {
		keyOnly := g.Level == "phr" || g.Level == "phrh"
		kp := enroll.KeyPolicy{
			RefuseSynced:      g.Level == "phrh",
			RequireUV:         g.UserVerification,
			AllowTOTP:         g.AllowTOTP,
			TOTPAlone:         g.AllowTOTP && !keyOnly,
			SignInLevel:       authn.Level(g.Level), // an app is not offered at phr or phrh
			RefuseCompromised: g.RefuseCompromisedModels,
		}
		if kp.RefuseSynced {
			kp.NeedDE, kp.NeedEN = "einen Hardware-Sicherheitsschlüssel (kein synchronisierter Passkey)",
				"a hardware security key (not a synced passkey)"
		}
		if g.Attestation == enroll.RootSetYubico {
			kp.TrustedRoots, kp.RefuseSynced = enroll.YubicoRoots(), true
			kp.NeedDE, kp.NeedEN = "einen YubiKey (FIDO-zertifiziert)", "a YubiKey (FIDO certified)"
		}
		for _, id := range g.AAGUIDs {
			if id == aaguidsYubiKey {
				kp.AAGUIDs = append(kp.AAGUIDs, enroll.YubiKeyAAGUIDs()...)
			} else if u, err := uuid.Parse(id); err == nil {
				kp.AAGUIDs = append(kp.AAGUIDs, u)
			}
		}
		p.Groups[name] = kp
	}
	if cfg.Citizens.Enabled { // citizens sign in without a password (wire_citizens.go)
		kp, ok := p.Groups[cfg.Citizens.Group]
		p.Groups[cfg.Citizens.Group] = citizens.KeyPolicy(kp, ok)
	}
	return p
}

// sender returns the organisation named in letter.*.
func (c Config) sender() enroll.Sender {
	l := c.Letter
	return enroll.Sender{Name: l.SenderName, Address: l.SenderAddress, HelpPhone: l.HelpPhone, HelpEmail: l.HelpEmail,
		Service: c.Site.Name}
}

// notices returns the mail texts for the configuration.
func (c Config) notices() (enroll.Notices, error) {
	publicURL, err := c.parsedPublicURL()
	if err != nil {
		return enroll.Notices{}, err
	}
	return enroll.Notices{PublicURL: publicURL, Sender: c.sender(), Location: time.Local}, nil
}

// newMailer returns the SMTP mailer mail.* configures, or an
// enroll.LogMailer when mail.smtp_host is empty. configured tells which.
func newMailer(cfg Config, logger *slog.Logger) (m enroll.Mailer, configured bool, err error) {
	mc := cfg.Mail
	if mc.SMTPHost == "" {
		return enroll.LogMailer{Logger: logger}, false, nil
	}
	var password string
	if mc.PasswordFile != "" {
		if password, err = readSecretFile(mc.PasswordFile); err != nil {
			return nil, false, fmt.Errorf("mail.password_file: %w", err)
		}
	}
	sm, err := enroll.NewSMTPMailer(enroll.SMTPConfig{
		Host: mc.SMTPHost, Port: mc.SMTPPort, Username: mc.Username, Password: password, From: cfg.mailFrom(),
		StartTLS: enroll.StartTLS(mc.StartTLS), Timeout: time.Duration(mc.Timeout),
	})
	if err != nil {
		return nil, false, err
	}
	return sm, true, nil
}
