package web

import (
	"net/http"
	"strings"

	"github.com/keyhall/keyhall/enroll/desk"
)

// The console's letters for many: a group (the council after an
// election), one PDF with a letter for each member who has no key or app
// yet (everyone with "all"), each with her own new invitation. The desk
// decides who gets one and audits each (desk.GroupLetters), as for
// `keyhall admin invite --group GROUP --letters FILE`.

// lettersForm is what the letters page's form holds.
type lettersForm struct {
	Groups []string
	Group  string
	Reason string
	All    bool
}

// adminLetters shows the letters form.
func (s *Server) adminLetters(w http.ResponseWriter, r *http.Request, d *desk.Service, a desk.Actor) {
	s.showLetters(w, r, d, a, http.StatusOK, lettersForm{Group: r.URL.Query().Get("group")}, nil)
}

// showLetters draws the letters page with form, and the desk's refusal
// err in words.
func (s *Server) showLetters(w http.ResponseWriter, r *http.Request, d *desk.Service, a desk.Actor, status int, form lettersForm, err error) {
	gs, gerr := d.LetterGroups(r.Context(), a)
	if gerr != nil {
		s.deskFail(w, r, gerr, nil)
		return
	}
	for _, g := range gs {
		form.Groups = append(form.Groups, g.Name)
	}
	av := &adminView{Actor: a, Tab: "letters", Letters: &form}
	if err != nil {
		av.IsAdmin = a.Role == desk.RoleAdmin
		s.deskFail(w, r, err, &view{Page: "admin_letters", Admin: av})
		return
	}
	s.adminPage(w, r, status, "admin_letters", av, "", "")
}

// adminLettersPost issues the group's invitations and answers with their
// letters as one PDF to download.
func (s *Server) adminLettersPost(w http.ResponseWriter, r *http.Request, d *desk.Service, a desk.Actor) {
	form := lettersForm{Group: strings.TrimSpace(r.PostFormValue("group")), Reason: strings.TrimSpace(r.PostFormValue("reason")),
		All: r.PostFormValue("all") != ""}
	out, err := d.GroupLetters(r.Context(), a, form.Group, desk.LettersRequest{Reason: form.Reason, All: form.All})
	if err != nil {
		s.showLetters(w, r, d, a, 0, form, err)
		return
	}
	s.sendLetter(w, r, out.PDF)
}
