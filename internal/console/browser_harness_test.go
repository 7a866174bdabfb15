package console

// A real browser for the console's tests: Debian's Chromium, headless,
// driven by chromedp, against the console started with its real OIDC
// login at the sandbox, over a pipeline (NATS, the sandbox, a worker).
// Without Chromium the browser tests skip, or fail under REQUIRE_BROWSER=1
// (as in `make test`, which installs it: scripts/install-tools.sh).

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/audit"
	"github.com/kybflow/kybflow/internal/console/auth"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/testenv"
)

// Environment of the browser tests.
const (
	envChromium          = "CHROMIUM_BIN"       // the browser's path; else chromium or chromium-browser on PATH
	envRequireBrowser    = "REQUIRE_BROWSER"    // 1: a missing browser fails the tests instead of skipping them
	envScreenshotDir     = "SCREENSHOT_DIR"     // where each page's screenshot is kept; else a temporary directory
	envUpdateScreenshots = "UPDATE_SCREENSHOTS" // 1 (or -update): rewrite the README's screenshot in docs/screenshots
)

// readmeScreenshot is the README's picture of the console, rewritten by
// the browser tests under -update or UPDATE_SCREENSHOTS=1.
const readmeScreenshot = "../../docs/screenshots/console-lookup.png"

// chromiumPath finds the browser, or skips t (fails it under
// REQUIRE_BROWSER=1) saying how to get one.
func chromiumPath(t *testing.T) string {
	t.Helper()
	missing := func(why string) {
		t.Helper()
		msg := why + "; `make tools` as root installs Debian's chromium (apt-get install chromium), or set " + envChromium
		if os.Getenv(envRequireBrowser) == "1" {
			t.Fatalf("%s=1, but %s", envRequireBrowser, msg)
		}
		t.Skipf("skipping the browser tests: %s (%s=1 makes this a failure)", msg, envRequireBrowser)
	}
	if p := os.Getenv(envChromium); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			missing(fmt.Sprintf("%s=%s: %v", envChromium, p, err))
		}
		return path
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	missing("no chromium or chromium-browser on PATH")
	return ""
}

// browserSuite is what the browser tests share: one pipeline, one console
// with the OIDC login, one browser. Each test opens its own tab.
type browserSuite struct {
	p       *pipeline
	app     *App
	audit   *audit.Auditor
	js      jetstream.JetStream
	browser context.Context // the browser; tabs are opened in it
	shots   string          // the screenshots' directory
}

// The browser suite's sandbox: lookups complete in about half a second,
// the slow organization (sandbox.md, "slow") in ten times ReadyAfter, long
// enough for the live test to open its page while the lookup waits.
const (
	suiteReadyAfter = 300 * time.Millisecond
	slowOrgNO       = "910000039"
)

// startBrowserSuite starts the browser first (so that a missing one skips
// before anything else starts), then the pipeline and the console.
func startBrowserSuite(t *testing.T) *browserSuite {
	t.Helper()
	s := &browserSuite{browser: startBrowser(t, chromiumPath(t)), shots: os.Getenv(envScreenshotDir)}
	if s.shots == "" {
		s.shots = t.TempDir()
	} else if err := os.MkdirAll(s.shots, 0o750); err != nil {
		t.Fatal(err)
	}
	s.p = startPipelineWith(t, sandbox.Config{ReadyAfter: suiteReadyAfter, ReportInterval: 50 * time.Millisecond})

	// The redirect URL names the console's address before it listens: a
	// free port, below the ephemeral range (testenv.FreeAddr).
	addr, err := testenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, auth.MinSessionKey)
	_, _ = rand.Read(key) // never fails (crypto/rand)
	s.app = s.p.console(t, Options{}, func(c *Config) {
		c.Listen = addr
		c.Auth = auth.Settings{
			IssuerURL: s.p.sandbox.IssuerURL(), ClientID: sandbox.DefaultClientID, ClientSecret: sandbox.DefaultClientSecret,
			RedirectURL: "http://" + addr + "/callback", RoleClaim: sandbox.DefaultOIDCRoleClaim,
			SessionKey: key, SessionTTL: time.Hour,
		}
		// The worker's settings an erasure needs (startPipelineWith's
		// worker: EVENT_SOURCE urn:test, the default BLOB_KEY_PREFIX).
		c.Actions = ActionSettings{EventSource: "urn:test", KeyPrefix: kybflow.DefaultKeyPrefix}
	})
	testenv.Eventually(t, 10*time.Second, func() error { return s.app.Index().Ready(t.Context()) })

	nc, err := nats.Connect(s.p.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if s.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	if s.audit, err = audit.New(s.js, ""); err != nil {
		t.Fatal(err)
	}
	return s
}

// startBrowser starts a headless Chromium with a profile of its own, until
// the test ends.
func startBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("lang", "en-US"),
	)
	// Chromium's sandbox needs user namespaces that root may not use in a
	// container (it refuses to start as root with it): only then is it
	// turned off. The pages are our own, served on loopback.
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first run starts the browser, which lives as long as the context
	// that run is given: ctx itself, not one with a deadline.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// tab opens a tab in the browser for t, closed when t ends; what is done
// in it must end within timeout.
func (s *browserSuite) tab(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	ctx, closeTab := chromedp.NewContext(s.browser)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() {
		cancel()
		closeTab()
	})
	return ctx
}

// login logs the tab in as the sandbox's test user (sandbox.TestUsers)
// through the OIDC login: /login with a login_hint goes to the sandbox,
// which sends the browser back with a code at once; then to next.
func (s *browserSuite) login(t *testing.T, ctx context.Context, user, next string) {
	t.Helper()
	u := s.app.URL() + auth.LoginPath + "?" + url.Values{"login_hint": {user}, "next": {next}}.Encode()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(u))
	if err != nil {
		t.Fatalf("log in as %s: %v", user, err)
	}
	if resp.Status != 200 {
		t.Fatalf("log in as %s: %d %s at %s", user, resp.Status, resp.StatusText, resp.URL)
	}
}

// do runs actions in the tab, failing t with what for an error.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// run runs one action in the tab and returns its value.
func run[T any](t *testing.T, ctx context.Context, what string, action chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// text is the visible text of the first element sel matches.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return strings.TrimSpace(run(t, ctx, "text of "+sel, chromedp.Text(chromedp.CSS(sel))))
}

// shot saves a screenshot of the whole page in the tab, as
// <test>-<name>.png in the screenshots' directory, and returns it.
func (s *browserSuite) shot(t *testing.T, ctx context.Context, name string) []byte {
	t.Helper()
	png := run(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	path := filepath.Join(s.shots, screenshotName(t.Name()+"-"+name)+".png")
	if err := os.WriteFile(path, png, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
	return png
}

var notInFileName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func screenshotName(s string) string {
	return strings.Trim(notInFileName.ReplaceAllString(s, "-"), "-")
}

// updateReadmeScreenshot rewrites the README's screenshot with png under
// -update or UPDATE_SCREENSHOTS=1.
func updateReadmeScreenshot(t *testing.T, png []byte) {
	t.Helper()
	if !*update && os.Getenv(envUpdateScreenshots) != "1" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(readmeScreenshot), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(readmeScreenshot, png, 0o644); err != nil { //nolint:gosec // a picture for the README
		t.Fatal(err)
	}
	t.Logf("wrote %s", readmeScreenshot)
}

// unlabelledControls lists the page's form controls without an accessible
// name, as the DOM gives it: a <label> (for= or around it), aria-label,
// aria-labelledby, or title; a button's own text or value too.
const unlabelledControls = `(() => {
  const out = [];
  for (const el of document.querySelectorAll("input, select, textarea, button")) {
    if (el.type === "hidden") continue;
    const byIds = (el.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean)
      .map(id => (document.getElementById(id) || {}).textContent || "").join(" ");
    const labels = Array.from(el.labels || []).map(l => l.textContent).join(" ");
    const own = el.tagName === "BUTTON" || ["submit", "reset", "button"].includes(el.type) ? (el.textContent || el.value || "") : "";
    const name = [el.getAttribute("aria-label") || "", byIds, labels, el.title || "", own].join(" ").trim();
    if (!name) out.push(el.outerHTML.slice(0, 120));
  }
  return out;
})()`

// controlRoles are the accessibility roles of controls that must have a
// name (Chromium's names for inputs, selects, text areas and buttons).
var controlRoles = []string{"textbox", "searchbox", "combobox", "listbox", "button", "checkbox", "radio", "spinbutton", "slider", "switch"}

// checkLabels fails t for a form control of the page without a label: by
// the DOM (unlabelledControls), and by the accessible name Chromium itself
// computes (its accessibility tree), which screen readers read.
func checkLabels(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	if bad := run(t, ctx, "controls of "+page, chromedp.Evaluate[[]string](unlabelledControls)); len(bad) > 0 {
		t.Errorf("%s: form controls without a label: %q", page, bad)
	}
	tree := run(t, ctx, "accessibility tree of "+page, func(ctx context.Context, tg *chromedp.Target) (accessibility.GetFullAXTreeResult, error) {
		return cdp.Call(ctx, tg, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	})
	for _, n := range tree.Nodes {
		role := axString(n.Role)
		if n.Ignored || !slices.Contains(controlRoles, role) {
			continue
		}
		if strings.TrimSpace(axString(n.Name)) == "" {
			t.Errorf("%s: a %s without an accessible name (DOM node %d)", page, role, n.BackendDOMNodeID)
		}
	}
}

// axString is an accessibility value's text ("" for none).
func axString(v *accessibility.Value) string {
	if v == nil || len(v.Value) == 0 {
		return ""
	}
	var s string
	if err := json.Unmarshal(v.Value, &s); err != nil {
		return string(v.Value)
	}
	return s
}

// auditEntry waits for the audit stream to hold an entry that match
// chooses, of lookup key ("" for any), and returns it.
func (s *browserSuite) auditEntry(t *testing.T, key string, match func(audit.Entry) bool) audit.Entry {
	t.Helper()
	var found audit.Entry
	testenv.Eventually(t, 10*time.Second, func() error {
		entries, err := s.audit.List(t.Context(), audit.Filter{LookupKey: key, Limit: audit.MaxLimit})
		if err != nil {
			return err
		}
		for _, e := range entries {
			if match(e) {
				found = e
				return nil
			}
		}
		return errors.New("no such entry among " + fmt.Sprint(len(entries)))
	})
	return found
}

// deadLetters are actions_test.go's helpers of dead letters (publish one
// as the worker does, ask whether it is left) on the suite's pipeline:
// they need only its JetStream.
func (s *browserSuite) deadLetters() *actionEnv { return &actionEnv{p: s.p, js: s.js} }

// waitTitle waits until the tab shows the page titled title (a page's
// own title, before " · kybflow console"): the page a click led to. It
// asks the tab again while that page loads (chromedp.Poll gives up when
// the page it polls navigates).
func waitTitle(t *testing.T, ctx context.Context, title string) {
	t.Helper()
	want := title + " · kybflow console"
	testenv.Eventually(t, 10*time.Second, func() error {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.readyState === "complete" ? document.title : ""`))
		if err == nil && got != want {
			err = fmt.Errorf("the page %q, not %q", got, want)
		}
		return err
	})
}

// reloadUntil loads path in the tab until the text of the first element
// sel matches there is want, as a person reloads a page to see a change.
func (s *browserSuite) reloadUntil(t *testing.T, ctx context.Context, path, sel, want string) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, func() error {
		if err := chromedp.Do(ctx, chromedp.Navigate(s.app.URL()+path)); err != nil {
			return err
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`((document.querySelector(`+jsString(sel)+`) || {}).textContent || "").trim()`))
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("%s at %s is %q, want %q", sel, path, got, want)
		}
		return nil
	})
}
