package sqlstore

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/storetest"
)

func TestEraseConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			storetest.RunErase(t, func(t *testing.T) authn.Store { return openURL(t, b.url(t)) })
		})
	}
}

// TestEraseLeavesNoPersonalData reads every column of every table after
// an erasure: nothing may hold her id, username, address, name, postal
// address or the hash of her session (DSGVO Art. 17). A new table or
// column that holds personal data and that EraseUser forgets fails here.
func TestEraseLeavesNoPersonalData(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := openURL(t, b.url(t))
			anna := storetest.FullPerson(t, s, "anna")
			bert := storetest.FullPerson(t, s, "bert")
			_, err := s.EraseUser(t.Context(), authn.Erasure{UserID: anna.ID, At: time.Now(),
				ThrottleKeys: authn.ThrottleKeys(anna.Username),
				Audit:        authn.AuditEvent{Time: time.Now(), Actor: "system", Action: "user.erase", Subject: authn.Pseudonym(anna.ID)}})
			if err != nil {
				t.Fatal(err)
			}
			hers := []string{anna.ID, anna.Username, anna.Email, anna.DisplayName, anna.PostalAddress[0],
				hex.EncodeToString(anna.Session.Hash[:])}
			found := scanAllColumns(t, s, hers)
			for _, f := range found {
				t.Errorf("after erasure, %s", f)
			}
			// The scan itself finds what is there: bert is.
			if found := scanAllColumns(t, s, []string{bert.ID, bert.Email, hex.EncodeToString(bert.Session.Hash[:])}); len(found) < 3 {
				t.Errorf("the scan found bert only in %v; it does not read every table", found)
			}
		})
	}
}

// scanAllColumns lists, for each value of needles found in any column of
// any table (text as it is, binary in hex), where it was found.
func scanAllColumns(t *testing.T, s *Store, needles []string) []string {
	t.Helper()
	ctx := t.Context()
	q := `SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' ORDER BY 1, 2`
	asText := "CASE WHEN typeof(%[1]s) = 'blob' THEN lower(hex(%[1]s)) ELSE CAST(%[1]s AS TEXT) END"
	if s.Dialect() == dialectPostgres {
		q = `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY 1, 2`
		asText = "CASE WHEN pg_typeof(%[1]s) = 'bytea'::regtype THEN encode(%[1]s::text::bytea, 'hex') ELSE %[1]s::text END"
	}
	rows, err := s.DB().QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var cols [][2]string
	for rows.Next() {
		var c [2]string
		if err := rows.Scan(&c[0], &c[1]); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	if len(cols) < 50 {
		t.Fatalf("found %d columns; the query does not list the schema", len(cols))
	}
	var found []string
	for _, c := range cols {
		expr := fmt.Sprintf(asText, `"`+c[1]+`"`)
		vals, err := s.DB().QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM "%s"`, expr, c[0]))
		if err != nil {
			t.Fatalf("read %s.%s: %v", c[0], c[1], err)
		}
		for vals.Next() {
			var v *string
			if err := vals.Scan(&v); err != nil {
				t.Fatal(err)
			}
			for _, n := range needles {
				if v != nil && strings.Contains(strings.ToLower(*v), strings.ToLower(n)) {
					found = append(found, fmt.Sprintf("%s.%s holds %q", c[0], c[1], n))
				}
			}
		}
		vals.Close()
	}
	return found
}
