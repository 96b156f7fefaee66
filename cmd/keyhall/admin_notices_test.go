package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// TestAdminNoticeLetters: after the reset of Bernd, who has no e-mail
// address, `admin notices letters FILE` writes his notice letter with a
// freeze link and marks it printed (audited); a second run writes nothing.
func TestAdminNoticeLetters(t *testing.T) {
	pdftotext := needPdftotext(t)
	env, url := enrollEnvVars(t, nil)
	mustRun(t, env, 0, "admin", "users", "add", "bernd", "--name", "Bernd Weiß", "--address", "Alter Steinweg 4|48143 Münster")
	mustRun(t, env, 0, "admin", "reset", "bernd", "--identity-check", "callback", "--reason", "keys lost",
		"--letter", filepath.Join(t.TempDir(), "reset.pdf"))
	file := filepath.Join(t.TempDir(), "notices.pdf")
	if out := mustRun(t, env, 0, "admin", "notices", "letters", file); !strings.Contains(out, "1 notice letters written") {
		t.Errorf("first run: %q", out)
	}
	text, err := exec.Command(pdftotext, file, "-").CombinedOutput()
	flat := strings.ReplaceAll(string(text), "\n", "")
	if err != nil || !strings.Contains(flat, "/freeze/") || !strings.Contains(string(text), "Alter Steinweg 4") ||
		!strings.Contains(string(text), "zurückgesetzt") {
		t.Fatalf("the notice letter: %v\n%s", err, text)
	}
	st := openTestStore(t, url)
	evs, err := st.SearchAudit(context.Background(), authn.AuditQuery{Action: "notice_letter.printed"})
	if err != nil || len(evs) != 1 || evs[0].Details["kind"] != authn.NoticeReset || !strings.HasPrefix(evs[0].Actor, "cli:") {
		t.Errorf("printing audited as %+v, %v", evs, err)
	}
	again := filepath.Join(t.TempDir(), "again.pdf")
	if out := mustRun(t, env, 0, "admin", "notices", "letters", again); !strings.Contains(out, "no notice letters") {
		t.Errorf("second run: %q", out)
	}
	if _, err := os.Stat(again); !os.IsNotExist(err) {
		t.Errorf("the second run left a file: %v", err)
	}
}
