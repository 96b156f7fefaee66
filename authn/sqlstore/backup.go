package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"

	"github.com/keyhall/keyhall/authn"
)

// lockSuffix names the lock file beside a SQLite database (lockFile).
const lockSuffix = ".lock"

// backupSetting is the settings row in which a backup records what it is a
// copy of (BackupInfo as JSON).
const backupSetting = "backup"

var (
	// ErrInUse reports that a process has the SQLite database open (or a
	// restore is replacing it).
	ErrInUse = errors.New("the database is in use")
	// ErrNotBackup reports that a file is not a whole Keyhall database: not
	// SQLite, cut short, damaged, or without Keyhall's tables.
	ErrNotBackup = errors.New("not a Keyhall database backup")
)

// BackupInfo is what a backup records about itself (in its settings row
// "backup") and what InspectBackup reads from one.
type BackupInfo struct {
	Created       time.Time `json:"created"`
	SchemaVersion int       `json:"schema_version"`
	// KeysFingerprint is the fingerprint of the keys the database was set
	// up with (settings row keys_fingerprint): the key file that belongs
	// to the backup has it.
	KeysFingerprint string `json:"keys_fingerprint"`
	// AuditSeq and AuditHash are the audit chain's head in the copy.
	AuditSeq  int64  `json:"audit_seq"`
	AuditHash string `json:"audit_hash"` // hex
	// Recorded: the file has the row "backup" (keyhall admin backup made
	// it); a database file copied while Keyhall was stopped has not.
	Recorded bool `json:"-"`
	// Size and SHA256 are of the backup file as written.
	Size   int64  `json:"-"`
	SHA256 string `json:"-"`
}

// Backup writes a consistent copy of the SQLite database to path while
// the store serves (VACUUM INTO on a connection of its own: it reads one
// snapshot and does not hold up writers, which WAL lets go on), records in
// the copy what it is (BackupInfo, settings row "backup"), and puts it in
// place atomically: written to a temporary name in path's directory with
// mode 0600, synced, then renamed (replace) or linked, which fails with
// fs.ErrExist if path exists.
func (s *Store) Backup(ctx context.Context, path string, replace bool) (BackupInfo, error) {
	if s.dialect != dialectSQLite {
		return BackupInfo{}, errors.New("back up: only a SQLite database can be backed up by Keyhall; back up PostgreSQL with pg_dump")
	}
	if err := s.checkBackupTarget(path, replace); err != nil {
		return BackupInfo{}, fmt.Errorf("back up to %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*") // mode 0600, empty: VACUUM INTO fills it
	if err != nil {
		return BackupInfo{}, fmt.Errorf("back up: %w", err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer removeDB(tmpName)
	if err := s.vacuumInto(ctx, tmpName); err != nil {
		return BackupInfo{}, err
	}
	info, err := recordBackup(ctx, tmpName)
	if err != nil {
		return BackupInfo{}, err
	}
	if info.Size, info.SHA256, err = syncAndHash(tmpName); err != nil {
		return BackupInfo{}, fmt.Errorf("back up: %w", err)
	}
	if replace {
		err = os.Rename(tmpName, path)
	} else {
		err = os.Link(tmpName, path)
	}
	if err != nil {
		return BackupInfo{}, fmt.Errorf("back up to %s: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return info, nil
}

// checkBackupTarget refuses a backup to path that would replace the
// database itself or a file beside it that belongs to it (its -wal, -shm,
// -journal or lock file), and, with replace, any file that is not a
// SQLite database already (the key file, the configuration: a slip of the
// shell's history must not turn them into a backup). Without replace, an
// existing path is fs.ErrExist.
func (s *Store) checkBackupTarget(path string, replace bool) error {
	db, err := filepath.Abs(s.location)
	if err != nil {
		return err
	}
	target, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	for _, suffix := range []string{"", "-wal", "-shm", "-journal", lockSuffix} {
		if target == db+suffix {
			return fmt.Errorf("%w: it is the database being backed up or one of its files; write the backup elsewhere", ErrBackupTarget)
		}
	}
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !replace {
		return fs.ErrExist
	}
	if dfi, err := os.Stat(db); err == nil && os.SameFile(fi, dfi) {
		return fmt.Errorf("%w: it is the database being backed up (another name for it); write the backup elsewhere", ErrBackupTarget)
	}
	if !fi.Mode().IsRegular() || !hasSQLiteMagic(path) {
		return fmt.Errorf("%w: it exists and is not a SQLite database (a key file? a configuration?), so --replace does not replace it", ErrBackupTarget)
	}
	return nil
}

// hasSQLiteMagic reports whether the file at path begins as a SQLite
// database does.
func hasSQLiteMagic(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var h [16]byte
	_, err = io.ReadFull(f, h[:])
	return err == nil && string(h[:]) == "SQLite format 3\x00"
}

// BeforeRestoreSuffix names the database a restore replaced, kept beside
// the restored one (keyhall.db.before-restore, with its -wal and -shm) until
// the next restore.
const BeforeRestoreSuffix = ".before-restore"

// ErrBackupTarget: a backup's file would replace something that is not a
// backup.
var ErrBackupTarget = errors.New("not a place for a backup")

// vacuumInto copies the database into the empty file at dst on a
// connection of its own (the reader pool's are query_only, which refuses
// VACUUM INTO; the writer's would hold up every write for the copy).
func (s *Store) vacuumInto(ctx context.Context, dst string) error {
	c, err := sqlite.NewConnector(s.uri + sqliteCommonParams)
	if err != nil {
		return fmt.Errorf("back up %s: %w", s.location, err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO $1", dst); err != nil {
		return fmt.Errorf("back up %s: copy: %w", s.location, err)
	}
	return nil
}

// recordBackup reads what the fresh copy at path is (schema version, key
// fingerprint, audit head), stores it in the copy's settings row "backup",
// and leaves the copy as one file (journal_mode DELETE).
func recordBackup(ctx context.Context, path string) (BackupInfo, error) {
	db, err := openFile(path, "rw")
	if err != nil {
		return BackupInfo{}, fmt.Errorf("back up: open the copy: %w", err)
	}
	defer db.Close()
	info, err := readInfo(ctx, db)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("back up: read the copy: %w", err)
	}
	info.Created = time.Now().UTC().Truncate(time.Second)
	b, _ := json.Marshal(info)
	if _, err := db.ExecContext(ctx, "PRAGMA journal_mode=DELETE"); err != nil {
		return BackupInfo{}, fmt.Errorf("back up: %w", err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO settings (name, value) VALUES ($1, $2) "+
		"ON CONFLICT (name) DO UPDATE SET value = excluded.value", backupSetting, string(b)); err != nil {
		return BackupInfo{}, fmt.Errorf("back up: record the backup in the copy: %w", err)
	}
	info.Recorded = true
	return info, nil
}

// openFile opens the SQLite file at path for one connection, in mode "rw"
// or "ro" (ro adds immutable: the file is read as it is, without locks or
// a WAL).
func openFile(path, mode string) (*sql.DB, error) {
	uri := "file:" + strings.ReplaceAll(path, "%", "%25") + "?mode=" + mode
	if mode == "ro" {
		uri += "&immutable=1"
	}
	c, err := sqlite.NewConnector(uri + "&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(1)
	return db, nil
}

// readInfo reads a Keyhall database's schema version, key fingerprint,
// audit head and, if it has one, its backup record.
func readInfo(ctx context.Context, db *sql.DB) (BackupInfo, error) {
	var info BackupInfo
	var recorded sql.NullString
	var version sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_version").Scan(&version); err != nil {
		return info, fmt.Errorf("%w: it has no schema version (%v)", ErrNotBackup, err)
	}
	info.SchemaVersion = int(version.Int64)
	err := db.QueryRowContext(ctx, "SELECT value FROM settings WHERE name = 'keys_fingerprint'").Scan(&info.KeysFingerprint)
	if err != nil {
		return info, fmt.Errorf("%w: it has no key fingerprint (was Keyhall ever started on it?): %v", ErrNotBackup, err)
	}
	var hash [32]byte
	if err := db.QueryRowContext(ctx, sqlReadAuditHead).Scan(&info.AuditSeq, hashCol{&hash}); err != nil {
		return info, fmt.Errorf("%w: it has no audit log head: %v", ErrNotBackup, err)
	}
	info.AuditHash = hex.EncodeToString(hash[:])
	err = db.QueryRowContext(ctx, "SELECT value FROM settings WHERE name = $1", backupSetting).Scan(&recorded)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return info, fmt.Errorf("read backup record: %w", err)
	}
	if recorded.Valid {
		var r BackupInfo
		if err := json.Unmarshal([]byte(recorded.String), &r); err != nil {
			return info, fmt.Errorf("%w: its backup record is not JSON: %v", ErrNotBackup, err)
		}
		info.Created, info.Recorded = r.Created, true
		// The head the backup recorded when it was made: events removed
		// or changed since (and the head moved to hide it) show here.
		if r.AuditSeq != info.AuditSeq || r.AuditHash != info.AuditHash {
			return info, fmt.Errorf("%w: its audit log was changed after the backup was made: it recorded event %d (hash %s) as the last, "+
				"the file now ends at event %d (hash %s)", ErrNotBackup, r.AuditSeq, r.AuditHash, info.AuditSeq, info.AuditHash)
		}
	}
	return info, nil
}

// InspectBackup checks that the file at path is a whole Keyhall SQLite
// database of a schema version this binary can migrate, and returns what
// it records. It reads the file without changing it. A file that is not
// SQLite, is shorter than its header says, fails SQLite's quick_check or
// lacks Keyhall's tables is an error wrapping ErrNotBackup; a newer schema
// wraps authn.ErrSchemaTooNew.
func InspectBackup(ctx context.Context, path string) (BackupInfo, error) {
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		// Read alone, the file lacks what its WAL holds: a copy of a live
		// database, or of one whose Keyhall was killed.
		return BackupInfo{}, fmt.Errorf("%s: %w: a -wal file lies beside it, so the file alone is not the whole database; "+
			"make a backup with keyhall admin backup, or start and stop Keyhall on a copy of both files to fold the -wal in", path, ErrNotBackup)
	}
	if err := checkHeader(path); err != nil {
		return BackupInfo{}, fmt.Errorf("%s: %w", path, err)
	}
	db, err := openFile(path, "ro")
	if err != nil {
		return BackupInfo{}, fmt.Errorf("%s: %w", path, err)
	}
	defer db.Close()
	var problems []string
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err == nil {
		for rows.Next() {
			var line string
			if err = rows.Scan(&line); err != nil {
				break
			}
			problems = append(problems, line)
		}
		if err == nil {
			err = rows.Err()
		}
		rows.Close()
	}
	if err != nil {
		return BackupInfo{}, fmt.Errorf("%s: %w: SQLite cannot read it: %v", path, ErrNotBackup, err)
	}
	if len(problems) != 1 || problems[0] != "ok" {
		if len(problems) > 3 {
			problems = append(problems[:3], "…")
		}
		return BackupInfo{}, fmt.Errorf("%s: %w: it is damaged: %s", path, ErrNotBackup, strings.Join(problems, "; "))
	}
	info, err := readInfo(ctx, db)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("%s: %w", path, err)
	}
	ms, err := migrations(dialectSQLite)
	if err != nil {
		return BackupInfo{}, err
	}
	if info.SchemaVersion > len(ms) {
		return BackupInfo{}, fmt.Errorf("%s: %w: the backup has schema version %d, this binary knows up to %d: restore it with the Keyhall version that made it, or a newer one",
			path, authn.ErrSchemaTooNew, info.SchemaVersion, len(ms))
	}
	if info.Size, info.SHA256, err = hashFile(path); err != nil {
		return BackupInfo{}, err
	}
	return info, nil
}

// checkHeader reads the SQLite header (https://sqlite.org/fileformat.html
// §1.3): the magic string, the page size and the page count, which a file
// cut short does not reach.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: not a regular file", ErrNotBackup)
	}
	var h [100]byte
	if _, err := io.ReadFull(f, h[:]); err != nil || string(h[:16]) != "SQLite format 3\x00" {
		return fmt.Errorf("%w: not a SQLite database (%d bytes, no SQLite header)", ErrNotBackup, fi.Size())
	}
	pageSize := int64(binary.BigEndian.Uint16(h[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	pages := int64(binary.BigEndian.Uint32(h[28:32]))
	// The page count is valid when the change counter matches the
	// "version-valid-for" number (every SQLite since 3.7.0 writes both).
	if binary.BigEndian.Uint32(h[24:28]) == binary.BigEndian.Uint32(h[92:96]) && pages*pageSize != fi.Size() {
		return fmt.Errorf("%w: the file has %d bytes, its header says %d (%d pages of %d): it was cut short or added to",
			ErrNotBackup, fi.Size(), pages*pageSize, pages, pageSize)
	}
	return nil
}

// Restore puts a copy of the backup at backupPath in place of the SQLite
// database that url names. It takes the exclusive lock beside the target
// (ErrInUse while any process has it open), copies the backup to a
// temporary file beside it, opens the copy as a Store (which migrates an
// older schema) and runs check on it (the caller verifies the audit chain
// and appends its event there), then moves the database there aside with
// its -wal and -shm files, as target+BeforeRestoreSuffix, and renames the
// copy into place. If anything
// fails before the moves, the target is untouched.
// Call InspectBackup first.
func Restore(ctx context.Context, backupPath, url string, opts Options, check func(context.Context, *Store) error) error {
	target, ok := strings.CutPrefix(url, "sqlite://")
	if !ok || target == "" {
		return errors.New("restore: only a SQLite database (storage: sqlite:///path/keyhall.db) can be restored by Keyhall; restore PostgreSQL with pg_restore")
	}
	lock, err := lockFile(target, true)
	if err != nil {
		return fmt.Errorf("restore into %s: %w", target, err)
	}
	if lock != nil {
		defer lock.Close()
	}
	tmp, err := copyToTemp(backupPath, target)
	if err != nil {
		return fmt.Errorf("restore into %s: %w", target, err)
	}
	defer removeDB(tmp)
	opts.Unlocked, opts.Installed, opts.Existing = true, true, false
	st, err := Open(ctx, "sqlite://"+tmp, opts)
	if err != nil {
		return fmt.Errorf("restore: open the copy: %w", err)
	}
	err = check(ctx, st)
	if cerr := st.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("restore: close the copy: %w", cerr)
	}
	if err != nil {
		return err
	}
	if _, err := os.Lstat(tmp + "-wal"); err == nil {
		return fmt.Errorf("restore: the copy %s kept a -wal file after closing; nothing was replaced", tmp)
	}
	// The database there, with its -wal (which may hold its newest
	// writes) and -shm, moves aside whole, so that a crash before the
	// rename below loses nothing and a restore can be undone.
	aside := target + BeforeRestoreSuffix
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		if err := os.Remove(aside + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restore: remove the database an earlier restore replaced, %s: %w", aside+suffix, err)
		}
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal", ""} { // the database file last
		if err := os.Rename(target+suffix, aside+suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restore: move the old database's %s aside: %w", target+suffix, err)
		}
	}
	if err := os.Rename(tmp, target); err != nil {
		return fmt.Errorf("restore: put the copy in place: %w", err)
	}
	syncDir(filepath.Dir(target))
	return nil
}

// copyToTemp copies the file at src to a new file (mode 0600) beside
// target and syncs it.
func copyToTemp(src, target string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".restore-*")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		removeDB(out.Name())
		return "", err
	}
	return out.Name(), nil
}

// removeDB removes a SQLite file with its -wal and -shm files, if there
// (a temporary file that was renamed away is no longer there).
func removeDB(path string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(path + suffix)
	}
}

// syncAndHash syncs the file at path and returns its size and SHA-256.
func syncAndHash(path string) (int64, string, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return 0, "", err
	}
	return hashReader(f)
}

func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	return hashReader(f)
}

func hashReader(r io.Reader) (int64, string, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// syncDir makes new names in dir durable; not every system can sync a
// directory, so it reports nothing.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
