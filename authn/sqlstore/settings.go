package sqlstore

import (
	"context"
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
