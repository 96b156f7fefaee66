package web

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// One headless Chromium serves every browser test of the package (it takes
// seconds to start); each test gets its own browser context (cookies) and
// tab (virtual authenticator).
var browser struct {
	once   sync.Once
	ctx    context.Context // the browser's chromedp context
	cancel func()
	dir    string // user-data-dir
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
		os.RemoveAll(browser.dir)
	}
	os.Exit(code)
}

// chromiumPath finds Debian's chromium (or another Chrome).
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func startBrowser(path string) {
	browser.dir, browser.err = os.MkdirTemp("", "keyhall-chromium-")
	if browser.err != nil {
		return
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("accept-lang", "de-DE,de"),
		chromedp.UserDataDir(browser.dir),
		chromedp.WindowSize(810, 1080), // a tablet held upright
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	browser.ctx = ctx
	browser.cancel = func() { cancel(); cancelAlloc() }
	// The first Do starts the browser; no timeout here, it would end the browser with it.
	browser.err = chromedp.Do(ctx)
}

// newTab returns a tab in a fresh browser context, with the WebAuthn
// domain enabled. Without chromium the test is skipped, or fails under
// CI=true.
func newTab(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium not found: install it (apt-get install -y chromium); under CI=true the browser tests must run")
		}
		t.Skip("chromium not found: skipping the browser test (apt-get install -y chromium)")
	}
	browser.once.Do(func() { startBrowser(path) })
	if browser.err != nil {
		t.Fatalf("start chromium: %v", browser.err)
	}
	ctx, cancel := chromedp.NewContext(browser.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelTimeout)
	if _, err := chromedp.Call(ctx, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	return ctx
}

// authenticatorOpts says what the virtual security key can do.
type authenticatorOpts struct {
	uv     bool // verifies the person itself (PIN or fingerprint) and does so
	synced bool // its credentials are synced passkeys (BE and BS flags set)
}

// addAuthenticator plugs a virtual CTAP2 USB security key with resident
// keys into the tab. AutomaticPresenceSimulation stands for the touch.
func addAuthenticator(t *testing.T, ctx context.Context, o authenticatorOpts) cdpwebauthn.AuthenticatorID {
	t.Helper()
	res, err := chromedp.Call(ctx, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
		Options: &cdpwebauthn.VirtualAuthenticatorOptions{
			Protocol:                    cdpwebauthn.AuthenticatorProtocolCtap2,
			Transport:                   cdpwebauthn.AuthenticatorTransportUsb,
			HasResidentKey:              true,
			HasUserVerification:         o.uv,
			IsUserVerified:              o.uv,
			AutomaticPresenceSimulation: true,
			DefaultBackupEligibility:    o.synced,
			DefaultBackupState:          o.synced,
			// cdproto always sends addCredential's generateCmtgKeyOnNextOperation
			// (no omitempty), which Chromium refuses unless the authenticator
			// claims the cmtgKey extension.
			HasCmtgKey: true,
		},
	})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

// putKey puts k into the virtual authenticator with the given sign count;
// resident keys carry the person's user handle (her ID) for passkey sign-in.
func putKey(t *testing.T, ctx context.Context, auth cdpwebauthn.AuthenticatorID, k testKey, userID string, resident bool, signCount float64) {
	t.Helper()
	c := &cdpwebauthn.Credential{
		CredentialID: k.id, IsResidentCredential: resident, RpID: "localhost",
		PrivateKey: k.pkcs8, SignCount: signCount,
	}
	if resident {
		c.UserHandle = []byte(userID)
	}
	if _, err := chromedp.Call(ctx, cdpwebauthn.AddCredential, cdpwebauthn.AddCredentialParams{AuthenticatorID: auth, Credential: c}); err != nil {
		t.Fatalf("WebAuthn.addCredential: %v", err)
	}
}

// run runs browser actions and fails the test with what the page says.
func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.location.href + "\n" + (document.body ? document.body.innerText : "")`))
		t.Fatalf("%s: %v\npage: %s", what, err, body)
	}
}

// waitPath waits until the tab shows path.
func waitPath(path string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
		for {
			loc, err := chromedp.Location()(ctx, tt)
			if u, perr := url.Parse(loc); err == nil && perr == nil && u.Path == path {
				_, err = chromedp.WaitReady(chromedp.CSS("body"))(ctx, tt)
				return err
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("wait for %s (at %s): %w", path, loc, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// waitText waits until the element sel contains text.
func waitText(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
		var last string
		for {
			got, err := chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).innerText || ""`, sel))(ctx, tt)
			if err == nil && strings.Contains(got, text) {
				return nil
			}
			last = got
			select {
			case <-ctx.Done():
				return fmt.Errorf("wait for %q in %s (has %q): %w", text, sel, last, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// js runs a script in the page (DevTools evaluation is not bound by the
// page's CSP) and ignores its value.
func js(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](expr)(ctx, tt)
		return err
	})
}

// shot checks the page a browser test reached for accessibility
// (checkAccessible: axe-core, WCAG 2.1 A and AA) and saves a full-page
// screenshot as DIR/name.png when KEYHALL_SHOTS=DIR is set, for a person to
// look at.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	checkAccessible(t, ctx, name)
	saveShot(t, ctx, name)
}

// saveShot is shot without the accessibility check, for pages that are
// not Keyhall's (a tool's).
func saveShot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("KEYHALL_SHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// cookie returns the tab's cookie name for the server, "" if none.
func cookie(t *testing.T, ctx context.Context, f *fixture, name string) string {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{f.base + "/"}})
	if err != nil {
		t.Fatalf("Network.getCookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
