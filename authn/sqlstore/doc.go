// Package sqlstore implements authn.Store on database/sql, for SQLite (the
// embedded default, pure Go modernc.org/sqlite) and PostgreSQL (pgx), with
// one set of SQL statements: both accept $1-style parameters, and the few
// differences (FOR UPDATE, advisory locks, column types) are named where
// they occur. Its behaviour is pinned down by the conformance suite in
// authn/storetest, which the tests run against both.
//
// # Opening
//
// Open parses the storage URL, connects, and migrates. The migrations are
// SQL files embedded per dialect (migrations/sqlite, migrations/postgres),
// numbered from 0001. They run in one transaction at Open and the number
// reached is kept in the table schema_version; a database whose number is
// higher than this binary knows is refused with authn.ErrSchemaTooNew, so an
// older binary never writes to a newer schema. On PostgreSQL the migration
// transaction first takes an advisory lock, so processes that start at once
// take turns.
//
// On SQLite there are two pools. The writer pool has one connection whose
// transactions start with BEGIN IMMEDIATE, so writes from this process queue
// in Go and writes from other processes (the CLI beside the server) wait on
// SQLite's lock (busy_timeout). The reader pool has read-only connections,
// kept open (reopening one costs a schema parse). Every connection is set up
// by DSN pragmas: WAL, synchronous=FULL (each commit is fsynced before it is
// acknowledged), foreign_keys on. The WAL is checkpointed every 4000 pages
// rather than SQLite's 1000, which makes durable writes under load about a
// third cheaper. On PostgreSQL one pool serves both, and every connection
// sets synchronous_commit=on, which Open checks.
//
// # The SQLite file must stay the one opened
//
// Keyhall creates the SQLite file itself (mode 0600); SQLite opens it with
// mode=rw and never creates it. With Options.Installed (serve found its key
// file, so this is not a first start) a missing or empty file is refused
// with ErrNoDatabase instead of being set up afresh: that would lose every
// person and make a new first administrator. While the store runs, each
// commit (a commit hook), each new connection, Ping, Ready and a watcher
// every two seconds check that the path still names the file opened (same
// device and inode). Once it does not (deleted, replaced), the store is
// broken for good: commits are rolled back, pooled connections dropped,
// every call fails, one ERROR is logged; only a restart opens it again.
// Ready reports whether the store can serve: a read and an in-place rewrite
// of the settings row "ready_probe", probed at most every two seconds.
//
// # Backup and restore
//
// Every Store on a SQLite file holds a shared flock(2) on the file beside it
// (keyhall.db.lock) while it is open. Backup copies one snapshot with
// VACUUM INTO on a connection of its own (the readers are query_only),
// records in the copy what it is a copy of (settings row "backup": schema
// version, key fingerprint, audit head) and renames it into place.
// InspectBackup checks a file before anything is changed (its size against
// its header, quick_check, Keyhall's tables, the schema version). Restore
// takes the lock exclusively, so it never replaces a database a process has
// open; the kernel drops a crashed process's lock, so none goes stale. It
// opens a copy beside the target as a Store for the caller's checks, then
// removes the old -wal and -shm files and renames the copy into place.
//
// # Group commit
//
// A durable commit costs an fsync (about half a millisecond here), so the
// hot writes (CreateSession, TouchSession, AppendAudit, UsePending,
// CompleteFactorStep, RecordKeyUse, AcceptTOTPStep, and HitThrottle and
// UndoThrottle on SQLite) go through a batcher: one goroutine takes every write waiting, up
// to 256, runs them in one transaction and acknowledges each only after the
// COMMIT. While one batch commits, the next gathers. A write that fails the
// transaction (a broken foreign key, say) makes the batcher run each write of
// that batch again in a transaction of its own, so one bad write fails only
// itself; results that change nothing ("not found", "not forward") are not
// failures and leave the batch alone. If COMMIT itself fails, every write in
// the batch gets the error: the server may have committed, and a second try
// could apply a write twice. Close stops taking writes and commits the ones
// waiting.
//
// # Session cache
//
// GetSession answers from an in-process cache for up to 900 ms, under
// authn.SessionCacheTTL, so another process's revocation is seen within it.
// This store's own RevokeSession, RevokeUserSessions and TouchSession drop
// the entries they change after their commit, and a read that raced with
// such a change is not cached (a generation counter), so a change made
// through this store is seen at once. The cache holds at most 100,000
// sessions.
//
// # Audit chain
//
// Events are appended in the transaction of the change they record. The
// transaction reads the chain's head (table audit_head, one row), assigns
// consecutive Seq numbers, seals each event (authn.AuditEvent.Seal: the
// details encoded once, Hash over exactly the texts and bytes stored) and
// moves the head. On PostgreSQL every appending transaction locks the
// head row first (SELECT … FOR UPDATE), before any other row, so appends from
// all processes take turns without deadlocks; on SQLite the writer lock does
// the same. Bootstrap additionally takes an advisory lock (PostgreSQL) or
// runs under BEGIN IMMEDIATE (SQLite) before it counts the people, so of
// several processes exactly one finds the database empty.
//
// # Sign-in state
//
// A pending sign-in travels sealed in its id (see authn); the database
// keeps only the marks of used ones, each inserted with one INSERT … ON
// CONFLICT DO NOTHING, so of concurrent uses exactly one inserts it. Every
// 1024th use also deletes the marks that expired more than an hour before
// (their ids are refused as expired anyway; the hour covers clocks that
// differ between processes). Counters that only move forward (a key's
// sign count, an app's last time step) change in one conditional UPDATE;
// a recovery code is used with one conditional UPDATE in the transaction
// that completes its sign-in (CompleteFactorStep: with the session and the
// audit events).
//
// # Directory sync
//
// ApplyDirectorySync stores a whole sync run in one transaction: the
// leavers are disabled with their sessions and OIDC tokens revoked in it
// (and dropped from this process's session cache after it), and every
// statement names the directory, so a local person or one of another
// directory is never changed. Renames set the old names aside ("~" + id)
// before any new one is taken, so two people may swap names. Which process
// syncs a directory is a lease in table directory_locks, taken with one
// INSERT … ON CONFLICT DO UPDATE … WHERE the lease ran out (so of several
// processes one gets it) and checked again, locked, in the run's
// transaction.
//
// # Values
//
// Times are kept in UTC to the microsecond: INTEGER microseconds since the
// epoch on SQLite, TIMESTAMPTZ on PostgreSQL; NULL stands for a zero
// RevokedAt, UsedAt or VoidedAt. Hashes are 32-byte BLOB/BYTEA keys; a
// session's AMR is stored space-separated; audit details as a JSON object.
// Unique violations become authn.ErrAlreadyExists, foreign key violations
// and missing rows authn.ErrNotFound; other errors are returned wrapped and
// mean the storage is unavailable.
package sqlstore
