package ldapsync

import (
	"context"
	"hash/maphash"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// stored is what a run keeps of the people Keyhall holds for the directory:
// for each her ids, username and status, and a hash of each mapped
// attribute, which the run compares with the read. A full sync of 50,000
// people holds them besides the directory's; whole rows (authn.User) took
// 27 MB of it, these take about a third.
type stored struct {
	people []storedPerson
	byExt  map[string]int32 // ExternalID → index in people
}

// storedPerson is one person Keyhall holds for the directory.
type storedPerson struct {
	id, ext, username string
	status            authn.UserStatus
	disabledBy        string
	disabledAt        time.Time
	attrs             attrHashes
}

// attrHashes are the hashes of the mapped attributes besides the username
// (display name, e-mail, phone, postal address), in that order.
type attrHashes [4]uint64

// attrFields are the names of the attributes of attrHashes, as
// Change.Fields gives them.
var attrFields = [4]string{"display_name", "email", "phone", "postal_address"}

// attrSeed seeds the attribute hashes; they are compared within one
// process only.
var attrSeed = maphash.MakeSeed()

// hashAttrs hashes the mapped attributes. An address is hashed as its lines
// joined by newlines, which lines do not hold: no lines and one empty line
// are the same, as the Store keeps them.
func hashAttrs(displayName, email, phone string, address []string) attrHashes {
	return attrHashes{
		maphash.String(attrSeed, displayName),
		maphash.String(attrSeed, email),
		maphash.String(attrSeed, phone),
		maphash.String(attrSeed, strings.Join(address, "\n")),
	}
}

// listStored reads the directory's people from the Store into a stored.
func (s *Syncer) listStored(ctx context.Context) (*stored, error) {
	h := &stored{byExt: map[string]int32{}}
	err := s.cfg.Store.EachDirectoryUser(ctx, s.dir.Name, func(u authn.DirectoryUser) error {
		h.byExt[u.ExternalID] = int32(len(h.people))
		h.people = append(h.people, storedPerson{id: u.ID, ext: u.ExternalID, username: u.Username,
			status: intern(u.Status, authn.StatusActive, authn.StatusDisabled), disabledAt: u.DisabledAt,
			disabledBy: intern(u.DisabledBy, authn.DisabledByDirectory, authn.DisabledByAdmin),
			attrs:      hashAttrs(u.DisplayName, u.Email, u.Phone, u.PostalAddress)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// intern returns the one of common that equals v, else v: each row's copy
// of a common value is not kept.
func intern[T ~string](v T, common ...T) T {
	for _, c := range common {
		if v == c {
			return c
		}
	}
	return v
}

// known reports whether Keyhall holds the person of ExternalID ext.
func (h *stored) known(ext string) bool {
	_, ok := h.byExt[ext]
	return ok
}
