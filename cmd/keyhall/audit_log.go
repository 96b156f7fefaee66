package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/web"
)

// The audit log leaves the database (issue #14): anyone who can write to
// the database can recompute the whole hash chain, so every event is also
// written as a log line for the city's log collector, and every
// auditCheckpointEvery the chain's head is logged as a checkpoint signed
// with the installation's key. `keyhall admin audit verify --checkpoint
// LINE` then finds events removed or changed before that checkpoint.
const (
	auditLogEvery        = 2 * time.Second
	auditCheckpointEvery = time.Hour
	// auditLogLease: with several processes on one database, the one that
	// holds this lease writes the lines; it passes on when that one stops.
	auditLogLease = "audit log" // a space: no directory has this name (not canonical)
	auditLogTTL   = 30 * time.Second
	// auditLoggedSetting is the last event written as a line, kept in the
	// database so that no event is skipped or written twice across restarts.
	auditLoggedSetting = "audit_logged_seq"
)

// auditLog writes the audit events as log lines and signs checkpoints.
type auditLog struct {
	st     *sqlstore.Store
	keys   Keys
	logger *slog.Logger
	holder string
	now    func() time.Time

	// lastCheckpoint is when this process last signed one.
	lastCheckpoint time.Time
}

// startAuditLog runs the audit log's writer until ctx ends.
func startAuditLog(ctx context.Context, bg *sync.WaitGroup, st *sqlstore.Store, keys Keys, logger *slog.Logger) {
	a := &auditLog{st: st, keys: keys, logger: logger, holder: authn.NewID(), now: time.Now}
	bg.Go(func() {
		t := time.NewTicker(auditLogEvery)
		defer t.Stop()
		for {
			if err := a.step(ctx); err != nil && ctx.Err() == nil {
				logger.Warn("audit log lines not written; trying again", "err", err)
			}
			select {
			case <-ctx.Done():
				// Pass the lease on at once rather than after its TTL.
				uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
				_ = st.UnlockDirectory(uctx, auditLogLease, a.holder)
				cancel()
				return
			case <-t.C:
			}
		}
	})
}

// step writes the events not yet written, if this process holds the lease,
// and signs a checkpoint when one is due.
func (a *auditLog) step(ctx context.Context) error {
	ok, err := a.st.TryLockDirectory(ctx, auditLogLease, a.holder, a.now(), auditLogTTL)
	if err != nil || !ok {
		return err
	}
	if err := a.writeLines(ctx); err != nil {
		return err
	}
	if a.now().Sub(a.lastCheckpoint) < auditCheckpointEvery {
		return nil
	}
	c, err := a.checkpoint(ctx)
	if err != nil {
		return err
	}
	a.lastCheckpoint = a.now()
	a.logger.Info("audit checkpoint", "seq", c.Seq, "hash", hex.EncodeToString(c.Hash[:]), "checkpoint", c.String())
	// Logged: retention may now cut the chain's old sign-in records up to
	// it (citizens.Retain).
	return a.st.NoteCheckpoint(ctx, c.Seq)
}

// writeLines writes every event after the last one written, one line each,
// and remembers how far it got.
func (a *auditLog) writeLines(ctx context.Context) error {
	v, _, err := a.st.Setting(ctx, auditLoggedSetting)
	if err != nil {
		return err
	}
	done, _ := strconv.ParseInt(v, 10, 64)
	head, _, err := a.st.AuditHead(ctx)
	if err != nil {
		return err
	}
	if done > head {
		// Events the lines were written for are gone (or the mark was set
		// ahead by hand, to silence the lines): say so, and write the
		// whole log again, so that no event is missing from the lines.
		a.logger.Error("audit log damaged: lines were written up to event "+strconv.FormatInt(done, 10)+
			", but the chain ends at "+strconv.FormatInt(head, 10)+"; writing every event again; "+
			"keyhall admin audit verify --checkpoint shows what changed", "written", done, "head", head)
		done = 0
		if err := a.st.PutSetting(ctx, auditLoggedSetting, strconv.FormatInt(done, 10)); err != nil {
			return err
		}
	}
	for {
		events, err := a.st.ListAudit(ctx, authn.AuditFilter{AfterSeq: done, Limit: auditPage})
		if err != nil || len(events) == 0 {
			return err
		}
		for _, e := range events {
			a.logger.LogAttrs(ctx, slog.LevelInfo, "audit event", auditAttrs(e)...)
			done = e.Seq
		}
		if err := a.st.PutSetting(ctx, auditLoggedSetting, strconv.FormatInt(done, 10)); err != nil {
			return err
		}
	}
}

// auditAttrs are an event's fields as log attributes.
func auditAttrs(e authn.AuditEvent) []slog.Attr {
	attrs := []slog.Attr{
		slog.Int64("seq", e.Seq), slog.Time("at", e.Time), slog.String("actor", e.Actor),
		slog.String("action", e.Action), slog.String("subject", e.Subject),
	}
	if e.Reason != "" {
		attrs = append(attrs, slog.String("reason", e.Reason))
	}
	if e.ClientAddr != "" {
		attrs = append(attrs, slog.String("client", e.ClientAddr))
	}
	if len(e.Details) > 0 {
		details := make([]any, 0, 2*len(e.Details))
		for k, v := range e.Details {
			details = append(details, slog.String(k, v))
		}
		attrs = append(attrs, slog.Group("details", details...))
	}
	return append(attrs, slog.String("hash", hex.EncodeToString(e.Hash[:])))
}

// checkpoint signs the chain's head now, with the active key (read each
// time: after a rotation, the new one).
func (a *auditLog) checkpoint(ctx context.Context) (authn.Checkpoint, error) {
	key, id, err := web.InstallationKey(ctx, a.st, a.keys.Encryption, a.now(), a.keys.PreviousEncryption)
	if err != nil {
		return authn.Checkpoint{}, err
	}
	seq, hash, err := a.st.AuditHead(ctx)
	if err != nil {
		return authn.Checkpoint{}, err
	}
	return authn.SignCheckpoint(key, id, seq, hash, a.now())
}

// verifyCheckpoint checks line's checkpoint against the installation's key
// that signed it (active or retired) and the audit log: the chain up to its
// event must end in its hash.
func verifyCheckpoint(ctx context.Context, st authn.Store, keys Keys, line string) (authn.Checkpoint, error) {
	c, err := authn.ParseCheckpoint(line)
	if err != nil {
		return c, usagef("--checkpoint: %v", err)
	}
	// Read, never made: a database whose key was removed must not get a
	// new one that then calls every true checkpoint foreign.
	sk, ok := st.(authn.OIDCKeyStore)
	if !ok {
		return c, fmt.Errorf("the store cannot read the installation's key")
	}
	all, err := sk.OIDCSigningKeys(ctx)
	if err != nil {
		return c, err
	}
	if len(all) == 0 {
		return c, fmt.Errorf("the database holds no installation key, though checkpoints were signed with key %s: "+
			"it was removed from the database; restore the database from a backup", c.KeyID)
	}
	stored := all[0]
	for _, k := range all {
		if k.ID == c.KeyID {
			stored = k
		}
	}
	key, id, err := web.OpenInstallationKey(stored, keys.Encryption, keys.PreviousEncryption)
	if err != nil {
		return c, err
	}
	if c.KeyID != id {
		return c, fmt.Errorf("the checkpoint was signed with key %s, but this installation's key is %s: "+
			"it is not from this installation (or its key file)", c.KeyID, id)
	}
	if err := c.Verify(&key.PublicKey); err != nil {
		return c, fmt.Errorf("%w: it was not written by this installation, or it was changed", err)
	}
	return c, nil
}
