package desk_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/enroll/desk"
)

// TestReadNeedsRole: every read of the desk refuses an actor without a
// role, in words for the desk; an unknown person is not found.
func TestReadNeedsRole(t *testing.T) {
	st, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "k.db"),
		sqlstore.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d := newDesk(t, st)
	ctx := t.Context()
	nobody := desk.Actor{Audit: "user:x", UserID: "x", Via: "console"}
	reads := map[string]func(desk.Actor) error{
		"Search":   func(a desk.Actor) error { _, err := d.Search(ctx, a, "muller", ""); return err },
		"Person":   func(a desk.Actor) error { _, err := d.Person(ctx, a, "nope"); return err },
		"Overview": func(a desk.Actor) error { _, err := d.Overview(ctx, a); return err },
		"AuditLog": func(a desk.Actor) error {
			_, err := d.AuditLog(ctx, a, authn.AuditQuery{Subject: "user:x"})
			return err
		},
	}
	for name, read := range reads {
		err := read(nobody)
		var de *desk.Error
		if !errors.Is(err, desk.ErrForbidden) || !errors.As(err, &de) || de.De == "" {
			t.Errorf("%s without a role: %v, want a refusal in words", name, err)
		}
		err = read(helpdesk)
		if name == "Person" {
			if !errors.Is(err, authn.ErrNotFound) || !errors.As(err, &de) {
				t.Errorf("Person(nope): %v, want not found in words", err)
			}
		} else if err != nil {
			t.Errorf("%s as helpdesk: %v", name, err)
		}
	}
	// The whole log is an administrator's; the helpdesk reads one
	// person's (second review of #14).
	if _, err := d.AuditLog(ctx, helpdesk, authn.AuditQuery{Action: "user"}); !errors.Is(err, desk.ErrForbidden) {
		t.Errorf("the whole log as helpdesk: %v, want a refusal", err)
	}
}
