package citizens

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"

	"golang.org/x/net/idna"

	"github.com/keyhall/keyhall/authn"
)

// addressForms returns the forms under which a canonical address
// (CanonicalEmail) may be stored: itself and, when its domain is not
// ASCII, the same with the domain in ACE ("xn--", idna ToASCII). A
// directory's mail, and a citizen who registered before CanonicalEmail
// gave domains in Unicode, are stored so; the store compares addresses
// without regard to case only (no migration rewrote them).
func addressForms(email string) []string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return []string{email}
	}
	ascii, err := idna.Lookup.ToASCII(email[at+1:])
	if err != nil || ascii == email[at+1:] {
		return []string{email}
	}
	return []string{email, email[:at+1] + ascii}
}

// usersByEmail lists the people whose address is email in any of its
// forms (addressForms), each once, the oldest first.
func (s *Service) usersByEmail(ctx context.Context, email string) ([]authn.User, error) {
	var out []authn.User
	for _, f := range addressForms(email) {
		people, err := s.cfg.Store.UsersByEmail(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, u := range people {
			if !slices.ContainsFunc(out, func(v authn.User) bool { return v.ID == u.ID }) {
				out = append(out, u)
			}
		}
	}
	slices.SortFunc(out, func(a, b authn.User) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// userByAddress returns the citizen whose username is email in either of
// its forms (addressForms): one who registered before domains were given
// in Unicode has it in ACE. Every form is read, whichever is found, so
// that a known address costs what a new one does.
func (s *Service) userByAddress(ctx context.Context, email string) (authn.User, error) {
	u, err := authn.User{}, error(authn.ErrNotFound)
	for _, f := range addressForms(email) {
		v, ferr := s.cfg.Store.GetUserByUsername(ctx, f)
		if errors.Is(err, authn.ErrNotFound) {
			u, err = v, ferr
		}
	}
	return u, err
}
