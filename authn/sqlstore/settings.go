package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// EnsureSetting stores value under name unless a value is stored there
// already, in one statement that every process may race for, and returns
// the value stored: the first one wins.
func (s *Store) EnsureSetting(ctx context.Context, name, value string) (string, error) {
	if _, err := s.execRetry(ctx, "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", name, value); err != nil {
		return "", fmt.Errorf("store setting %s: %w", name, err)
	}
	var stored string
	if err := s.wdb.QueryRowContext(ctx, "SELECT value FROM settings WHERE name = $1", name).Scan(&stored); err != nil {
		return "", fmt.Errorf("read setting %s: %w", name, dbErr(err))
	}
	return stored, nil
}

// Setting returns the value stored under name; ok is false when there is
// none.
func (s *Store) Setting(ctx context.Context, name string) (value string, ok bool, err error) {
	err = s.wdb.QueryRowContext(ctx, "SELECT value FROM settings WHERE name = $1", name).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read setting %s: %w", name, dbErr(err))
	}
	return value, true, nil
}

// PutSetting stores value under name, replacing what was there.
func (s *Store) PutSetting(ctx context.Context, name, value string) error {
	if _, err := s.execRetry(ctx, "INSERT INTO settings (name, value) VALUES ($1, $2) "+
		"ON CONFLICT (name) DO UPDATE SET value = excluded.value", name, value); err != nil {
		return fmt.Errorf("store setting %s: %w", name, err)
	}
	return nil
}

// SwapSetting replaces the value under name with value if it is old, in one
// statement; it reports whether it did.
func (s *Store) SwapSetting(ctx context.Context, name, old, value string) (bool, error) {
	n, err := s.execRetry(ctx, "UPDATE settings SET value = $3 WHERE name = $1 AND value = $2", name, old, value)
	if err != nil {
		return false, fmt.Errorf("store setting %s: %w", name, err)
	}
	return n == 1, nil
}
