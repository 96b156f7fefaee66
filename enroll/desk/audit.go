package desk

import (
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// Export formats.
const (
	FormatCSV   = "csv"
	FormatJSONL = "jsonl"
)

// auditExportPage is how many events an export reads at a time.
const auditExportPage = 1000

// ExportAudit writes the events q selects to w, oldest first, as CSV (a
// header line, then one line per event) or JSON Lines (one object per
// line), and returns how many it wrote. It reads the log page by page, so
// an export of the whole log does not hold it in memory.
func ExportAudit(ctx context.Context, st authn.AuditStore, w io.Writer, format string, q authn.AuditQuery) (int, error) {
	var write func(authn.AuditEvent) error
	var flush func() error
	switch format {
	case FormatCSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(auditColumns); err != nil {
			return 0, err
		}
		write = func(e authn.AuditEvent) error { return cw.Write(csvRow(e)) }
		flush = func() error { cw.Flush(); return cw.Error() }
	case FormatJSONL:
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		write = func(e authn.AuditEvent) error { return enc.Encode(toAuditJSON(e)) }
		flush = func() error { return nil }
	default:
		return 0, &Error{De: fmt.Sprintf("Unbekanntes Format %q: csv oder jsonl.", format),
			En: fmt.Sprintf("unknown format %q: csv or jsonl", format), Err: ErrInvalid}
	}
	n := 0
	var after int64
	for {
		page, err := st.ListAudit(ctx, authn.AuditFilter{AfterSeq: after, Subject: q.Subject, Limit: auditExportPage})
		if err != nil {
			return n, fmt.Errorf("read the audit log after event %d: %w", after, err)
		}
		for _, e := range page {
			after = e.Seq
			if !q.Match(e) {
				continue
			}
			if err := write(e); err != nil {
				return n, err
			}
			n++
		}
		if len(page) < auditExportPage {
			return n, flush()
		}
	}
}

// auditColumns are the CSV export's columns.
var auditColumns = []string{"seq", "time", "actor", "action", "subject", "reason", "client_addr", "details", "hash"}

// csvRow is e as a CSV row. Text a person typed (a reason, a name in the
// details) that a spreadsheet would take for a formula is quoted with a
// leading apostrophe (CSV injection).
func csvRow(e authn.AuditEvent) []string {
	details, _ := json.Marshal(e.Details)
	if e.Details == nil {
		details = []byte("{}")
	}
	return []string{
		strconv.FormatInt(e.Seq, 10), e.Time.UTC().Format(time.RFC3339Nano), cellText(e.Actor), cellText(e.Action),
		cellText(e.Subject), cellText(e.Reason), cellText(e.ClientAddr), cellText(string(details)), hex.EncodeToString(e.Hash[:]),
	}
}

// cellText defuses a value a spreadsheet would evaluate: one starting with
// =, +, -, @, a tab or a carriage return.
func cellText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// auditJSON is an event in the JSON Lines export.
type auditJSON struct {
	Seq        int64             `json:"seq"`
	Time       time.Time         `json:"time"`
	Actor      string            `json:"actor"`
	Action     string            `json:"action"`
	Subject    string            `json:"subject,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	ClientAddr string            `json:"client_addr,omitempty"`
	Details    map[string]string `json:"details,omitempty"`
	PrevHash   string            `json:"prev_hash"`
	Hash       string            `json:"hash"`
}

func toAuditJSON(e authn.AuditEvent) auditJSON {
	return auditJSON{
		Seq: e.Seq, Time: e.Time.UTC(), Actor: e.Actor, Action: e.Action, Subject: e.Subject, Reason: e.Reason,
		ClientAddr: e.ClientAddr, Details: e.Details,
		PrevHash: hex.EncodeToString(e.PrevHash[:]), Hash: hex.EncodeToString(e.Hash[:]),
	}
}

// mayExport refuses an actor who is not an admin: the export holds the
// whole log's personal data (issue #14: the audit export is the admin's).
func mayExport(a Actor) error {
	if a.Role != RoleAdmin {
		return &Error{De: "Nur Administratoren dürfen das Protokoll exportieren.", En: "Only administrators may export the audit log.",
			Err: ErrForbidden}
	}
	return nil
}

// ExportAudit is the audit export for a, from the command line or the
// console: only an admin may take it, and the export itself is audited as
// "audit.export" (who took it, the format, how many events, the filters),
// after the events are written, so that it does not export itself. A
// failed write is audited too, with what was written so far.
func (s *Service) ExportAudit(ctx context.Context, a Actor, w io.Writer, format string, q authn.AuditQuery) (int, error) {
	if err := mayExport(a); err != nil {
		return 0, err
	}
	n, err := ExportAudit(ctx, s.cfg.Store, w, format, q)
	if f, ok := w.(interface{ Flush() error }); ok && err == nil {
		err = f.Flush() // a buffered writer's failure counts before the event says what was exported
	}
	var de *Error
	if errors.As(err, &de) { // a bad format: nothing was exported
		return n, err
	}
	d := map[string]string{"format": format, "events": strconv.Itoa(n), "via": a.Via, "actor_filter": q.Actor,
		"action_filter": q.Action, "since": auditTime(q.From), "until": auditTime(q.To), "client_addr": a.ClientAddr}
	if err != nil {
		d["error"] = "incomplete"
	}
	maps.DeleteFunc(d, func(_, v string) bool { return v == "" })
	ev := authn.AuditEvent{Time: s.now(), Actor: a.Audit, Action: "audit.export", Subject: q.Subject, ClientAddr: a.ClientAddr, Details: d}
	// The event is written even when the caller gave up meanwhile.
	if aerr := s.cfg.Store.AppendAudit(context.WithoutCancel(ctx), ev); aerr != nil {
		return n, errors.Join(err, fmt.Errorf("audit the export: %w", aerr))
	}
	return n, err
}

// auditTime is t as an export's filter in its audit event; "" for none.
func auditTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// ChainCheck is the outcome of a check of the audit log's hash chain.
type ChainCheck struct {
	// Events is how many events were checked; LastSeq the last of them.
	Events  int
	LastSeq int64
	// Break is where the chain breaks (the first place); nil: intact as
	// far as it was checked.
	Break *authn.ChainBreak
	// Partial: the time given ran out before the end of the log.
	Partial bool
}

// VerifyAudit checks the audit log's hash chain from its first event, page
// by page (authn.VerifyChain), as `keyhall admin audit verify` does, for an
// admin, for at most budget (0: no limit): on a big log it then reports
// how far it got. It stops at the first break.
func (s *Service) VerifyAudit(ctx context.Context, a Actor, budget time.Duration) (ChainCheck, error) {
	if a.Role != RoleAdmin {
		return ChainCheck{}, &Error{De: "Nur Administratoren dürfen die Kette prüfen.", En: "Only administrators may check the chain.",
			Err: ErrForbidden}
	}
	var deadline time.Time
	if budget > 0 {
		deadline = time.Now().Add(budget)
	}
	var (
		c    ChainCheck
		prev [32]byte
	)
	for {
		if !deadline.IsZero() && time.Now().After(deadline) {
			c.Partial = true
			return c, nil
		}
		page, err := s.cfg.Store.ListAudit(ctx, authn.AuditFilter{AfterSeq: c.LastSeq, Limit: auditExportPage})
		if err != nil {
			return c, fmt.Errorf("read the audit log after event %d: %w", c.LastSeq, err)
		}
		if len(page) == 0 {
			return c, nil
		}
		before := c.LastSeq
		prev, c.LastSeq, err = authn.VerifyChain(prev, c.LastSeq, page)
		c.Events += countUpTo(page, before, c.LastSeq)
		var b *authn.ChainBreak
		switch {
		case errors.As(err, &b):
			c.Break = b
			return c, nil
		case err != nil:
			return c, err
		}
	}
}

// countUpTo counts the events of page after seq from and up to seq to.
func countUpTo(page []authn.AuditEvent, from, to int64) int {
	n := 0
	for _, e := range page {
		if e.Seq > from && e.Seq <= to {
			n++
		}
	}
	return n
}
