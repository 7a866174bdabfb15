package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/audit"
	"github.com/kybflow/kybflow/internal/budget"
	"github.com/kybflow/kybflow/internal/console/auth"
	"github.com/kybflow/kybflow/internal/deadletters"
	"github.com/kybflow/kybflow/internal/monitors"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
)

// post sends form to path of the console as a user of role ("" for
// none: the console's own login decides).
func post(t *testing.T, app *App, path string, form url.Values, role Role) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, app.URL()+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if role != "" {
		req.Header.Set("X-Test-Role", string(role))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf is the CSRF token of the first form of the page at path.
func csrfOf(t *testing.T, app *App, path string) string {
	t.Helper()
	r := get(t, app, path, "")
	m := csrfField.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		t.Fatalf("GET %s: %d, no CSRF token\n%s", path, r.status, r.body)
	}
	return m[1]
}

// actionEnv is a pipeline with the consoles the actions are tried on.
type actionEnv struct {
	p       *pipeline
	js      jetstream.JetStream
	roles   *App // roleAuth (X-Test-Role), without the erasure's settings
	local   *App // auth.Local: an operator with CSRF tokens, able to erase
	audited *memoryAuditor
}

func newActionEnv(t *testing.T) *actionEnv {
	t.Helper()
	e := &actionEnv{p: startPipeline(t), audited: &memoryAuditor{}}
	e.roles = e.p.console(t, Options{Auth: roleAuth{}, Auditor: &memoryAuditor{}})
	e.local = e.p.console(t, Options{Auth: auth.NewLocal(), Auditor: e.audited}, func(c *Config) {
		c.Actions = ActionSettings{EventSource: "urn:test", KeyPrefix: kybflow.DefaultKeyPrefix, Budget: []budget.Limit{{Max: 100, Window: time.Hour}}}
	})
	nc, err := nats.Connect(e.p.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if e.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	return e
}

// deadLetter publishes body as the worker dead-letters a command it read
// from the commands stream, and returns its sequence.
func (e *actionEnv) deadLetter(t *testing.T, body string) uint64 {
	t.Helper()
	var s kybflow.Subjects
	msg := nats.NewMsg(s.DeadLetterCommands())
	msg.Data = []byte(body)
	msg.Header.Set(kybflow.HeaderDeadLetterReason, "invalid_command: identifier is required")
	msg.Header.Set(kybflow.HeaderDeadLetterStream, s.CommandsStream())
	msg.Header.Set(kybflow.HeaderDeadLetterSequence, "42")
	msg.Header.Set(kybflow.HeaderDeadLetterSubject, s.CommandLookup())
	ack, err := e.js.PublishMsg(t.Context(), msg)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

func (e *actionEnv) deadLetterLeft(t *testing.T, seq uint64) bool {
	t.Helper()
	dl, err := deadletters.Open(t.Context(), e.js, kybflow.Subjects{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = dl.Get(t.Context(), seq)
	if err != nil && !errors.Is(err, deadletters.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// lookup submits cmd and waits until the console's index has it completed.
func (e *actionEnv) lookup(t *testing.T, cmd kybflow.LookupCommand) kybflow.CompletedData {
	t.Helper()
	if err := e.p.client.Submit(t.Context(), cmd); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	res, err := e.p.client.Wait(ctx, cmd.LookupID)
	if err != nil || res.Completed == nil {
		t.Fatalf("lookup %s: %+v, %v", cmd.LookupID, res, err)
	}
	for _, app := range []*App{e.roles, e.local} {
		testenv.Eventually(t, 10*time.Second, func() error {
			if l, _ := app.Index().Lookup(cmd.LookupID); l.State != StateCompleted {
				return fmt.Errorf("%s is %s in the index", cmd.LookupID, l.State)
			}
			return nil
		})
	}
	return *res.Completed
}

func orgCommand(id string) kybflow.LookupCommand {
	return kybflow.LookupCommand{LookupID: id, Type: kybflow.TypeOrganization, Country: kybflow.CountryNO, Identifier: "923609016",
		Reports: []kybflow.ReportType{"aml"}}
}

func TestActions(t *testing.T) {
	e := newActionEnv(t)
	dead := e.deadLetter(t, `{"lookupId":"dl-1","type":"organization","country":"NO","metadata":{"note":"<b>bold</b>"}}`)
	monitorKey := "mon-1"
	sub, err := e.p.client.CreateMonitor(t.Context(), monitorKey, kybflow.LookupCommand{Type: kybflow.TypeOrganization, Country: kybflow.CountryNO,
		Identifier: "923609016"}, kybflow.Schedule{Every: "24h"})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if res, err := e.p.client.WaitMonitor(wctx, sub); err != nil || !res.Applied() {
		t.Fatalf("create monitor: %+v, %v", res, err)
	}

	t.Run("roles", func(t *testing.T) {
		seq := strconv.FormatUint(dead, 10)
		for _, tc := range []struct {
			path string
			min  Role
			want string
		}{
			{"/deadletters", RoleOperator, `href="/deadletters/` + seq + `"`},
			{"/deadletters/" + seq, RoleOperator, "&#34;note&#34;: &#34;&lt;b&gt;bold&lt;/b&gt;&#34;"}, // pretty-printed, escaped
			{"/deadletters/purge", RoleOperator, "Purge 1 dead letter?"},
			{"/lookups/anything/erase", RoleOperator, "EVENT_SOURCE is not set"},
			{"/audit", RoleOperator, "Audit"},
			{"/monitors", RoleViewer, `href="/monitors/mon-1"`},
			{"/monitors/mon-1", RoleViewer, "every 24h"},
			{"/health", RoleViewer, "AML_COMMANDS"},
		} {
			for _, role := range auth.Roles {
				r := get(t, e.roles, tc.path, role)
				want := http.StatusForbidden
				if role.Allows(tc.min) {
					want = http.StatusOK
				}
				if r.status != want || want == http.StatusOK && !strings.Contains(r.body, tc.want) {
					t.Errorf("GET %s as %s: %d, want %d with %q\n%s", tc.path, role, r.status, want, tc.want, r.body)
				}
				if want == http.StatusOK {
					checkHeaders(t, r, pageCSP)
				}
			}
		}
		for _, path := range []string{"/deadletters/" + seq + "/replay", "/deadletters/purge", "/lookups/x/erase", "/monitors/mon-1/pause"} {
			for _, role := range []Role{RoleViewer, RoleOfficer} {
				if r := post(t, e.roles, path, url.Values{"csrf": {"x"}, "seq": {seq}, "reason": {"r"}}, role); r.status != http.StatusForbidden {
					t.Errorf("POST %s as %s: %d, want 403", path, role, r.status)
				}
			}
		}
		// An operator's POST without the console's session has no CSRF
		// token that could pass.
		if r := post(t, e.roles, "/deadletters/purge", url.Values{"seq": {seq}}, RoleOperator); r.status != http.StatusForbidden {
			t.Errorf("POST without a session's token: %d, want 403", r.status)
		}
		if r := get(t, e.roles, "/monitors/mon-1", RoleViewer); strings.Contains(r.body, "923609016") || strings.Contains(r.body, `name="csrf"`) {
			t.Error("a viewer sees the monitor's identifier, or its forms")
		}
		if r := get(t, e.roles, "/monitors/mon-1", RoleOfficer); !strings.Contains(r.body, "923609016") {
			t.Error("an officer does not see the monitor's identifier")
		}
		if !e.deadLetterLeft(t, dead) {
			t.Fatal("a refused POST removed the dead letter")
		}
		r := get(t, e.local, "/health", "")
		if !strings.Contains(r.body, `<tr data-stream="AML_EVENTS">`) || !strings.Contains(r.body, `<tr data-consumer="`) ||
			!regexp.MustCompile(`<th scope="row">100/1h</th><td>\d+</td>`).MatchString(r.body) || !strings.Contains(r.body, "kybflow_national_registry_access") {
			t.Errorf("the health page:\n%s", r.body)
		}
		if r := get(t, e.roles, "/health", RoleViewer); !strings.Contains(r.body, "SESSION_BUDGET") {
			t.Error("the health page without SESSION_BUDGET does not say it lacks it")
		}
	})

	t.Run("replay", func(t *testing.T) {
		path := "/deadletters/" + strconv.FormatUint(dead, 10)
		token := csrfOf(t, e.local, path)
		before := len(e.audited.Entries())
		if r := post(t, e.local, path+"/replay", url.Values{}, ""); r.status != http.StatusForbidden {
			t.Errorf("replay without the CSRF token: %d, want 403", r.status)
		}
		if r := post(t, e.local, path+"/replay", url.Values{"csrf": {token + "x"}}, ""); r.status != http.StatusForbidden {
			t.Errorf("replay with a wrong CSRF token: %d, want 403", r.status)
		}
		// As it is, it is still invalid: refused, with the error.
		if r := post(t, e.local, path+"/replay", url.Values{"csrf": {token}}, ""); r.status != http.StatusUnprocessableEntity ||
			!strings.Contains(r.body, "identifier") {
			t.Errorf("replay of an invalid command: %d\n%s", r.status, r.body)
		}
		fixed := `{"lookupId":"dl-1","type":"organization","country":"NO","identifier":"923609016"}`
		e.audited.setFail(errors.New("audit stream unavailable"))
		if r := post(t, e.local, path+"/replay", url.Values{"csrf": {token}, "body": {fixed}}, ""); r.status != http.StatusServiceUnavailable {
			t.Errorf("replay without an audit: %d, want 503", r.status)
		}
		e.audited.setFail(nil)
		if n := len(e.audited.Entries()); n != before || !e.deadLetterLeft(t, dead) {
			t.Fatalf("refused replays left %d audit entries, or removed the dead letter", n-before)
		}

		r := post(t, e.local, path+"/replay", url.Values{"csrf": {token}, "body": {fixed}, "reason": {"identifier added from the CRM"}}, "")
		if r.status != http.StatusOK || !strings.Contains(r.body, `href="/lookups/dl-1"`) || !strings.Contains(r.body, "deleted") {
			t.Fatalf("replay: %d\n%s", r.status, r.body)
		}
		if e.deadLetterLeft(t, dead) {
			t.Error("the replayed dead letter is left")
		}
		got := e.audited.Entries()[before:]
		if len(got) != 1 || got[0].Action != audit.ActionReplayDeadLetter || got[0].LookupKey != "dl-1" ||
			got[0].Reason != "identifier added from the CRM" || got[0].Actor != LocalUser {
			t.Errorf("audit: %+v", got)
		}
		// The command is back on the commands stream: the worker takes it.
		e.lookup(t, kybflow.LookupCommand{LookupID: "dl-1", Type: kybflow.TypeOrganization, Country: kybflow.CountryNO, Identifier: "923609016"})
	})

	t.Run("purge", func(t *testing.T) {
		one, two := e.deadLetter(t, `{"lookupId":"p-1"}`), e.deadLetter(t, `not json`)
		r := get(t, e.local, "/deadletters/purge", "")
		if r.status != http.StatusOK || !strings.Contains(r.body, "Purge 2 dead letters?") {
			t.Fatalf("purge page: %d\n%s", r.status, r.body)
		}
		token := csrfField.FindStringSubmatch(r.body)[1]
		before := len(e.audited.Entries())
		r = post(t, e.local, "/deadletters/purge", url.Values{"csrf": {token}, "seq": {strconv.FormatUint(one, 10), strconv.FormatUint(two, 10)},
			"reason": {"test data"}}, "")
		if r.status != http.StatusOK || !strings.Contains(r.body, "2 of 2") || e.deadLetterLeft(t, one) || e.deadLetterLeft(t, two) {
			t.Fatalf("purge: %d\n%s", r.status, r.body)
		}
		got := e.audited.Entries()[before:]
		if len(got) != 2 || got[0].Action != audit.ActionPurgeDeadLetter || got[0].LookupKey != "p-1" || got[1].LookupKey != "" {
			t.Errorf("audit: %+v", got)
		}
	})

	t.Run("erase", func(t *testing.T) {
		done := e.lookup(t, orgCommand("er-1"))
		var files []string
		for _, a := range done.Artifacts {
			files = append(files, filepath.Join(e.p.blobDir, filepath.FromSlash(a.Key)))
		}
		exist := func() int {
			n := 0
			for _, f := range files {
				if _, err := os.Stat(f); err == nil {
					n++
				}
			}
			return n
		}
		if len(files) == 0 || exist() != len(files) {
			t.Fatalf("the lookup's objects: %v", files)
		}
		if r := get(t, e.local, "/lookups/er-1", ""); !strings.Contains(r.body, `href="/lookups/er-1/erase"`) {
			t.Errorf("the lookup's page has no link to its erasure")
		}
		token := csrfOf(t, e.local, "/lookups/er-1/erase")
		before := len(e.audited.Entries())
		if r := post(t, e.local, "/lookups/er-1/erase", url.Values{"reason": {"GDPR request 17"}}, ""); r.status != http.StatusForbidden {
			t.Errorf("erase without the CSRF token: %d, want 403", r.status)
		}
		if r := post(t, e.local, "/lookups/er-1/erase", url.Values{"csrf": {token}, "reason": {"  "}}, ""); r.status != http.StatusUnprocessableEntity {
			t.Errorf("erase without a reason: %d, want 422", r.status)
		}
		e.audited.setFail(errors.New("audit stream unavailable"))
		if r := post(t, e.local, "/lookups/er-1/erase", url.Values{"csrf": {token}, "reason": {"GDPR request 17"}}, ""); r.status != http.StatusServiceUnavailable {
			t.Errorf("erase without an audit: %d, want 503", r.status)
		}
		e.audited.setFail(nil)
		if n := len(e.audited.Entries()); n != before || exist() != len(files) {
			t.Fatalf("refused erasures: %d audit entries, %d of %d objects left", n-before, exist(), len(files))
		}

		r := post(t, e.local, "/lookups/er-1/erase", url.Values{"csrf": {token}, "reason": {"GDPR request 17"}}, "")
		if r.status != http.StatusOK || !strings.Contains(r.body, fmt.Sprintf("%d deleted", len(files))) || !strings.Contains(r.body, "(it was completed)") {
			t.Fatalf("erase: %d\n%s", r.status, r.body)
		}
		if n := exist(); n != 0 {
			t.Errorf("%d objects left after the erasure", n)
		}
		events, err := e.js.Stream(t.Context(), kybflow.Subjects{}.EventsStream())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := events.GetLastMsgForSubject(t.Context(), kybflow.Subjects{}.Event("er-1", kybflow.KindCompleted)); !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Errorf("the completed event is left: %v", err)
		}
		if _, err := events.GetLastMsgForSubject(t.Context(), kybflow.Subjects{}.Event("er-1", kybflow.KindErased)); err != nil {
			t.Errorf("no erased event: %v", err)
		}
		got := e.audited.Entries()[before:]
		if len(got) != 1 || got[0].Action != audit.ActionErase || got[0].LookupKey != "er-1" || got[0].Reason != "GDPR request 17" {
			t.Errorf("audit: %+v", got)
		}
	})

	t.Run("monitor", func(t *testing.T) {
		// A run that found a change, as the worker records one.
		names := streams.NamesOf(kybflow.Subjects{})
		kv, err := e.js.KeyValue(t.Context(), names.MonitorsBucket())
		if err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
		run := kybflow.RunLookupID(monitorKey, at)
		if _, _, err := monitors.NewStore(kv).Apply(t.Context(), monitorKey, func(r *monitors.Record) error {
			return r.RecordRun(monitors.Run{LookupID: run, At: at})
		}); err != nil {
			t.Fatal(err)
		}
		diffKey, err := kybflow.ObjectKeys{}.Key(run, kybflow.ArtifactDiff)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := kybflow.NewEvent("urn:test", kybflow.KindChanged, run, at, kybflow.ChangedData{LookupID: run, MonitorID: monitorKey,
			PreviousLookupID: kybflow.RunLookupID(monitorKey, at.Add(-24*time.Hour)),
			Blocks:           []kybflow.BlockChange{{Block: "roles", Added: 1, Modified: 2}},
			Diff: kybflow.Artifact{Name: kybflow.ArtifactDiff, Bucket: "b", Key: diffKey, Size: 10, SHA256: strings.Repeat("ab", 32),
				ContentType: kybflow.ArtifactContentType(kybflow.ArtifactDiff)}})
		if err != nil {
			t.Fatal(err)
		}
		data, err := kybflow.EncodeEvent(ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.js.Publish(t.Context(), kybflow.Subjects{}.Event(run, kybflow.KindChanged), data); err != nil {
			t.Fatal(err)
		}
		r := get(t, e.roles, "/monitors/mon-1", RoleViewer)
		if !strings.Contains(r.body, run) || !strings.Contains(r.body, "<strong>roles</strong>: 1 added, 0 removed, 2 modified") {
			t.Errorf("the monitor's runs:\n%s", r.body)
		}
		if r := get(t, e.roles, "/monitors", RoleViewer); !strings.Contains(r.body, "30") || !strings.Contains(r.body, "active") {
			t.Errorf("the monitors: %s", r.body)
		}

		token := csrfOf(t, e.local, "/monitors/mon-1")
		before := len(e.audited.Entries())
		if r := post(t, e.local, "/monitors/mon-1/pause", url.Values{}, ""); r.status != http.StatusForbidden {
			t.Errorf("pause without the CSRF token: %d, want 403", r.status)
		}
		r = post(t, e.local, "/monitors/mon-1/pause", url.Values{"csrf": {token}, "reason": {"customer left"}}, "")
		if r.status != http.StatusOK || !strings.Contains(r.body, "Applied: the monitor is paused") {
			t.Fatalf("pause: %d\n%s", r.status, r.body)
		}
		rec, _, err := monitors.NewStore(kv).Get(t.Context(), monitorKey)
		if err != nil || rec.Status != kybflow.MonitorPaused {
			t.Errorf("the monitor after the pause: %+v, %v", rec, err)
		}
		got := e.audited.Entries()[before:]
		if len(got) != 1 || got[0].Action != audit.ActionMonitorPause || got[0].Detail != "monitor mon-1" || got[0].Reason != "customer left" {
			t.Errorf("audit: %+v", got)
		}
		if r := get(t, e.local, "/monitors/mon-1", ""); !strings.Contains(r.body, "Resume monitor mon-1") {
			t.Error("a paused monitor's page offers no resume")
		}
	})
}

// TestAuditPage records actions in the audit stream, and reads them on
// the audit page, all of them and one lookup's.
func TestAuditPage(t *testing.T) {
	e := newActionEnv(t)
	app := e.p.console(t, Options{Auth: auth.NewLocal()}) // the audit stream
	seq := e.deadLetter(t, `{"lookupId":"au-1"}`)
	token := csrfOf(t, app, "/deadletters/purge")
	if r := post(t, app, "/deadletters/purge", url.Values{"csrf": {token}, "seq": {strconv.FormatUint(seq, 10)}, "reason": {"a test's"}}, ""); r.status != http.StatusOK {
		t.Fatalf("purge: %d\n%s", r.status, r.body)
	}
	for _, path := range []string{"/audit", "/audit?lookup=au-1"} {
		r := get(t, app, path, "")
		if r.status != http.StatusOK || !strings.Contains(r.body, `<tr data-action="purge_dead_letter">`) || !strings.Contains(r.body, "a test&#39;s") ||
			!strings.Contains(r.body, `href="/lookups/au-1"`) {
			t.Errorf("GET %s: %d\n%s", path, r.status, r.body)
		}
	}
	if r := get(t, app, "/audit?lookup=other", ""); r.status != http.StatusOK || strings.Contains(r.body, "data-action=") {
		t.Errorf("another lookup's audit: %d\n%s", r.status, r.body)
	}
	if r := get(t, app, "/audit?lookup=a..b", ""); r.status != http.StatusBadRequest {
		t.Errorf("a bad lookup key: %d", r.status)
	}
}
