package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/web"
)

// keysCommand returns "keyhall admin keys": the installation's signing keys
// and a report on the security keys people registered.
func keysCommand() *command {
	return &command{
		name:    "keys",
		summary: "rotate and list the signing keys; report on people's security keys",
		help: "Manages the installation's ES256 signing keys (OIDC ID tokens, logout tokens, audit\n" +
			"checkpoints). They live in the database, sealed under keys.encryption_key. See docs/keys.md.\n" +
			"'keys report' counts, per group, the people holding security keys of a model FIDO's\n" +
			"metadata marks compromised (docs/keys-metadata.md).",
		subs: []*command{keysRotateCommand(), keysListCommand(), keysRotateEncryptionCommand(), keysReportCommand()},
	}
}

func keysRotateCommand() *command {
	return &command{
		name:    "rotate",
		summary: "make a new signing key the active one",
		help: "Makes a new ES256 signing key, sealed under keys.encryption_key, and makes it the\n" +
			"active one at once: every serve process signs with it within a second. The key it\n" +
			"replaces is retired: it signs no more but stays in the JWKS (/oidc/keys) until every\n" +
			"token it signed has expired (the longest ID, access or logout token lifetime of the\n" +
			"configured clients, and a minute), so that tools verify those tokens to the end. Tools\n" +
			"that cached the JWKS fetch it again when they meet the new key's ID. Retired keys stay\n" +
			"in the database: audit checkpoints they signed still verify. Audited (keys.rotate).\n" +
			"Refused if keys.encryption_key is not the one the active key was sealed with.",
		examples: []string{
			"keyhall admin keys rotate --config /etc/keyhall/keyhall.yaml --reason 'yearly rotation'",
		},
		setup: func(fs *flag.FlagSet) action {
			cfgPath := configFlag(fs)
			reason := fs.String("reason", "", "why the key is rotated, for the audit log")
			asJSON := jsonFlag(fs)
			return func(ctx context.Context, a *app, args []string) error {
				if err := wantArgs(args); err != nil {
					return err
				}
				cfg, err := loadConfig(*cfgPath, a.env)
				if err != nil {
					return err
				}
				keys, err := loadKeys(cfg, newLogger(cfg, a.stderr))
				if err != nil {
					return err
				}
				oc, err := oidcConfig(cfg, keys)
				if err != nil {
					return err
				}
				return withConfigStore(ctx, a, cfg, func(st authn.Store) error {
					r, err := rotateSigningKey(ctx, st, keys, *reason, web.RetiredKeyGrace(oc), time.Now().UTC())
					if err != nil {
						return err
					}
					return printRotation(a.stdout, r, *asJSON)
				})
			}
		},
	}
}

// rotationJSON is the stable JSON form of "admin keys rotate".
type rotationJSON struct {
	Active         string    `json:"active"`
	Retired        string    `json:"retired,omitempty"`
	PublishedUntil time.Time `json:"published_until,omitzero"` // the retired key leaves the JWKS
}

// rotateSigningKey makes a new active signing key at now. grace is how long
// the retired one stays published.
func rotateSigningKey(ctx context.Context, st authn.Store, keys Keys, reason string, grace time.Duration, now time.Time) (rotationJSON, error) {
	sq, ok := st.(*sqlstore.Store)
	if !ok {
		return rotationJSON{}, errors.New("the store cannot keep signing keys")
	}
	// A key sealed under other keys would stop every process: the keys
	// must be those serve was started with (read, not set: serve sets it).
	if fp, ok, err := sq.Setting(ctx, "keys_fingerprint"); err != nil {
		return rotationJSON{}, err
	} else if ok && fp != keys.Fingerprint() {
		return rotationJSON{}, fmt.Errorf("the database was set up with other keys (fingerprint %s, this process has %s): "+
			"run keyhall with the installation's keys.file (or keys.* settings)", fp, keys.Fingerprint())
	}
	if active, err := sq.OIDCSigningKey(ctx); err == nil {
		if _, _, err := web.OpenInstallationKey(active, keys.Encryption); err != nil {
			return rotationJSON{}, err
		}
	} else if !errors.Is(err, authn.ErrNotFound) {
		return rotationJSON{}, err
	}
	// The times that decide how long the retired key is published come from
	// the database's clock, not this machine's: an admin host whose clock
	// is behind would else drop the key from the JWKS early.
	at, err := sq.Now(ctx)
	if err != nil {
		return rotationJSON{}, err
	}
	k, err := web.NewSigningKey(keys.Encryption, at)
	if err != nil {
		return rotationJSON{}, err
	}
	ev := auditEvent(now, "keys.rotate", "key:"+k.ID, reason, map[string]string{})
	old, err := sq.RotateOIDCSigningKey(ctx, k, ev)
	if err != nil {
		return rotationJSON{}, err
	}
	r := rotationJSON{Active: k.ID, Retired: old.ID}
	if old.ID != "" {
		r.PublishedUntil = at.Add(grace).Truncate(time.Second)
	}
	return r, nil
}

func printRotation(w io.Writer, r rotationJSON, asJSON bool) error {
	if asJSON {
		return writeJSON(w, r)
	}
	_, err := fmt.Fprintf(w, "New signing key %s is active; every serve process signs with it within a second.\n", r.Active)
	if err == nil && r.Retired != "" {
		_, err = fmt.Fprintf(w, "Retired key %s signs no more and stays in the JWKS until %s.\n",
			r.Retired, r.PublishedUntil.Format(time.RFC3339))
	}
	return err
}

func keysListCommand() *command {
	return &command{
		name:    "list",
		summary: "list the signing keys and their times",
		help: "Lists every signing key, the active one first: its ID (the \"kid\" in the JWKS), when\n" +
			"it was created, when it became active and when it was retired.",
		examples: []string{"keyhall admin keys list", "keyhall admin keys list --json"},
		setup: func(fs *flag.FlagSet) action {
			cfgPath := configFlag(fs)
			asJSON := jsonFlag(fs)
			return func(ctx context.Context, a *app, args []string) error {
				if err := wantArgs(args); err != nil {
					return err
				}
				return withStore(ctx, a, *cfgPath, func(st authn.Store) error {
					ks, ok := st.(authn.OIDCKeyStore)
					if !ok {
						return errors.New("the store cannot keep signing keys")
					}
					all, err := ks.OIDCSigningKeys(ctx)
					if err != nil {
						return err
					}
					return printSigningKeys(a.stdout, all, *asJSON)
				})
			}
		},
	}
}

// signingKeyJSON is the stable JSON form of a key in "admin keys list".
type signingKeyJSON struct {
	ID        string    `json:"id"`
	Algorithm string    `json:"algorithm"`
	Created   time.Time `json:"created"`
	Activated time.Time `json:"activated"`
	Retired   time.Time `json:"retired,omitzero"`
}

func printSigningKeys(w io.Writer, all []authn.OIDCSigningKey, asJSON bool) error {
	if asJSON {
		out := []signingKeyJSON{}
		for _, k := range all {
			out = append(out, signingKeyJSON{ID: k.ID, Algorithm: k.Algorithm, Created: k.CreatedAt,
				Activated: k.ActivatedAt, Retired: k.RetiredAt})
		}
		return writeJSON(w, out)
	}
	for _, k := range all {
		state := "active"
		if !k.RetiredAt.IsZero() {
			state = "retired " + k.RetiredAt.Format(time.RFC3339)
		}
		if _, err := fmt.Fprintf(w, "%s  %s  activated %s  %s\n", k.ID, k.Algorithm,
			k.ActivatedAt.Format(time.RFC3339), state); err != nil {
			return err
		}
	}
	return nil
}

func keysRotateEncryptionCommand() *command {
	return &command{
		name:    "rotate-encryption",
		summary: "re-seal the stored secrets under a new encryption key",
		help: "Re-seals every secret stored under the encryption key (apps' TOTP secrets, enrollments'\n" +
			"waiting secrets, the signing keys) under keys.encryption_key, opening each with that\n" +
			"key or keys.previous_encryption_key, in one transaction: if one does not open, nothing\n" +
			"changes. The database then remembers the new keys, so a process with only the old ones\n" +
			"is refused. Run it after every serve process was restarted with the new key and the\n" +
			"old one as keys.previous_encryption_key: it is refused while a serve process with\n" +
			"other keys was heard of in the last minute. The steps are in docs/keys.md. Audited\n" +
			"(keys.rotate_encryption).",
		examples: []string{
			"keyhall admin keys rotate-encryption --config /etc/keyhall/keyhall.yaml --reason 'yearly rotation'",
		},
		setup: func(fs *flag.FlagSet) action {
			cfgPath := configFlag(fs)
			reason := fs.String("reason", "", "why the key is rotated, for the audit log")
			return func(ctx context.Context, a *app, args []string) error {
				if err := wantArgs(args); err != nil {
					return err
				}
				cfg, err := loadConfig(*cfgPath, a.env)
				if err != nil {
					return err
				}
				keys, err := loadKeys(cfg, newLogger(cfg, a.stderr))
				if err != nil {
					return err
				}
				if keys.PreviousEncryption == ([32]byte{}) {
					return usagef("keys.previous_encryption_key is not set: give the key being replaced (docs/keys.md)")
				}
				return withConfigStore(ctx, a, cfg, func(st authn.Store) error {
					n, err := resealSecrets(ctx, st, keys, *reason, time.Now().UTC())
					if err != nil {
						return err
					}
					_, err = fmt.Fprintf(a.stdout, "Re-sealed %d secrets under the new encryption key.\n"+
						"keys.previous_encryption_key can be removed once forward-auth cookies sealed under it\n"+
						"have expired (session.max_age after the restart; without it, people are sent through\n"+
						"the sign-in page once, still signed in), and every process restarted.\n", n)
					return err
				})
			}
		},
	}
}

// sealAD is the additional data a stored secret of the kind is sealed with.
func sealAD(kind, id string) ([]byte, error) {
	switch kind {
	case authn.SealedCredential:
		return []byte(id), nil
	case authn.SealedSigningKey:
		return web.SigningKeyAD(id), nil
	}
	if ad := enroll.SealAD(kind, id); ad != nil {
		return ad, nil
	}
	return nil, fmt.Errorf("unknown kind of secret %q", kind)
}

// resealSecrets re-seals the stored secrets under keys.Encryption, each
// opened with it or keys.PreviousEncryption, and makes the database
// remember keys (without previous keys) as the installation's.
func resealSecrets(ctx context.Context, st authn.Store, keys Keys, reason string, now time.Time) (int, error) {
	sq, ok := st.(*sqlstore.Store)
	if !ok {
		return 0, errors.New("the store cannot re-seal secrets")
	}
	prev, _ := keys.previous()
	current := Keys{Cookie: keys.Cookie, Encryption: keys.Encryption, OIDC: keys.OIDC}
	reseal := func(kind, id string, sealed []byte) ([]byte, error) {
		ad, err := sealAD(kind, id)
		if err != nil {
			return nil, err
		}
		plain, err := authn.OpenRotated(keys.Encryption, keys.PreviousEncryption, sealed, ad)
		if err != nil {
			return nil, fmt.Errorf("opens neither with keys.encryption_key nor with keys.previous_encryption_key: %w", err)
		}
		return authn.Seal(keys.Encryption, plain, ad)
	}
	// A process still running with the old keys could not open what is
	// re-sealed, and would seal under the old key what no process can open
	// once it is dropped.
	procs, err := sq.ServeProcesses(ctx, heartbeatFresh)
	if err != nil {
		return 0, err
	}
	for _, p := range procs {
		if p.Fingerprint != current.Fingerprint() {
			return 0, &cliError{msg: fmt.Sprintf("rotate-encryption refused, nothing was changed: a serve process runs with other keys "+
				"(fingerprint %s, heard of %v ago; the new keys have %s): restart every serve process with the new encryption_key "+
				"and the old one as previous_encryption_key, then run this again (docs/keys.md)",
				p.Fingerprint, p.Age.Round(time.Second), current.Fingerprint()), err: errors.New("a process runs with other keys")}
		}
	}
	ev := auditEvent(now, "keys.rotate_encryption", "keys", reason, map[string]string{"fingerprint": current.Fingerprint()})
	return sq.ResealSecrets(ctx, reseal, prev.Fingerprint(), current.Fingerprint(), ev)
}
