package authn

import (
	"context"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// SearchStore is what the IT console reads: people found by the start of
// a word of their name, username or e-mail; counts for the overview; the
// audit log with filters.
type SearchStore interface {
	// SearchUsers finds people of whom every word of q (SearchWords) starts
	// a word of the username, display name or e-mail (their SearchTerms),
	// in order of username after after, at most limit (≤ 0 means 50). An
	// empty q finds everyone. Writes that store a person keep her words
	// current, the directory sync's too.
	SearchUsers(ctx context.Context, q, after string, limit int) ([]User, error)
	// FactorCounts counts the active people with a security key, with only
	// an app, with neither: first of all active people (Group ""), then of
	// each group named (by canonical name; an unknown group counts none).
	FactorCounts(ctx context.Context, groups ...string) ([]FactorCount, error)
	// OpenInvitationAges counts the open invitations (neither used nor
	// voided nor expired at now) by age: n[i] are those younger than
	// bounds[i] (and not younger than bounds[i-1]); the last element counts
	// the older ones. bounds ascend.
	OpenInvitationAges(ctx context.Context, now time.Time, bounds []time.Duration) ([]int, error)
	// SearchAudit returns the events that match f, newest first.
	SearchAudit(ctx context.Context, f AuditQuery) ([]AuditEvent, error)
	// CountAudit counts the events with each of actions at or after since.
	CountAudit(ctx context.Context, since time.Time, actions ...string) (map[string]int, error)
}

// FactorCount is how many active people of a group have which factors.
type FactorCount struct {
	Group   string // canonical name; "" for all active people
	Key     int    // at least one security key
	AppOnly int    // an app and no key
	None    int    // neither
}

// AuditQuery selects audit events for SearchAudit; empty fields select all.
type AuditQuery struct {
	Subject  string    // exactly, e.g. "user:<id>"
	Actor    string    // exactly, e.g. "cli:root", "user:<id>"
	Action   string    // this action or one below it: "user" finds "user.reset"
	From, To time.Time // From ≤ Time < To
	// BeforeSeq returns only events with a smaller Seq (paging); 0: none.
	BeforeSeq int64
	Limit     int // ≤ 0 means 100
}

// Match reports whether e is one q selects (the fields SearchAudit
// filters on; BeforeSeq and Limit are paging): the same rule for an export
// that streams the whole log as for the console's page.
func (q AuditQuery) Match(e AuditEvent) bool {
	action := strings.TrimSuffix(q.Action, ".")
	// Times as the store keeps them: to the microsecond.
	from, to := q.From.Truncate(time.Microsecond), q.To.Truncate(time.Microsecond)
	switch {
	case q.Subject != "" && e.Subject != q.Subject,
		q.Actor != "" && e.Actor != q.Actor,
		action != "" && e.Action != action && !strings.HasPrefix(e.Action, action+"."),
		!q.From.IsZero() && e.Time.Before(from),
		!q.To.IsZero() && !e.Time.Before(to):
		return false
	}
	return true
}

// SearchTerms returns the words a person is found by: each word of her
// username, display name and e-mail, folded (SearchFold), and for a word
// with ä, ö or ü also its spelling with ae, oe, ue ("Müller": muller,
// mueller).
func SearchTerms(u User) []string {
	seen := map[string]bool{}
	var out []string
	for _, w := range splitWords(u.Username + " " + u.DisplayName + " " + u.Email) {
		for _, t := range []string{SearchFold(w), SearchFold(umlautSpelling(w))} {
			if t != "" && !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// SearchWords returns the words of a search query, each with its
// spellings (SearchFold, and with ae, oe, ue for ä, ö, ü): a person is
// found when each word has a spelling that starts one of her SearchTerms.
func SearchWords(q string) [][]string {
	var out [][]string
	seen := map[string]bool{}
	for _, w := range splitWords(q) {
		a, b := SearchFold(w), SearchFold(umlautSpelling(w))
		if a == "" || seen[a] {
			continue
		}
		seen[a] = true
		if len(out) == MaxSearchWords { // each word costs the store a query
			break
		}
		if a == b {
			out = append(out, []string{a})
		} else {
			out = append(out, []string{a, b})
		}
	}
	return out
}

// MaxSearchWords is how many different words of a query a search uses;
// the rest are left out (a name, a username and an address are fewer).
const MaxSearchWords = 8

// SearchFold folds a word for search: case-folded (ß is ss), accents and
// umlaut dots dropped (ü is u), compatibility forms joined (NFKC).
func SearchFold(w string) string {
	d := norm.NFKD.String(cases.Fold().String(w))
	var b strings.Builder
	for _, r := range d {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return norm.NFKC.String(b.String())
}

// umlautSpelling writes ä, ö, ü as ae, oe, ue (in either case).
var umlautSpelling = strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "Ä", "Ae", "Ö", "Oe", "Ü", "Ue").Replace

// splitWords splits s at every character that is neither a letter, a mark
// nor a digit.
func splitWords(s string) []string {
	return strings.FieldsFunc(norm.NFC.String(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.M, r)
	})
}
