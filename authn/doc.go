// Package authn is Keyhall's domain: the people and groups it knows, their
// server-side sessions, invitations, throttle counters and the audit log, and
// the Store interface that keeps them.
//
// The package knows nothing of HTTP and imports no other Keyhall package. A
// test can create a person, open a session for her and revoke it without a
// server; the web package translates HTTP into calls on this package and back.
//
// # Storage
//
// Store is implemented once, on database/sql, by package authn/sqlstore for
// both SQLite (the embedded default) and PostgreSQL (for several processes
// acting as one service). Its behaviour is pinned down by the conformance
// suite in authn/storetest, which both backends run. Methods take a context
// first, plain values, and report the sentinel errors below, matched with
// errors.Is.
//
// Values that may only move forward (a session's last_seen now; a security
// key's sign count and an authenticator app's last time step later) change
// inside the store in one conditional statement: a value at or below the
// stored one is refused with ErrNotForward and nothing is stored.
//
// # Audit log
//
// Every administrative action writes an AuditEvent in the same transaction as
// the change it records. The log is append-only and hash-chained: each event
// carries the hash of the one before (see AuditEvent.ChainHash), so removing
// or editing an entry breaks the chain at that point, which VerifyChain finds.
//
// # Sessions
//
// A session's id is 256 random bits held only in the person's cookie; the
// store keeps its SHA-256 (SessionHash). A session row exists only after all
// required factors: there is no "half signed in" session.
package authn
