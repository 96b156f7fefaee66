// Package storetest is the conformance suite for authn.Store: every
// implementation runs it from its tests, as Dex's storage/conformance is run
// by each of its backends.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) authn.Store {
//			s := openEmptyStore(t) // closed at t.Cleanup
//			return s
//		})
//	}
//
// Each named subtest gets a fresh, empty store. The operations that must be
// atomic (HitThrottle, ConsumeInvitation, Bootstrap, TouchSession,
// AppendAudit, RecordKeyUse, AcceptTOTPStep, UseRecoveryCode, UsePending,
// UndoThrottle) are run from many goroutines at once.
package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// Run runs the conformance suite. newStore must return a fresh, empty store
// and close it at t's cleanup.
func Run(t *testing.T, newStore func(t *testing.T) authn.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s authn.Store)
	}{
		{"Ping", testPing},
		{"Users", testUsers},
		{"UserUniqueness", testUserUniqueness},
		{"UpdateUser", testUpdateUser},
		{"ListUsers", testListUsers},
		{"Groups", testGroups},
		{"Sessions", testSessions},
		{"SessionRevocation", testSessionRevocation},
		{"SessionChangesSeenAtOnce", testSessionChangesSeenAtOnce},
		{"DeleteSessionsBefore", testDeleteSessionsBefore},
		{"TouchSession", testTouchSession},
		{"TouchSessionConcurrent", testTouchSessionConcurrent},
		{"Invitations", testInvitations},
		{"ConsumeInvitationConcurrent", testConsumeInvitationConcurrent},
		{"Bootstrap", testBootstrap},
		{"BootstrapNotEmpty", testBootstrapNotEmpty},
		{"BootstrapConcurrent", testBootstrapConcurrent},
		{"Throttle", testThrottle},
		{"ThrottleConcurrent", testThrottleConcurrent},
		{"HitThrottles", testHitThrottles},
		{"HitThrottlesConcurrent", testHitThrottlesConcurrent},
		{"UndoThrottles", testUndoThrottles},
		{"PurgeThrottles", testPurgeThrottles},
		{"ResetThrottlePrefix", testResetThrottlePrefix},
		{"Audit", testAudit},
		{"AuditConcurrent", testAuditConcurrent},
		{"AuditNotUTF8", testAuditNotUTF8},
		{"Credentials", testCredentials},
		{"KeyStats", testKeyStats},
		{"GetSignInRecord", testGetSignInRecord},
		{"RecordKeyUse", testRecordKeyUse},
		{"RecordKeyUseConcurrent", testRecordKeyUseConcurrent},
		{"FlagCloned", testFlagCloned},
		{"AcceptTOTPStep", testAcceptTOTPStep},
		{"AcceptTOTPStepConcurrent", testAcceptTOTPStepConcurrent},
		{"RecoveryCodes", testRecoveryCodes},
		{"UseRecoveryCodeConcurrent", testUseRecoveryCodeConcurrent},
		{"CompleteFactorStepRecovery", testCompleteFactorStepRecovery},
		{"Passwords", testPasswords},
		{"UndoThrottle", testUndoThrottle},
		{"SessionRecoveryOnly", testSessionRecoveryOnly},
		{"UsePending", testUsePending},
		{"UsePendingConcurrent", testUsePendingConcurrent},
		{"UsePendingPurge", testUsePendingPurge},
		{"CompleteFactorStep", testCompleteFactorStep},
		{"CompleteFactorStepApp", testCompleteFactorStepApp},
		{"CompleteFactorStepConcurrent", testCompleteFactorStepConcurrent},
		{"RenameCredential", testRenameCredential},
		{"RecentAudit", testRecentAudit},
		{"KeyModels", testKeyModels},
		{"KeyModelRoots", testKeyModelRoots},
		{"CompromisedKeys", testCompromisedKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

// t0 has nanoseconds below the microsecond, which the store drops.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589_793_238, time.UTC)

// micro is how the store gives a time back: UTC, to the microsecond.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func ev(action, subject string) authn.AuditEvent {
	return authn.AuditEvent{Time: t0, Actor: "system", Action: action, Subject: subject, Reason: "test"}
}

// mkUser creates a person with a canonical form of name and returns her as
// the store gives her back.
func mkUser(t *testing.T, s authn.Store, name string) authn.User {
	t.Helper()
	u := newUser(t, name)
	if err := s.CreateUser(t.Context(), u, ev("user.create", "user:"+u.ID)); err != nil {
		t.Fatalf("CreateUser(%s): %v", name, err)
	}
	return normUser(u)
}

func newUser(t *testing.T, name string) authn.User {
	t.Helper()
	c, err := authn.CanonicalName(name)
	if err != nil {
		t.Fatal(err)
	}
	return authn.User{
		ID: authn.NewID(), Username: c, DisplayName: name, Email: c + "@example.org",
		PostalAddress: []string{"Große Straße " + c, "48143 Münster"},
		Status:        authn.StatusActive, Source: authn.SourceLocal, CreatedAt: t0, UpdatedAt: t0,
	}
}

func normUser(u authn.User) authn.User {
	u.CreatedAt, u.UpdatedAt = micro(u.CreatedAt), micro(u.UpdatedAt)
	return u
}

func normGroup(g authn.Group) authn.Group {
	g.CreatedAt = micro(g.CreatedAt)
	return g
}

func normSession(s authn.Session) authn.Session {
	for _, p := range []*time.Time{&s.AuthTime, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt, &s.RevokedAt} {
		if !p.IsZero() {
			*p = micro(*p)
		}
	}
	return s
}

func normInvitation(inv authn.Invitation) authn.Invitation {
	for _, p := range []*time.Time{&inv.CreatedAt, &inv.ExpiresAt, &inv.UsedAt, &inv.VoidedAt} {
		if !p.IsZero() {
			*p = micro(*p)
		}
	}
	return inv
}

// same fails t unless got equals want after normalising both with norm.
func same[T any](t *testing.T, what string, got, want T, norm func(T) T) {
	t.Helper()
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

// wantErr fails t unless errors.Is(err, target) (or err is nil for a nil
// target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func testPing(t *testing.T, s authn.Store) {
	must(t, "Ping", s.Ping(t.Context()))
}

// auditCount returns the number of audit events.
func auditCount(t *testing.T, s authn.Store) int {
	t.Helper()
	var n int
	var after int64
	for {
		page, err := s.ListAudit(t.Context(), authn.AuditFilter{AfterSeq: after, Limit: 500})
		must(t, "ListAudit", err)
		if len(page) == 0 {
			return n
		}
		n += len(page)
		after = page[len(page)-1].Seq
	}
}

// verifyAudit reads the whole log in pages of pageSize, verifies the chain
// from zero, and returns the events.
func verifyAudit(t *testing.T, s authn.Store, pageSize int) []authn.AuditEvent {
	t.Helper()
	var (
		all  []authn.AuditEvent
		prev [32]byte
		seq  int64
	)
	for {
		page, err := s.ListAudit(t.Context(), authn.AuditFilter{AfterSeq: seq, Limit: pageSize})
		must(t, "ListAudit", err)
		if len(page) == 0 {
			return all
		}
		if len(page) > pageSize {
			t.Fatalf("ListAudit returned %d events, more than the limit %d", len(page), pageSize)
		}
		prev, seq, err = authn.VerifyChain(prev, seq, page)
		if err != nil {
			t.Fatalf("audit chain: %v", err)
		}
		all = append(all, page...)
	}
}

func name(prefix string, i int) string { return fmt.Sprintf("%s%02d", prefix, i) }
