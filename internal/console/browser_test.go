package console

// The console tried in a real browser, as its users meet it: logged in
// through the sandbox's OIDC login as each role, a lookup found and its
// documents opened, a viewer refused them, a lookup followed live, a dead
// letter corrected and replayed, a lookup erased with a reason and its
// audit record found, a viewer and an officer refused those actions, and
// the pages used with the keyboard. Each page looked at is kept as a
// screenshot (browser_harness_test.go).

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/audit"
	"github.com/kybflow/kybflow/internal/testenv"
)

// tabTimeout bounds each browser test.
const tabTimeout = 30 * time.Second

func TestBrowser(t *testing.T) {
	s := startBrowserSuite(t)
	const key = "browser-1"
	known := s.completedLookup(t, kybflow.LookupCommand{LookupID: key, Type: kybflow.TypeOrganization, Country: kybflow.CountryNO,
		Identifier: "923609016", Expands: []string{"roles", "sanction"}, Reports: []kybflow.ReportType{"aml"}, CorrelationID: "crm-browser"})
	row := `#lookups tr[data-key="` + key + `"]`

	t.Run("roles", func(t *testing.T) {
		for _, c := range []struct {
			user string
			role Role
		}{{"viewer", RoleViewer}, {"officer", RoleOfficer}, {"operator", RoleOperator}, {"lead", RoleOperator}} {
			t.Run(c.user, func(t *testing.T) {
				ctx := s.tab(t, tabTimeout)
				s.login(t, ctx, c.user, "/")
				do(t, ctx, "the lookups", chromedp.WaitVisible(chromedp.CSS(row)))
				if h1, role := text(t, ctx, "main h1"), text(t, ctx, "header .user .role"); h1 != "Lookups" || role != "("+string(c.role)+")" {
					t.Errorf("%s sees %q as %q, want Lookups as (%s)", c.user, h1, role, c.role)
				}
				s.shot(t, ctx, "lookups")
				s.auditEntry(t, "", func(e audit.Entry) bool {
					return e.Action == audit.ActionLogin && e.Actor.Subject == "sandbox-"+c.user && e.Actor.Role == string(c.role)
				})
			})
		}
		t.Run("norole", func(t *testing.T) {
			ctx := s.tab(t, tabTimeout)
			resp := run(t, ctx, "log in", chromedp.NavigateResponse(s.app.URL()+"/login?login_hint=norole&next=/"))
			if h1 := text(t, ctx, "h1"); resp.Status != 403 || h1 != "No access" {
				t.Errorf("a user without a role: %d %q, want 403 No access", resp.Status, h1)
			}
			s.shot(t, ctx, "no-access")
		})
	})

	t.Run("find a lookup, its PDF and its JSON", func(t *testing.T) {
		ctx := s.tab(t, tabTimeout)
		s.login(t, ctx, "officer", "/")
		do(t, ctx, "search by lookupId",
			chromedp.SendKeys(chromedp.ID("q"), key),
			chromedp.Click(chromedp.CSS(`form.filters button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`form.filters .actions a[href="/"]`)), // "Clear the filters": the filtered page
			chromedp.WaitVisible(chromedp.CSS(row)))
		if n := run(t, ctx, "rows", chromedp.Evaluate[int](`document.querySelectorAll("#lookups tbody tr[data-key]").length`)); n != 1 {
			t.Errorf("the search shows %d lookups, want 1", n)
		}
		s.shot(t, ctx, "search")

		do(t, ctx, "open the lookup", chromedp.Click(chromedp.CSS(row+` a`)), chromedp.WaitVisible(chromedp.CSS(`dl.facts[data-key="`+key+`"]`)))
		if st := text(t, ctx, `dl.facts [data-state]`); st != "completed" {
			t.Errorf("the lookup's state: %q", st)
		}
		if got := text(t, ctx, "main"); !strings.Contains(got, known.SessionID) || !strings.Contains(got, "crm-browser") {
			t.Errorf("the lookup's page lacks its session id %s or correlation id:\n%s", known.SessionID, got)
		}
		updateReadmeScreenshot(t, s.shot(t, ctx, "lookup"))

		// The PDF, in the page's frame: the browser loads it there (the
		// framing rules let it), and what the frame's address serves to
		// this session is the stored document, byte for byte.
		pdf, ok := known.Artifact("report:aml")
		if !ok {
			t.Fatalf("%s has no report:aml: %+v", key, known.Artifacts)
		}
		do(t, ctx, "open the report", chromedp.Click(chromedp.CSS(`a[href="/lookups/`+key+`/artifacts/report:aml"]`)),
			chromedp.WaitVisible(chromedp.CSS("iframe.pdf")))
		const frameType = `(document.querySelector("iframe.pdf").contentDocument || {}).contentType`
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](frameType+` === "application/pdf"`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](frameType))
			t.Errorf("the frame's document is %q, want application/pdf: %v", got, err)
		}
		got := run(t, ctx, "fetch the frame's document", chromedp.Evaluate[fetched](fetchFrame, chromedp.EvalAwaitPromise))
		if got.Status != 200 || got.Type != "application/pdf" || got.Head != "%PDF-" || got.SHA256 != pdf.SHA256 {
			t.Errorf("the frame's document %s: %+v; want the PDF of sha256 %s", got.Src, got, pdf.SHA256)
		}
		s.shot(t, ctx, "report")

		do(t, ctx, "open the JSON", chromedp.NavigateBack(), chromedp.Click(chromedp.CSS(`a[href="/lookups/`+key+`/artifacts/json"]`)),
			chromedp.WaitVisible(chromedp.CSS(".tree")))
		labels := run(t, ctx, "the tree's keys", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(".tree .k")).map(e => e.textContent)`))
		for _, want := range []string{"the result", "keyInformation", "roles", "sanction"} {
			if !slices.Contains(labels, want) {
				t.Errorf("the JSON tree has no %q among %d keys", want, len(labels))
			}
		}
		// A folded branch unfolds on a click.
		do(t, ctx, "unfold a branch",
			chromedp.Evaluate[chromedp.Void](`document.querySelector(".tree details:not([open])").id = "folded"`),
			chromedp.Click(chromedp.CSS("#folded > summary")))
		if open := run(t, ctx, "unfolded", chromedp.Evaluate[bool](`document.getElementById("folded").open`)); !open {
			t.Error("a click on a folded branch of the JSON did not unfold it")
		}
		s.shot(t, ctx, "json")

		for _, name := range []string{"report:aml", "json"} {
			s.auditEntry(t, key, func(e audit.Entry) bool {
				return e.Action == audit.ActionViewDocument && e.Actor.Subject == "sandbox-officer" && e.Detail == name
			})
		}
	})

	t.Run("viewer refused a document", func(t *testing.T) {
		ctx := s.tab(t, tabTimeout)
		s.login(t, ctx, "viewer", "/lookups/"+key)
		do(t, ctx, "the lookup", chromedp.WaitVisible(chromedp.CSS(`dl.facts[data-key="`+key+`"]`)))
		if n := run(t, ctx, "document links", chromedp.Evaluate[int](`document.querySelectorAll('a[href*="/artifacts/"]').length`)); n != 0 {
			t.Errorf("a viewer's page has %d links to documents", n)
		}
		if notice := text(t, ctx, "section .notice"); !strings.Contains(notice, "not their documents") {
			t.Errorf("the viewer is not told why there are no documents: %q", notice)
		}
		s.shot(t, ctx, "lookup")
		for i, path := range []string{"/lookups/" + key + "/artifacts/report:aml", "/lookups/" + key + "/artifacts/report:aml/raw"} {
			resp := run(t, ctx, "navigate to "+path, chromedp.NavigateResponse(s.app.URL()+path))
			if resp.Status != 403 {
				t.Errorf("a viewer at %s: %d, want 403", path, resp.Status)
			}
			if i == 0 {
				s.shot(t, ctx, "refused")
			}
		}
		entries, err := s.audit.List(t.Context(), audit.Filter{LookupKey: key, Limit: audit.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Actor.Subject == "sandbox-viewer" {
				t.Errorf("a refused view was recorded as one: %+v", e)
			}
		}
	})

	t.Run("a live lookup moves from waiting to completed", func(t *testing.T) {
		ctx := s.tab(t, tabTimeout)
		s.login(t, ctx, "viewer", "/")
		const live = "browser-live"
		// The slow organization: its JSON is ready after 10 × ReadyAfter,
		// time for the page to load while it waits.
		cmd := kybflow.LookupCommand{LookupID: live, Type: kybflow.TypeOrganization, Country: kybflow.CountryNO, Identifier: slowOrgNO}
		if err := s.p.client.Submit(t.Context(), cmd); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 10*time.Second, func() error {
			if l, ok := s.app.Index().Lookup(live); !ok || l.State != StateWaiting {
				return fmt.Errorf("%s is not waiting in the index: %v, %s", live, ok, l.State)
			}
			return nil
		})
		liveRow := `#lookups tr[data-key="` + live + `"]`
		do(t, ctx, "the lookups", chromedp.Navigate(s.app.URL()+"/"), chromedp.WaitVisible(chromedp.CSS(liveRow)),
			chromedp.Evaluate[chromedp.Void](`window.kybflowNotReloaded = true`))
		if st := text(t, ctx, liveRow+" [data-state]"); st != "waiting" {
			t.Fatalf("%s shows %q, want waiting (a lookup of the slow organization finished before its page loaded)", live, st)
		}
		testenv.Eventually(t, 10*time.Second, func() error {
			if s.app.Index().Subscribers() == 0 {
				return fmt.Errorf("the page's script has not opened the live stream")
			}
			return nil
		})
		if l, _ := s.app.Index().Lookup(live); l.State != StateWaiting {
			t.Fatalf("%s was %s before the page's live stream opened: raise suiteReadyAfter", live, l.State)
		}
		s.shot(t, ctx, "waiting")
		do(t, ctx, "the lookup completed, on the page", chromedp.WaitVisible(chromedp.CSS(liveRow+" .state-completed")))
		if !run(t, ctx, "the same page", chromedp.Evaluate[bool](`window.kybflowNotReloaded === true`)) {
			t.Error("the page was reloaded")
		}
		if last := text(t, ctx, liveRow+" [data-last]"); !strings.HasPrefix(last, string(kybflow.KindCompleted)) {
			t.Errorf("the last event shown: %q", last)
		}
		s.shot(t, ctx, "completed")
	})

	t.Run("replay a dead letter", func(t *testing.T) {
		ctx := s.tab(t, tabTimeout)
		const id = "browser-replayed"
		// A command the worker refused: it lacks its identifier.
		seq := strconv.FormatUint(s.deadLetters().deadLetter(t, `{"lookupId":"`+id+`","type":"organization","country":"NO"}`), 10)
		dlRow := `tr[data-seq="` + seq + `"]`
		s.login(t, ctx, "operator", "/deadletters")
		do(t, ctx, "the dead letters", chromedp.WaitVisible(chromedp.CSS(dlRow)))
		if got := text(t, ctx, dlRow); !strings.Contains(got, id) || !strings.Contains(got, "identifier is required") {
			t.Errorf("the dead letter's row: %q", got)
		}
		checkLabels(t, ctx, "the dead letters")
		s.shot(t, ctx, "deadletters")

		do(t, ctx, "open the dead letter", chromedp.Click(chromedp.CSS(dlRow+" a")), chromedp.WaitVisible(chromedp.ID("body-edit")))
		checkLabels(t, ctx, "a dead letter")
		s.shot(t, ctx, "deadletter")
		// As it is, it is refused: the page says why, and keeps the form.
		do(t, ctx, "replay it as it is", chromedp.Click(chromedp.CSS(`form:has(#reason-asis) button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.ID("problem")))
		if got := text(t, ctx, "#problem"); !strings.Contains(got, "identifier") {
			t.Errorf("the refusal of an invalid command: %q", got)
		}
		s.shot(t, ctx, "refused")

		const reason = "identifier added from the CRM"
		fixed := `{"lookupId":"` + id + `","type":"organization","country":"NO","identifier":"923609016"}`
		do(t, ctx, "replay it corrected",
			chromedp.SetValue(chromedp.ID("body-edit"), fixed),
			chromedp.SendKeys(chromedp.ID("reason-edit"), reason),
			chromedp.Click(chromedp.CSS(`form:has(#body-edit) button[type="submit"]`)))
		waitTitle(t, ctx, "Dead letter "+seq+" replayed")
		if got := text(t, ctx, "main dl.facts"); !strings.Contains(got, "corrected") || !strings.Contains(got, id) || !strings.Contains(got, "deleted") || strings.Contains(got, "not deleted") {
			t.Errorf("the replay's page: %q", got)
		}
		checkLabels(t, ctx, "a replay")
		s.shot(t, ctx, "replayed")

		// The worker takes the command again: the lookup is listed, and
		// completes.
		s.reloadUntil(t, ctx, "/", `#lookups tr[data-key="`+id+`"] [data-state]`, "completed")
		s.shot(t, ctx, "lookups")
		do(t, ctx, "the dead letters", chromedp.Navigate(s.app.URL()+"/deadletters"), chromedp.WaitVisible(chromedp.CSS("table.deadletters")))
		if n := run(t, ctx, "the dead letter's row", chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(dlRow)+`).length`)); n != 0 {
			t.Errorf("dead letter %s is still listed after its replay", seq)
		}
		s.auditEntry(t, id, func(e audit.Entry) bool {
			return e.Action == audit.ActionReplayDeadLetter && e.Actor.Subject == "sandbox-operator" && e.Reason == reason
		})
	})

	t.Run("erase a lookup with a reason", func(t *testing.T) {
		const id = "browser-erased"
		l := s.completedLookup(t, kybflow.LookupCommand{LookupID: id, Type: kybflow.TypeOrganization, Country: kybflow.CountryNO,
			Identifier: "923609016", Reports: []kybflow.ReportType{"aml"}})
		ctx := s.tab(t, tabTimeout)
		s.login(t, ctx, "operator", "/lookups/"+id)
		do(t, ctx, "the lookup", chromedp.WaitVisible(chromedp.CSS(`dl.facts[data-key="`+id+`"]`)))
		do(t, ctx, "follow Erase this lookup…", chromedp.Click(chromedp.CSS(`a[href="/lookups/`+id+`/erase"]`)), chromedp.WaitVisible(chromedp.ID("reason")))
		if got := text(t, ctx, "main"); !strings.Contains(got, "cannot be undone") || !strings.Contains(got, "completed") {
			t.Errorf("the confirmation page: %q", got)
		}
		checkLabels(t, ctx, "the erasure's confirmation")
		s.shot(t, ctx, "confirm")

		const reason = "GDPR erasure request 2024-117"
		do(t, ctx, "confirm the erasure", chromedp.SendKeys(chromedp.ID("reason"), reason), chromedp.Click(chromedp.CSS(`button.danger[type="submit"]`)))
		waitTitle(t, ctx, "Lookup "+id+" erased")
		if got := text(t, ctx, "main"); !strings.Contains(got, "(it was completed)") || !strings.Contains(got, fmt.Sprintf("%d deleted", len(l.Artifacts))) {
			t.Errorf("the erasure's page, for %d artifacts: %q", len(l.Artifacts), got)
		}
		checkLabels(t, ctx, "an erasure")
		s.shot(t, ctx, "erased")

		do(t, ctx, "its audit record", chromedp.Click(chromedp.CSS(`a[href="/audit?lookup=`+id+`"]`)), chromedp.WaitVisible(chromedp.CSS(`tr[data-action="erase"]`)))
		if v := run(t, ctx, "the filter", chromedp.Value(chromedp.ID("lookup"))); v != id {
			t.Errorf("the audit page is filtered to %q, want %s", v, id)
		}
		entry := `tr[data-action="erase"]`
		if got, role := text(t, ctx, entry), text(t, ctx, entry+" td:nth-of-type(2)"); !strings.Contains(got, reason) || !strings.Contains(got, "sandbox-operator") || role != "operator" {
			t.Errorf("the erasure's audit entry: %q (role %q)", got, role)
		}
		checkLabels(t, ctx, "the audit")
		s.shot(t, ctx, "audit")

		s.reloadUntil(t, ctx, "/lookups/"+id, "dl.facts [data-state]", "erased")
		if n := run(t, ctx, "erase links", chromedp.Evaluate[int](`document.querySelectorAll('a[href$="/erase"]').length`)); n != 0 {
			t.Error("an erased lookup's page still offers its erasure")
		}
		s.shot(t, ctx, "lookup")
	})

	t.Run("viewer and officer refused the actions", func(t *testing.T) {
		for _, user := range []string{"viewer", "officer"} {
			t.Run(user, func(t *testing.T) {
				ctx := s.tab(t, tabTimeout)
				s.login(t, ctx, user, "/lookups/"+key)
				do(t, ctx, "the lookup", chromedp.WaitVisible(chromedp.CSS(`dl.facts[data-key="`+key+`"]`)))
				if n := run(t, ctx, "action links", chromedp.Evaluate[int](`document.querySelectorAll('a[href="/deadletters"], a[href="/audit"], a[href$="/erase"]').length`)); n != 0 {
					t.Errorf("a %s's page has %d links to the operators' pages", user, n)
				}
				for _, path := range []string{"/deadletters", "/lookups/" + key + "/erase"} {
					resp := run(t, ctx, "navigate to "+path, chromedp.NavigateResponse(s.app.URL()+path))
					if got := text(t, ctx, "main"); resp.Status != 403 || !strings.Contains(got, "needs the role operator") {
						t.Errorf("a %s at %s: %d %q, want 403", user, path, resp.Status, got)
					}
					s.shot(t, ctx, screenshotName(path))
				}
			})
		}
	})

	t.Run("keyboard and labels", func(t *testing.T) {
		ctx := s.tab(t, tabTimeout)
		s.login(t, ctx, "viewer", "/")
		do(t, ctx, "the lookups", chromedp.WaitVisible(chromedp.CSS(row)))
		checkLabels(t, ctx, "the lookups")
		stops := tabTo(t, ctx, `#q`)
		if stops[0] != "a.skip" {
			t.Errorf("the first Tab stop is %s, want the skip link; stops: %q", stops[0], stops)
		}
		do(t, ctx, "search with the keyboard", chromedp.KeyEvent(key), chromedp.KeyEvent(kbEnter),
			chromedp.WaitVisible(chromedp.CSS(`form.filters .actions a[href="/"]`)))
		if loc := run(t, ctx, "location", chromedp.Location()); !strings.Contains(loc, "q="+key) {
			t.Errorf("Enter in the search box went to %s", loc)
		}
		s.shot(t, ctx, "search")
		tabTo(t, ctx, row+" a")
		do(t, ctx, "open the lookup with Enter", chromedp.KeyEvent(kbEnter), chromedp.WaitVisible(chromedp.CSS(`dl.facts[data-key="`+key+`"]`)))
		checkLabels(t, ctx, "a lookup")
		s.shot(t, ctx, "lookup")

		s.login(t, ctx, "officer", "/lookups/"+key+"/artifacts/report:aml")
		do(t, ctx, "the report's page", chromedp.WaitVisible(chromedp.CSS("iframe.pdf")))
		checkLabels(t, ctx, "a report")
		do(t, ctx, "the JSON's page", chromedp.Navigate(s.app.URL()+"/lookups/"+key+"/artifacts/json"), chromedp.WaitVisible(chromedp.CSS(".tree")))
		checkLabels(t, ctx, "the JSON")
		do(t, ctx, "an error page", chromedp.Navigate(s.app.URL()+"/lookups/nope"), chromedp.WaitVisible(chromedp.CSS("main h1")))
		checkLabels(t, ctx, "an error page")
		s.shot(t, ctx, "not-found")
	})
}

// kbEnter is the Enter key, as chromedp.KeyEvent sends it.
const kbEnter = "\r"

// tabTo presses Tab until the element sel matches has the focus, and
// returns the elements that had it on the way (tag.class#id).
func tabTo(t *testing.T, ctx context.Context, sel string) []string {
	t.Helper()
	const describe = `(() => { const e = document.activeElement; return e.tagName.toLowerCase() + (e.className ? "." + e.className.split(" ")[0] : "") + (e.id ? "#" + e.id : ""); })()`
	var stops []string
	for range 30 {
		do(t, ctx, "Tab", chromedp.KeyEvent("\t"))
		stops = append(stops, run(t, ctx, "the focus", chromedp.Evaluate[string](describe)))
		if run(t, ctx, "the focus", chromedp.Evaluate[bool](`document.activeElement === document.querySelector(`+jsString(sel)+`)`)) {
			return stops
		}
	}
	t.Fatalf("Tab never reached %s; it went to %q", sel, stops)
	return nil
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string { return fmt.Sprintf("%q", s) }

// fetched is what fetchFrame reports.
type fetched struct {
	Src    string `json:"src"`
	Status int    `json:"status"`
	Type   string `json:"type"`
	Head   string `json:"head"`
	SHA256 string `json:"sha256"`
}

// fetchFrame fetches the address of the page's PDF frame, in the page
// (with its session and under its Content-Security-Policy), and reports
// the answer and the sha256 of its body.
const fetchFrame = `(async () => {
  const src = document.querySelector("iframe.pdf").src;
  const r = await fetch(src);
  const b = await r.arrayBuffer();
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", b));
  return {src, status: r.status, type: r.headers.get("Content-Type"),
    head: new TextDecoder().decode(b.slice(0, 5)), sha256: Array.from(d, x => x.toString(16).padStart(2, "0")).join("")};
})()`

// completedLookup submits cmd, waits for its lookup to complete and to be
// so in the console's index, and returns it as the index has it.
func (s *browserSuite) completedLookup(t *testing.T, cmd kybflow.LookupCommand) Lookup {
	t.Helper()
	if err := s.p.client.Submit(t.Context(), cmd); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if res, err := s.p.client.Wait(ctx, cmd.LookupID); err != nil || res.Completed == nil {
		t.Fatalf("lookup %s: %+v, %v", cmd.LookupID, res, err)
	}
	var l Lookup
	testenv.Eventually(t, 10*time.Second, func() error {
		var ok bool
		if l, ok = s.app.Index().Lookup(cmd.LookupID); !ok || l.State != StateCompleted {
			return fmt.Errorf("%s is %s in the index", cmd.LookupID, l.State)
		}
		return nil
	})
	return l
}
