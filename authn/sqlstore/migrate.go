package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/keyhall/keyhall/authn"
)

//go:embed migrations
var migrationFS embed.FS

// Advisory lock keys (PostgreSQL), arbitrary but fixed: every Keyhall
// process on one database must use the same ones.
const (
	lockMigrate   int64 = 0x6b68_0001 // "kh" 1
	lockBootstrap int64 = 0x6b68_0002 // "kh" 2
)

// migration is one numbered SQL file.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the dialect's migrations, in order of version. The
// file names start with the version: 0001_init.sql.
func migrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s: name must be NNNN_what.sql", e.Name())
		}
		b, err := migrationFS.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if v != len(out)+1 {
			return nil, fmt.Errorf("migration %s: want version %d", e.Name(), len(out)+1)
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	return out, nil
}

// migrate brings the schema to the newest version this binary knows, in one
// transaction. On PostgreSQL an advisory lock makes processes that start at
// once take turns; on SQLite the writer's BEGIN IMMEDIATE does.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations(s.dialect)
	if err != nil {
		return err
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.dialect == dialectPostgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", lockMigrate); err != nil {
			return fmt.Errorf("lock schema: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	current, err := schemaVersion(ctx, tx)
	if err != nil {
		return err
	}
	if current > len(ms) {
		return fmt.Errorf("%w: the database has schema version %d, this binary knows up to %d (upgrade Keyhall)",
			authn.ErrSchemaTooNew, current, len(ms))
	}
	if s.existing && current < len(ms) {
		return fmt.Errorf("the database has schema version %d, this binary's is %d: start keyhall serve with this binary first, which upgrades it", current, len(ms))
	}
	if current == 0 && s.installed && s.dialect == dialectSQLite {
		// A SQLite file with no schema beside a key file that existed
		// before (a file emptied by a tool, or a fresh one put in its
		// place) is not a new installation: setting it up would make a new
		// administrator and a bootstrap link.
		return fmt.Errorf("%w: %s has no Keyhall schema although the key file existed before this start; restore the database from the backup, or move the key file away to set up a new installation", ErrNoDatabase, s.location)
	}
	if current == 0 && s.installed {
		// PostgreSQL: the administrator makes the database, and the
		// processes of a new installation may all start with the key file
		// copied to them beforehand; an empty one is set up, but said.
		s.log.Warn("the database is empty although the key file existed before this start: setting it up as a new installation; "+
			"if this installation had people, stop Keyhall and restore the database from the backup", "database", s.location)
	}
	for _, m := range ms[current:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("apply %s: %w", m.name, err)
		}
	}
	if current < len(ms) {
		if _, err := tx.ExecContext(ctx, "DELETE FROM schema_version"); err != nil {
			return fmt.Errorf("update schema_version: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_version (version) VALUES ($1)", len(ms)); err != nil {
			return fmt.Errorf("update schema_version: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migrations: %w", err)
	}
	for _, m := range ms[current:] {
		s.log.Info("applied database migration", "migration", m.name, "dialect", s.dialect)
	}
	return nil
}

// schemaVersion reads the version in schema_version; 0 on a new database.
func schemaVersion(ctx context.Context, tx *sql.Tx) (int, error) {
	var v sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema_version: %w", err)
	}
	return int(v.Int64), nil
}
