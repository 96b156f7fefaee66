package mds

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// ErrRollback: the blob's number is lower than the imported one's.
var ErrRollback = errors.New("blob older than the imported one")

// Import verifies blob (Verify) and stores its models, replacing those of
// the blob imported before, in one transaction with the audit event
// "mds.import" by actor (its serial, nextUpdate, the models stored, the
// compromised ones among them, what the CRLs covered, and how many
// attestation roots were stored and named in Blob.RootProblems). The
// models' roots replace those of the blob before, with the models. A blob with a
// lower number than the stored one is refused (ErrRollback), so that an
// old blob, from before a model was revoked, cannot be put back. A blob
// past its nextUpdate taken with o.AllowStale is audited with stale "true".
func Import(ctx context.Context, st authn.KeyModelStore, blob []byte, o Options, actor string) (Blob, error) {
	b, err := Verify(blob, o)
	if err != nil {
		return Blob{}, err
	}
	ev := authn.AuditEvent{Time: o.Now, Actor: actor, Action: "mds.import", Subject: "mds", Details: map[string]string{
		"no": strconv.Itoa(b.No), "next_update": b.NextUpdate.Format(time.DateOnly), "entries": strconv.Itoa(b.Entries),
		"models": strconv.Itoa(len(b.Models)), "compromised": strconv.Itoa(b.Compromised()), "signer": b.Signer,
		"crl_checked": strings.Join(b.Checked, "; "), "crl_unchecked": strings.Join(b.Unchecked, "; "),
		"roots": strconv.Itoa(b.Roots), "root_problems": strconv.Itoa(len(b.RootProblems)),
	}}
	if b.Stale {
		ev.Details["stale"] = "true"
	}
	for k, v := range ev.Details {
		if v == "" {
			delete(ev.Details, k)
		}
	}
	err = st.ImportKeyModels(ctx, authn.KeyMetadata{No: b.No, NextUpdate: b.NextUpdate, ImportedAt: o.Now}, b.Models, ev)
	if errors.Is(err, authn.ErrNotForward) {
		return b, fmt.Errorf("%w: %w", ErrRollback, err)
	}
	if err != nil {
		return b, err
	}
	return b, nil
}

// Compromised reports how many of b's models are compromised.
func (b Blob) Compromised() int {
	n := 0
	for _, m := range b.Models {
		if m.Compromise != "" {
			n++
		}
	}
	return n
}
