package sqlstore

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore/scantest"
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
				ThrottleKeys: authn.ThrottleKeys(anna.Username), ThrottlePrefixes: authn.DeviceThrottlePrefixes(anna.ID),
				Audit: authn.AuditEvent{Time: time.Now(), Actor: "system", Action: "user.erase", Subject: authn.Pseudonym(anna.ID)}})
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
// any table, where it was found (scantest.Find).
func scanAllColumns(t *testing.T, s *Store, needles []string) []string {
	t.Helper()
	return scantest.Find(t, s.DB(), s.Dialect(), needles)
}
