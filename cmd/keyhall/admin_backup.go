package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
)

// postgresBackupHint is what backup and restore say on PostgreSQL.
const postgresBackupHint = "Keyhall does not dump PostgreSQL itself: back it up with pg_dump -Fc and keep the key file " +
	"(keys.file) with the dump, restore with pg_restore, then run keyhall admin audit verify; docs/backup.md says how"

func backupCommand() *command {
	return &command{
		name:    "backup",
		summary: "copy the SQLite database to a file while Keyhall runs",
		help: "Writes a consistent copy of the SQLite database to FILE while keyhall serve goes on\n" +
			"(SQLite's VACUUM INTO: one snapshot, sign-ins are not held up). The copy is written\n" +
			"under a temporary name, synced and renamed, with mode 0600; an existing FILE is only\n" +
			"replaced with --replace. The copy records the fingerprint of the keys and the audit\n" +
			"chain's head; the event backup.create in the audit log records them with the file's\n" +
			"SHA-256. Keep the key file (keys.file) with the backup, apart from it: without it the\n" +
			"TOTP secrets and the OIDC signing key in the backup cannot be read.\n\n" +
			"On PostgreSQL it explains how to use pg_dump instead (docs/backup.md).",
		examples: []string{
			"keyhall admin backup --config /etc/keyhall/keyhall.yaml /var/backups/keyhall-$(date +%F).db",
		},
		setup: func(fs *flag.FlagSet) action {
			cfgPath := configFlag(fs)
			replace := fs.Bool("replace", false, "replace FILE if it exists")
			return func(ctx context.Context, a *app, args []string) error {
				if err := wantArgs(args, "FILE"); err != nil {
					return err
				}
				cfg, err := loadConfig(*cfgPath, a.env)
				if err != nil {
					return err
				}
				if !strings.HasPrefix(cfg.Storage, "sqlite://") {
					return &cliError{msg: "storage is PostgreSQL. " + postgresBackupHint, err: errors.New("backup of postgres")}
				}
				return withConfigStore(ctx, a, cfg, func(st authn.Store) error {
					return runBackup(ctx, a, st.(*sqlstore.Store), args[0], *replace)
				})
			}
		},
	}
}

func runBackup(ctx context.Context, a *app, st *sqlstore.Store, file string, replace bool) error {
	start := time.Now()
	info, err := st.Backup(ctx, file, replace)
	if errors.Is(err, fs.ErrExist) {
		return &cliError{msg: fmt.Sprintf("%s exists; give another name, or --replace to replace it", file), err: err}
	}
	if err != nil {
		return err
	}
	ev := auditEvent(time.Now(), "backup.create", "", "", map[string]string{
		"file": absPath(file), "sha256": info.SHA256, "size": strconv.FormatInt(info.Size, 10),
		"audit_seq": strconv.FormatInt(info.AuditSeq, 10), "audit_hash": info.AuditHash,
		"keys_fingerprint": info.KeysFingerprint, "schema_version": strconv.Itoa(info.SchemaVersion),
	})
	if err := st.AppendAudit(ctx, ev); err != nil {
		return fmt.Errorf("the backup %s was written, but its audit event was not: %w", file, err)
	}
	_, err = fmt.Fprintf(a.stdout, "backup written to %s in %v: %d bytes, SHA-256 %s\n"+
		"audit events up to %d (hash %s), schema version %d, keys fingerprint %s\n"+
		"Keep the key file (keys.file) with this backup: without it its TOTP secrets and signing key cannot be read.\n",
		file, time.Since(start).Round(time.Millisecond), info.Size, info.SHA256, info.AuditSeq, info.AuditHash,
		info.SchemaVersion, info.KeysFingerprint)
	return err
}

func restoreCommand() *command {
	return &command{
		name:    "restore",
		summary: "put a backup in place of the SQLite database",
		help: "Restores a backup made by keyhall admin backup (or a copy of the database file taken\n" +
			"while Keyhall was stopped) as the SQLite database the configuration names, or\n" +
			"--storage URL. Stop every Keyhall process on that database first: restore refuses\n" +
			"while one has it open (a lock file beside it, <db>.lock, which a crashed process no\n" +
			"longer holds). It checks that FILE is a whole Keyhall database of a schema version\n" +
			"this binary can migrate, that the key file (keys.file, or the keys.* settings) is\n" +
			"the one the backup was made with, and that the backup's audit chain verifies; it\n" +
			"appends the event backup.restore, and only then puts the copy in place atomically.\n" +
			"If any check fails, the database there is left as it was.\n\n" +
			"On PostgreSQL it explains how to use pg_restore instead (docs/backup.md).",
		examples: []string{
			"keyhall admin restore --config /etc/keyhall/keyhall.yaml /var/backups/keyhall-2026-12-07.db",
			"keyhall admin restore --config /etc/keyhall/keyhall.yaml --storage sqlite:///srv/keyhall-test/keyhall.db keyhall.db.bak",
		},
		setup: func(fs *flag.FlagSet) action {
			cfgPath := configFlag(fs)
			storage := fs.String("storage", "", "restore into this database `URL` (sqlite:///path/keyhall.db) instead of the configuration's storage")
			return func(ctx context.Context, a *app, args []string) error {
				if err := wantArgs(args, "FILE"); err != nil {
					return err
				}
				cfg, err := loadConfig(*cfgPath, a.env)
				if err != nil {
					return err
				}
				if *storage != "" {
					cfg.Storage = *storage
				}
				if !strings.HasPrefix(cfg.Storage, "sqlite://") {
					return &cliError{msg: "storage is not a SQLite file. " + postgresBackupHint, err: errors.New("restore of postgres")}
				}
				return runRestore(ctx, a, cfg, args[0], *storage != "")
			}
		},
	}
}

func runRestore(ctx context.Context, a *app, cfg Config, file string, newPlace bool) error {
	target := absPath(strings.TrimPrefix(cfg.Storage, "sqlite://"))
	if _, err := os.Stat(target); errors.Is(err, fs.ErrNotExist) && !newPlace {
		// A relative storage path is relative to the working directory:
		// run from elsewhere than serve, restore would make a database
		// nobody serves, and call it done.
		return &cliError{msg: fmt.Sprintf("restore refused, nothing was changed: the database the configuration names, %s, does not exist. "+
			"Is this the configuration serve uses, and the directory it runs in (a relative storage path is relative to it)? "+
			"To restore into a new place, name it: --storage sqlite://%s", target, target), err: err}
	}
	info, err := sqlstore.InspectBackup(ctx, file)
	if err != nil {
		return &cliError{msg: fmt.Sprintf("restore refused, nothing was changed: %v", err), err: err}
	}
	got, _, err := readKeys(cfg) // never makes a key file: the backup's is needed
	if errors.Is(err, errNoKeyFile) {
		return &cliError{msg: fmt.Sprintf("restore refused, nothing was changed: the key file %s does not exist; "+
			"put the key file that belongs to the backup there (keys fingerprint %s)", cfg.Keys.File, info.KeysFingerprint), err: err}
	}
	if err != nil {
		return err
	}
	var keys Keys
	keys.Cookie = got["cookie_key"]
	copy(keys.Encryption[:], got["encryption_key"])
	copy(keys.OIDC[:], got["oidc_key"])
	if mine := keys.Fingerprint(); mine != info.KeysFingerprint {
		return &cliError{msg: fmt.Sprintf("restore refused, nothing was changed: the backup was made with the keys of fingerprint %s, "+
			"but the key file %s (and keys.* settings) has %s: put the key file that belongs to the backup in place, "+
			"without it the backup's TOTP secrets and signing key cannot be read", info.KeysFingerprint, cfg.Keys.File, mine),
			err: errors.New("keys fingerprint differs")}
	}
	prev, err := readPreviousKeys(cfg)
	if err != nil {
		return err
	}
	copy(keys.PreviousEncryption[:], prev["previous_encryption_key"])
	if cfg.Log.Level == "info" {
		cfg.Log.Level = "warn"
	}
	var n int64
	err = sqlstore.Restore(ctx, file, cfg.Storage, sqlstore.Options{Logger: newLogger(cfg, a.stderr)},
		func(ctx context.Context, st *sqlstore.Store) error {
			if err := secretsOpen(ctx, st, keys); err != nil {
				return err
			}
			var redacted int
			seq, last, _, err := verifyAuditTo(ctx, st, false, 0, func(*authn.ChainBreak) {}, &redacted)
			if err != nil {
				return &cliError{msg: fmt.Sprintf("restore refused, nothing was changed: the backup's audit chain does not verify "+
					"after %d intact events: %v", seq, err), err: err}
			}
			if info.Recorded && (seq != info.AuditSeq || fmt.Sprintf("%x", last) != info.AuditHash) {
				return &cliError{msg: fmt.Sprintf("restore refused, nothing was changed: the backup's audit chain ends at event %d (hash %x), "+
					"but the backup recorded its head as %d (hash %s)", seq, last, info.AuditSeq, info.AuditHash),
					err: errors.New("audit head differs")}
			}
			ev := auditEvent(time.Now(), "backup.restore", "", "", map[string]string{
				"file": absPath(file), "sha256": info.SHA256, "audit_seq": strconv.FormatInt(seq, 10),
				"audit_hash": fmt.Sprintf("%x", last), "keys_fingerprint": info.KeysFingerprint,
				"backup_created": rfc3339(info.Created),
			})
			if err := st.AppendAudit(ctx, ev); err != nil {
				return fmt.Errorf("restore: audit: %w", err)
			}
			if err := st.CheckAuditHead(ctx); err != nil {
				return err
			}
			n = seq + 1
			return nil
		})
	if errors.Is(err, sqlstore.ErrInUse) {
		return &cliError{msg: fmt.Sprintf("restore refused, nothing was changed: %v; a Keyhall process (serve, or an admin command) "+
			"has the database open: stop it, then restore", err), err: err}
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.stdout, "restored %s as %s: schema version %d, %d audit events, chain intact (the last is backup.restore)\n",
		absPath(file), target, info.SchemaVersion, n)
	if err == nil {
		if _, serr := os.Stat(target + sqlstore.BeforeRestoreSuffix); serr == nil {
			_, err = fmt.Fprintf(a.stdout, "the database it replaced is kept as %s (with its -wal file, if any) until the next restore; remove it when all is well\n",
				target+sqlstore.BeforeRestoreSuffix)
		}
	}
	return err
}

// secretsOpen checks that every secret of the restored copy sealed under
// the encryption key (TOTP secrets, enrollments' waiting secrets, the
// signing keys) opens with keys.encryption_key or
// keys.previous_encryption_key. A backup made during a rotation of the
// encryption key, after the restart with the new key and before
// rotate-encryption, has the new keys' fingerprint but secrets sealed under
// the old key: restored with a key file that no longer holds it, nothing
// would open.
func secretsOpen(ctx context.Context, st *sqlstore.Store, keys Keys) error {
	n := 0
	err := st.SealedSecrets(ctx, func(kind, table, key, id string, sealed []byte) error {
		ad, err := sealAD(kind, id)
		if err == nil {
			_, err = authn.OpenRotated(keys.Encryption, keys.PreviousEncryption, sealed, ad)
		}
		if err == nil {
			n++
			return nil
		}
		given := "keys.encryption_key"
		if keys.PreviousEncryption != ([32]byte{}) {
			given += " nor with keys.previous_encryption_key"
		}
		return &cliError{msg: fmt.Sprintf("restore refused, nothing was changed: the backup's secrets are sealed under an encryption key "+
			"the key file does not hold (%s %s in %s opens neither with %s; %d opened before it). The backup was made during a "+
			"rotation of the encryption key, before keyhall admin keys rotate-encryption: add the encryption key that was replaced "+
			"then, kept with the backups made before it, to the key file as previous_encryption_key: (or keys.previous_encryption_key), "+
			"restore again, and run rotate-encryption (docs/backup.md)", kind, key, table, given, n),
			err: fmt.Errorf("%s %s: %w", table, key, err)}
	})
	return err
}

// absPath returns path made absolute, or path if that fails.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// rfc3339 is t in RFC 3339, UTC, or "" for the zero time (a detail left out).
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
