package web

import (
	"bytes"
	"net/http"

	"github.com/keyhall/keyhall/enroll/desk"
)

// adminNoticeLetters answers with every unprinted notice letter as one PDF
// to download and marks them printed (desk.PrintNoticeLetters, as
// `keyhall admin notices letters FILE`); with none, the overview says so.
func (s *Server) adminNoticeLetters(w http.ResponseWriter, r *http.Request, d *desk.Service, a desk.Actor) {
	var buf bytes.Buffer
	n, err := d.PrintNoticeLetters(r.Context(), a, &buf)
	if err != nil {
		s.deskFail(w, r, err, nil)
		return
	}
	if n == 0 {
		o, err := d.Overview(r.Context(), a)
		if err != nil {
			s.deskFail(w, r, err, nil)
			return
		}
		s.adminPage(w, r, http.StatusOK, "admin", overviewView(r, a, &o), adminTexts["admin.notices.empty"].in(lang(r)), "")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Disposition", `attachment; filename="keyhall-notice-letters.pdf"`)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}
