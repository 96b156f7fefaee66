package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// heartbeatPrefix names the settings rows in which each serve process says
// which keys it runs with: "serve_process:<id>" = "<fingerprint> <unix µs>",
// the time by the database's clock (Now). A row is removed when its process
// stops; a crashed process's row grows old and is left out (ServeProcesses).
const heartbeatPrefix = "serve_process:"

// ServeProcess is a serve process heard of lately (Heartbeat).
type ServeProcess struct {
	ID          string
	Fingerprint string        // of the keys it runs with
	Age         time.Duration // since its last heartbeat, by the database's clock
}

// Now returns the database's time: on PostgreSQL the server's clock, on
// SQLite the clock of this machine, where the file is. Times that several
// machines compare (a key's retirement, heartbeats) are taken from it, so
// that one machine's wrong clock does not count.
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	q := "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)"
	if s.dialect == dialectSQLite {
		q = "SELECT CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)"
	}
	var us int64
	if err := s.wdb.QueryRowContext(ctx, q).Scan(&us); err != nil {
		return time.Time{}, fmt.Errorf("read the database's time: %w", dbErr(err))
	}
	return time.UnixMicro(us).UTC(), nil
}

// Heartbeat records that the serve process id runs with the keys of
// fingerprint fp, now by the database's clock.
func (s *Store) Heartbeat(ctx context.Context, id, fp string) error {
	now, err := s.Now(ctx)
	if err != nil {
		return err
	}
	if err := s.PutSetting(ctx, heartbeatPrefix+id, fp+" "+strconv.FormatInt(now.UnixMicro(), 10)); err != nil {
		return err
	}
	return s.pruneHeartbeats(ctx, now)
}

// heartbeatKeep is how long the row of a process that stopped without
// ending its heartbeat (a crash) stays: long past the minute in which
// it counts.
const heartbeatKeep = 24 * time.Hour

// pruneHeartbeats removes the rows of processes not heard of for
// heartbeatKeep, so that crashed processes' rows do not pile up in the
// settings and in backups.
func (s *Store) pruneHeartbeats(ctx context.Context, now time.Time) error {
	rows, err := s.wdb.QueryContext(ctx, "SELECT name, value FROM settings WHERE name LIKE $1", heartbeatPrefix+"%")
	if err != nil {
		return fmt.Errorf("read heartbeats: %w", dbErr(err))
	}
	var stale []string
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			rows.Close()
			return err
		}
		_, at, _ := strings.Cut(value, " ")
		if us, err := strconv.ParseInt(at, 10, 64); err != nil || now.Sub(time.UnixMicro(us)) > heartbeatKeep {
			stale = append(stale, name)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, name := range stale {
		if _, err := s.execRetry(ctx, "DELETE FROM settings WHERE name = $1", name); err != nil {
			return fmt.Errorf("remove an old heartbeat: %w", err)
		}
	}
	return nil
}

// EndHeartbeat removes the serve process id's heartbeat: it stops.
func (s *Store) EndHeartbeat(ctx context.Context, id string) error {
	if _, err := s.execRetry(ctx, "DELETE FROM settings WHERE name = $1", heartbeatPrefix+id); err != nil {
		return fmt.Errorf("remove heartbeat: %w", err)
	}
	return nil
}

// ServeProcesses returns the serve processes whose last heartbeat is less
// than within old, by the database's clock.
func (s *Store) ServeProcesses(ctx context.Context, within time.Duration) ([]ServeProcess, error) {
	now, err := s.Now(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.wdb.QueryContext(ctx, "SELECT name, value FROM settings WHERE name LIKE $1", heartbeatPrefix+"%")
	if err != nil {
		return nil, fmt.Errorf("read heartbeats: %w", dbErr(err))
	}
	defer rows.Close()
	var all []ServeProcess
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, err
		}
		fp, at, _ := strings.Cut(value, " ")
		us, err := strconv.ParseInt(at, 10, 64)
		if err != nil {
			continue
		}
		if age := now.Sub(time.UnixMicro(us)); age < within {
			all = append(all, ServeProcess{ID: strings.TrimPrefix(name, heartbeatPrefix), Fingerprint: fp, Age: max(age, 0)})
		}
	}
	return all, rows.Err()
}
