package ldapsync

import (
	"context"
	"log/slog"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// SyncConfig configures NewSyncer (sync.go).
type SyncConfig struct {
	Store     authn.Store
	Directory Config
	Reader    Reader // nil: read the directory Directory describes
	Logger    *slog.Logger
	Now       func() time.Time
	// OnDisabled is called after a sync disabled people (leavers), with
	// their ids, so that the caller tells the tools by back-channel logout:
	// cmd/keyhall calls web.Server.OIDCUserSignedOut for each.
	//
	// The design: the sync's own transaction (authn.DirectoryStore.
	// ApplyDirectorySync) disables her AND revokes her sessions and her OIDC
	// tokens, so that nothing she holds outlives the commit, even if the
	// process dies right after it. OIDCUserSignedOut then revokes nothing
	// new, but RevokeOIDCUserTokens still names every client and session of
	// her tokens, revoked or not (a conformance test pins this), and web
	// sends the logouts to them. Result.Logouts carries the same clients for
	// a caller that has no web.Server.
	OnDisabled func(ctx context.Context, userIDs []string)
}

// RunOptions are the choices of one sync run.
type RunOptions struct {
	DryRun bool // compute and report, change nothing
	// AllowMassChange passes the mass-change valve and the "fewer than
	// 90 % of the last good read" check (audited); never an empty read or
	// a read error.
	AllowMassChange bool
	Actor           string // audit actor, e.g. "system:sync", "cli:root"
	// Incremental reads only what changed since the last sync (the change
	// markers, read_changes.go) when it can: the reader is a ChangeReader,
	// the last sync left markers, the directory's markers say it is the
	// same (not restored) server, and the last full sync is younger than
	// Directory.FullInterval. Otherwise the run is full; Result.FullReason
	// says why. An incremental run never disables or deletes anybody for
	// not being read.
	Incremental bool
}

// Change is one person or group a run changed (or, dry, would change).
type Change struct {
	Kind    string   `json:"kind"` // "person" or "group"
	Name    string   `json:"name"` // username or group name after the run
	OldName string   `json:"old_name,omitempty"`
	ID      string   `json:"id,omitempty"`     // Keyhall id; "" for a person not yet created
	Fields  []string `json:"fields,omitempty"` // what changed: "display_name", "email", "groups", …
	Reason  string   `json:"reason,omitempty"` // for disabled: "disabled in directory", "expired", "not found"
}

// Result is what a run did or, dry, would do.
type Result struct {
	Directory string        `json:"directory"`
	DryRun    bool          `json:"dry_run"`
	Started   time.Time     `json:"started"`
	Duration  time.Duration `json:"duration_ns"`
	Created   []Change      `json:"created"`
	Updated   []Change      `json:"updated"`
	Renamed   []Change      `json:"renamed"`
	Disabled  []Change      `json:"disabled"`
	Enabled   []Change      `json:"enabled"`
	Deleted   []Change      `json:"deleted"`
	// AlsoDisabled: people an administrator disabled whom the directory
	// now disables too (disabled by both from now on: a leaver among them
	// is deleted after the grace period); AlsoEnabled: people disabled by
	// both whom the directory enables again (the administrator's disable
	// stays). Their access does not change.
	AlsoDisabled []Change `json:"also_disabled"`
	AlsoEnabled  []Change `json:"also_enabled"`
	Unchanged    int      `json:"unchanged"`
	Conflicts    []Change `json:"conflicts"`
	Errors       []string `json:"errors"`
	// Incremental: only the people changed since the last sync were read
	// (Unchanged counts those of them who were not changed). FullReason:
	// why a run asked to be incremental was full.
	Incremental bool   `json:"incremental"`
	FullReason  string `json:"full_reason,omitempty"`
	// Aborted: the safety valve stopped the run; nothing was disabled or
	// deleted. AbortReason says why in plain words.
	Aborted     bool   `json:"aborted"`
	AbortReason string `json:"abort_reason,omitempty"`
	// HeldBack: people the mass-change valve kept from being disabled or
	// deleted (the rest of the run was applied); HeldBackReason says why
	// (also when AllowMassChange let them pass).
	HeldBack       int    `json:"held_back"`
	HeldBackReason string `json:"held_back_reason,omitempty"`
	// Logouts are the OIDC clients and sessions whose tokens the run
	// revoked with the people it disabled (see SyncConfig.OnDisabled).
	Logouts []authn.OIDCGrantRef `json:"-"`
}
