package desk

import (
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// AuditQuery selects audit events for the console's audit page and for
// exports; the zero value selects every event.
type AuditQuery struct {
	Subject string // "user:<id>": only events about her
	Actor   string // only events by this actor ("cli:…", "user:<id>", "system")
	Action  string // only this action, or those starting with it when it ends in "."
	Since   time.Time
	Until   time.Time // exclusive
}

// Match reports whether e is one q selects.
func (q AuditQuery) Match(e authn.AuditEvent) bool {
	switch {
	case q.Subject != "" && e.Subject != q.Subject,
		q.Actor != "" && e.Actor != q.Actor,
		q.Action != "" && !(e.Action == q.Action || strings.HasSuffix(q.Action, ".") && strings.HasPrefix(e.Action, q.Action)),
		!q.Since.IsZero() && e.Time.Before(q.Since),
		!q.Until.IsZero() && !e.Time.Before(q.Until):
		return false
	}
	return true
}

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
func ExportAudit(ctx context.Context, st authn.AuditStore, w io.Writer, format string, q AuditQuery) (int, error) {
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
