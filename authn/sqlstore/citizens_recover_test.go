package sqlstore

import (
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/storetest"
)

func TestRecoveryConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			storetest.RunRecovery(t, func(t *testing.T) authn.Store { return openURL(t, b.url(t)) })
		})
	}
}

// TestRecoveryPendingFromBeforeUpgrade: people disabled or frozen by the
// old version, whose pending recovery was not cancelled then.
func TestRecoveryPendingFromBeforeUpgrade(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			storetest.RecoveryPendingFromBeforeUpgrade(t, func(t *testing.T) authn.Store { return openURL(t, b.url(t)) },
				func(t *testing.T, as authn.Store, userID string, frozen bool) {
					s := as.(*Store)
					q, args := `UPDATE users SET status = $2, disabled_by = $3, disabled_at = $4 WHERE id = $1`,
						[]any{userID, authn.StatusDisabled, authn.DisabledByAdmin, s.tv(time.Now())}
					if frozen {
						q, args = `UPDATE users SET status = $2, frozen_at = $3 WHERE id = $1`, []any{userID, authn.StatusFrozen, s.tv(time.Now())}
					}
					if _, err := s.wdb.ExecContext(t.Context(), q, args...); err != nil {
						t.Fatal(err)
					}
					if s.cache != nil {
						s.cache.dropUser(userID)
					}
				})
		})
	}
}

func TestDirectoryDisableCancelsRecovery(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := openURL(t, b.url(t))
			storetest.DirectoryDisableCancelsRecovery(t, s, func(t *testing.T, as authn.Store, userID, dir string) {
				s := as.(*Store)
				if _, err := s.wdb.ExecContext(t.Context(), `UPDATE users SET directory = $2, external_id = $1 WHERE id = $1`, userID, dir); err != nil {
					t.Fatal(err)
				}
				if s.cache != nil {
					s.cache.dropUser(userID)
				}
			})
		})
	}
}
