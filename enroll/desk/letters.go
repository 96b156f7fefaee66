package desk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// LettersRequest asks for letters to the members of a group.
type LettersRequest struct {
	Reason string
	// All includes members who have a key or app already; by default only
	// those without a factor get a letter.
	All   bool
	Terms enroll.Terms
}

// Letters are the letters for a group: one PDF, a page per person, each
// with her own new invitation.
type Letters struct {
	PDF    []byte
	Issued []enroll.Invitation
	// Skipped are the members left out: with a factor already (without
	// All), or not active.
	Skipped []string
}

// GroupLetters issues a new invitation, delivered by letter, to each
// active member of group who has no key or app yet (every active member
// with All), and returns their letters in one PDF. The tiers apply to each
// member; it changes nothing unless every letter can be written.
func (s *Service) GroupLetters(ctx context.Context, a Actor, group string, in LettersRequest) (Letters, error) {
	g, err := s.cfg.Store.GetGroupByName(ctx, group)
	if errors.Is(err, authn.ErrNotFound) {
		return Letters{}, &Error{De: "Diese Gruppe gibt es nicht.", En: fmt.Sprintf("There is no group %q.", group), Err: err}
	}
	if err != nil {
		return Letters{}, fmt.Errorf("desk: %w", err)
	}
	members, err := s.cfg.Store.GroupMembers(ctx, g.ID)
	if err != nil {
		return Letters{}, fmt.Errorf("desk: members of %s: %w", group, err)
	}
	var out Letters
	var chosen []subject
	for _, m := range members {
		p, err := s.find(ctx, m.ID)
		if err != nil {
			return Letters{}, err
		}
		if err := s.authorize(ctx, a, "invite", p, in.Reason, false); err != nil {
			return Letters{}, err
		}
		st, err := enroll.StateOf(ctx, s.cfg.Store, p.ID, s.now())
		if err != nil {
			return Letters{}, fmt.Errorf("desk: enrollment of %s: %w", p.Username, err)
		}
		if p.Status != authn.StatusActive || (!in.All && st.Keys+st.Apps > 0) {
			out.Skipped = append(out.Skipped, p.Username)
			continue
		}
		// With --all, those who have a factor get a letter only where an
		// invitation may add one (mayGiveFactor); the others are left out,
		// and the refusal audited.
		var de *Error
		if err := s.mayGiveFactor(ctx, a, "invite", p, DeliverLetter, in.Reason); errors.As(err, &de) {
			out.Skipped = append(out.Skipped, p.Username)
			continue
		} else if err != nil {
			return Letters{}, err
		}
		chosen = append(chosen, p)
	}
	if err := needReason(in.Reason); err != nil {
		return Letters{}, err
	}
	if len(chosen) == 0 {
		return out, invalid("In dieser Gruppe braucht niemand einen Brief.", "No one in this group needs a letter.")
	}
	var bad []string
	for _, p := range chosen {
		if err := s.canWriteLetter(ctx, p.User, false); err != nil {
			bad = append(bad, p.Username)
		}
	}
	if len(bad) > 0 {
		return out, invalid("Für diese Personen lässt sich kein Brief schreiben (Adresse, Absender): "+strings.Join(bad, ", "),
			"No letter can be written for these people (address, sender): "+strings.Join(bad, ", "))
	}
	var letters []enroll.Letter
	for _, p := range chosen {
		t, err := s.terms(a, p.User, DeliverLetter, in.Terms, false)
		if err != nil {
			return out, err
		}
		t.Audit["group"] = group
		inv, err := s.cfg.Enroll.IssueWith(ctx, p.ID, t, a.Audit, strings.TrimSpace(in.Reason))
		if err != nil {
			return out, storeErr(err)
		}
		out.Issued = append(out.Issued, inv)
		l, err := s.letter(ctx, inv, false)
		if err != nil {
			return out, fmt.Errorf("desk: letter for %s: %w", p.Username, err)
		}
		letters = append(letters, l)
	}
	var buf bytes.Buffer
	if err := enroll.WriteLetters(&buf, letters); err != nil {
		return out, fmt.Errorf("desk: the invitations are issued, but their letters were not written: %w", err)
	}
	out.PDF = buf.Bytes()
	return out, nil
}

// LetterGroups lists the groups letters can be asked for (every group),
// by name, for the console's letters page.
func (s *Service) LetterGroups(ctx context.Context, a Actor) ([]authn.Group, error) {
	if err := mayRead(a); err != nil {
		return nil, err
	}
	gs, err := s.cfg.Store.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("desk: list groups: %w", err)
	}
	return gs, nil
}
