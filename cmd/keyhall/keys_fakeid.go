package main

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/keyhall/keyhall/authn/sqlstore"
)

// fakeIDPurpose derives, from a cookie key, the key of the made-up key IDs
// Keyhall answers for a name that does not exist.
const fakeIDPurpose = "keyhall fake credential ids"

// fakeIDKey returns the key of the made-up key IDs. It is kept in the
// database (setting fake_id_key) and does not change when the cookie key
// is rotated: made-up IDs that changed while real ones stay would tell, by
// comparing the sign-in page before and after, which names have an account.
// The first process to ask stores the key derived from the cookie key the
// installation had until then (the previous one during a rotation), so
// nothing changes at the upgrade either. A copy of the database tells who
// has an account anyway; the key guards against guessing from outside.
func fakeIDKey(ctx context.Context, st *sqlstore.Store, keys Keys) ([]byte, error) {
	seed := keys.Cookie
	if keys.PreviousCookie != nil {
		seed = keys.PreviousCookie
	}
	v, err := st.EnsureSetting(ctx, "fake_id_key", base64.StdEncoding.EncodeToString(deriveKey(seed, fakeIDPurpose)))
	if err != nil {
		return nil, err
	}
	k, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(k) < 16 {
		return nil, fmt.Errorf("setting fake_id_key is not a key of at least 16 bytes in base64")
	}
	return k, nil
}
