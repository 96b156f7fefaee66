package sqlstore

import (
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestMigrationKeysNotAttested: keys stored before migration 0008 kept
// neither their attestation statement nor its chain, so nothing shows that
// a trusted root vouched for them: after the upgrade they are not attested
// (they sign in at phr, not phrh), and every other column is kept.
func TestMigrationKeysNotAttested(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			ctx := t.Context()
			db := openAtVersion(t, b.name, url, 7) // a key stored as version 7 did
			u := authn.User{ID: authn.NewID(), Username: "rita", Status: authn.StatusActive, Source: authn.SourceLocal}
			var created any = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
			if b.name == dialectSQLite {
				created = created.(time.Time).UnixMicro()
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO users (id, external_id, username, display_name, email, status, source,
				search_text, created_at, updated_at) VALUES ($1, '', 'rita', 'Rita', '', 'active', 'local', 'rita', $2, $2)`,
				u.ID, created); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO credentials (id, user_id, kind, nickname, created_at,
				webauthn_id, public_key, sign_count, aaguid, transports, backup_eligible, attestation_fmt)
				VALUES ('k1', $1, 'webauthn', 'YubiKey', $2, $3, $4, 7, $5, 'usb nfc', $6, 'packed')`,
				u.ID, created, []byte("credential-id"), []byte("cose key"), make([]byte, 16), false); err != nil {
				t.Fatal(err)
			}
			db.Close()

			s := openURL(t, url) // applies 0008 and after
			creds, err := s.ListCredentials(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(creds) != 1 {
				t.Fatalf("%d credentials after the upgrade, want 1", len(creds))
			}
			c := creds[0]
			if c.Attested || c.AttestationChain != nil {
				t.Errorf("old key after the upgrade: attested %t, chain %x; want not attested, no chain", c.Attested, c.AttestationChain)
			}
			if c.SignCount != 7 || c.AttestationFmt != "packed" || c.BackupEligible || string(c.WebAuthnID) != "credential-id" {
				t.Errorf("old key after the upgrade: %+v", c)
			}
		})
	}
}

// TestMigrationSessionsNotHardware: sessions and OIDC tokens signed in
// before schema 8 with a key that is no longer a hardware key (none is
// attested, see 0008) lose hwk and phrh with it (0011): a forward-auth rule
// or a tool asking for phrh does not let them in on the old sign-in.
func TestMigrationSessionsNotHardware(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			ctx := t.Context()
			db := openAtVersion(t, b.name, url, 10)
			now := time.Now().UTC().Truncate(time.Second)
			var at, until any = now, now.Add(time.Hour)
			if b.name == dialectSQLite {
				at, until = now.UnixMicro(), now.Add(time.Hour).UnixMicro()
			}
			exec := func(q string, args ...any) {
				t.Helper()
				if _, err := db.ExecContext(ctx, q, args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			exec(`INSERT INTO users (id, external_id, username, display_name, email, status, source,
				search_text, created_at, updated_at) VALUES ('u1', '', 'rita', 'Rita', '', 'active', 'local', 'rita', $1, $1)`, at)
			sessions := map[string]authn.SessionHash{}
			for i, amr := range []string{"hwk user mfa", "hwk pwd mfa", "otp pwd mfa"} {
				acr := "phrh"
				if strings.HasPrefix(amr, "otp") {
					acr = "mfa"
				}
				h := authn.HashSessionID([]byte{byte(i)})
				sessions[amr] = h
				exec(`INSERT INTO sessions (hash, user_id, amr, acr, auth_time, created_at, last_seen_at, expires_at, client_addr, user_agent)
					VALUES ($1, 'u1', $2, $3, $4, $4, $4, $5, '', '')`, h[:], amr, acr, at, until)
			}
			exec(`INSERT INTO oidc_tokens (id, kind, grant_id, client_id, user_id, session_hash, scopes, amr, acr, auth_time,
				created_at, expires_at) VALUES ('t1', 'refresh', 'g1', 'wiki', 'u1', $1, 'openid', 'hwk user mfa', 'phrh', $2, $2, $3)`,
				[]byte("session"), at, until)
			db.Close()

			s := openURL(t, url) // applies 0011 and after
			for amr, want := range map[string]struct{ amr, acr string }{
				"hwk user mfa": {"pop user mfa", "phr"}, "hwk pwd mfa": {"pop pwd mfa", "phr"}, "otp pwd mfa": {"otp pwd mfa", "mfa"}} {
				got, err := s.GetSession(ctx, sessions[amr])
				if err != nil {
					t.Fatal(err)
				}
				if strings.Join(got.AMR, " ") != want.amr || got.ACR != want.acr {
					t.Errorf("session %q after the upgrade: amr %v acr %q, want %q %q", amr, got.AMR, got.ACR, want.amr, want.acr)
				}
			}
			var amr, acr string
			if err := s.DB().QueryRowContext(ctx, "SELECT amr, acr FROM oidc_tokens WHERE id = 't1'").Scan(&amr, &acr); err != nil {
				t.Fatal(err)
			}
			if amr != "pop user mfa" || acr != "phr" {
				t.Errorf("refresh token after the upgrade: amr %q acr %q, want pop user mfa, phr", amr, acr)
			}
		})
	}
}

// TestMigrationEnrollScope: an invitation's enrollment in progress during
// the upgrade to schema 10 keeps what it may add; one that cannot be told
// from a self-service enrollment adds nothing (its person starts again).
func TestMigrationEnrollScope(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			ctx := t.Context()
			db := openAtVersion(t, b.name, url, 9)
			var now any = time.Now().UTC()
			if b.name == dialectSQLite {
				now = now.(time.Time).UnixMicro()
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO users (id, external_id, username, display_name, email, status, source,
				search_text, created_at, updated_at) VALUES ('u1', '', 'rita', 'Rita', '', 'active', 'local', 'rita', $1, $1)`, now); err != nil {
				t.Fatal(err)
			}
			for _, row := range []struct{ hash, invitation string }{{"a", "inv-1"}, {"b", ""}} {
				if _, err := db.ExecContext(ctx, `INSERT INTO pending_enrollments (hash, user_id, invitation_id, factors, created_at, expires_at)
					VALUES ($1, 'u1', $2, 0, $3, $3)`, []byte(row.hash), row.invitation, now); err != nil {
					t.Fatal(err)
				}
			}
			db.Close()
			s := openURL(t, url)
			for hash, want := range map[string]authn.EnrollScope{"a": authn.ScopeAll, "b": 0} {
				var got authn.EnrollScope
				if err := s.DB().QueryRowContext(ctx, "SELECT scope FROM pending_enrollments WHERE hash = $1", []byte(hash)).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("enrollment %s after the upgrade: scope %v, want %v", hash, got, want)
				}
			}
		})
	}
}
