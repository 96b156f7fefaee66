package ldapsync

import (
	"context"
	"fmt"
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
	// attrs: the hashes of the attributes are filled in (listStored,
	// fillAttrs); else they are zero.
	attrs bool
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

// listStored reads the directory's people from the Store. Without attrs
// their attributes are not read (their hashes are left zero): an
// incremental run reads them for the people it read only (fillAttrs).
func (s *Syncer) listStored(ctx context.Context, attrs bool) (*stored, error) {
	h := &stored{byExt: map[string]int32{}, attrs: attrs}
	err := s.cfg.Store.EachDirectoryUser(ctx, s.dir.Name, attrs, func(u authn.DirectoryUser) error {
		h.byExt[u.ExternalID] = int32(len(h.people))
		p := storedPerson{id: u.ID, ext: u.ExternalID, username: u.Username,
			status: intern(u.Status, authn.StatusActive, authn.StatusDisabled, authn.StatusFrozen), disabledAt: u.DisabledAt,
			disabledBy: intern(u.DisabledBy, authn.DisabledByDirectory, authn.DisabledByAdmin, authn.DisabledByAdminAndDirectory)}
		if attrs {
			p.attrs = hashAttrs(u.DisplayName, u.Email, u.Phone, u.PostalAddress)
		}
		h.people = append(h.people, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// fillAttrs reads from the Store the attributes of the people of people
// that h holds without them, one by one.
func (h *stored) fillAttrs(ctx context.Context, st authn.Store, people []Person) error {
	if h.attrs {
		return nil
	}
	for i := range people {
		j, ok := h.byExt[people[i].ExternalID]
		if !ok {
			continue
		}
		p := &h.people[j]
		u, err := st.GetUser(ctx, p.id)
		if err != nil {
			return fmt.Errorf("read the attributes of %s: %w", p.username, err)
		}
		p.attrs = hashAttrs(u.DisplayName, u.Email, u.Phone, u.PostalAddress)
	}
	h.attrs = true
	return nil
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
