// Package scantest reads every column of every table of a Keyhall
// database, for tests that must show that nothing of a person is left
// after her erasure (DSGVO Art. 17), whichever package erases her.
package scantest

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
)

// Find lists, for each value of needles found in any column of any table
// of db (text as it is, binary in hex, case-insensitively), where it was
// found: "table.column holds "value"". dialect is the store's
// ("sqlite" or "postgres", sqlstore.Store.Dialect).
func Find(tb testing.TB, db *sql.DB, dialect string, needles []string) []string {
	tb.Helper()
	ctx := tb.Context()
	q := `SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' ORDER BY 1, 2`
	asText := "CASE WHEN typeof(%[1]s) = 'blob' THEN lower(hex(%[1]s)) ELSE CAST(%[1]s AS TEXT) END"
	if dialect == "postgres" {
		q = `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY 1, 2`
		asText = "CASE WHEN pg_typeof(%[1]s) = 'bytea'::regtype THEN encode(%[1]s::text::bytea, 'hex') ELSE %[1]s::text END"
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		tb.Fatal(err)
	}
	var cols [][2]string
	for rows.Next() {
		var c [2]string
		if err := rows.Scan(&c[0], &c[1]); err != nil {
			tb.Fatal(err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	if len(cols) < 50 {
		tb.Fatalf("found %d columns; the query does not list the schema", len(cols))
	}
	var found []string
	for _, c := range cols {
		expr := fmt.Sprintf(asText, `"`+c[1]+`"`)
		vals, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM "%s"`, expr, c[0]))
		if err != nil {
			tb.Fatalf("read %s.%s: %v", c[0], c[1], err)
		}
		for vals.Next() {
			var v *string
			if err := vals.Scan(&v); err != nil {
				tb.Fatal(err)
			}
			for _, n := range needles {
				if v != nil && n != "" && strings.Contains(strings.ToLower(*v), strings.ToLower(n)) {
					found = append(found, fmt.Sprintf("%s.%s holds %q", c[0], c[1], n))
				}
			}
		}
		vals.Close()
	}
	return found
}
