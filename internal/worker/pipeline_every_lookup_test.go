// Every kind of lookup end to end, with webhooks, polling only, and webhooks dropped, duplicated or reordered.

package worker

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/sandbox"
)

// lookupCase is one lookup of every type and country.
type lookupCase struct {
	c         cmd
	artifacts []string
}

func everyKindOfLookup(prefix string) []lookupCase {
	return []lookupCase{
		{cmd{LookupID: prefix + "-no", Type: "organization", Country: "NO", Identifier: "923609016",
			Expands: []string{"roles", "ownership", "sanction"}, Reports: []string{"aml", "certificate_of_incorporation"},
			CorrelationID: "crm-1", Metadata: json.RawMessage(`{"customer":{"tier":"gold"}}`)},
			[]string{"json", "report:aml", "report:certificate_of_incorporation"}},
		{cmd{LookupID: prefix + "-se", Type: "organization", Country: "SE", Identifier: "556036-0793", Reports: []string{"aml"}},
			[]string{"json", "report:aml"}},
		{cmd{LookupID: prefix + "-fi", Type: "organization", Country: "FI", Identifier: "2077474-0", Expands: []string{"address"}},
			[]string{"json"}},
		{cmd{LookupID: prefix + "-bo", Type: "beneficial_owners", Identifier: "974760673", Expands: []string{"citizenship"}, Reports: []string{"aml"}},
			[]string{"json", "report:aml"}},
		// The beneficial owners report is made unasked, as the guide says.
		{cmd{LookupID: prefix + "-bo-unasked", Type: "beneficial_owners", Identifier: "988077917"},
			[]string{"json", "report:aml"}},
		// A report asked for by expand is stored like one asked for by reports.
		{cmd{LookupID: prefix + "-expand", Type: "organization", Country: "NO", Identifier: "974760673",
			Expands: []string{"links.reports.certificate_of_incorporation"}, Reports: []string{"aml"}},
			[]string{"json", "report:aml", "report:certificate_of_incorporation"}},
	}
}

func runEveryKindOfLookup(t *testing.T, e *env, prefix string) {
	t.Helper()
	cases := everyKindOfLookup(prefix)
	for _, c := range cases {
		e.publish(c.c, c.c.LookupID)
	}
	for _, c := range cases {
		ev := e.terminal(c.c.LookupID, 30*time.Second)
		d := completedData(t, ev)
		e.verifyArtifacts(d, c.artifacts...)
		if s := d.Summary; s == nil || s.Unavailable != "" ||
			(s.Organization != nil) != (c.c.Type == "organization") || (s.BeneficialOwners != nil) != (c.c.Type == "beneficial_owners") {
			t.Errorf("%s: summary %+v, want one of its result", c.c.LookupID, s)
		}
		if d.LookupID != c.c.LookupID || d.SessionID == "" {
			t.Errorf("%s: completed data %+v", c.c.LookupID, d)
		}
		if c.c.Metadata != nil && string(d.Metadata) != string(c.c.Metadata) {
			t.Errorf("%s: metadata %s, want it echoed untouched: %s", c.c.LookupID, d.Metadata, c.c.Metadata)
		}
		if c.c.CorrelationID != d.CorrelationID {
			t.Errorf("%s: correlationId %q, want %q", c.c.LookupID, d.CorrelationID, c.c.CorrelationID)
		}
	}
	e.marker() // late duplicates would show up before its ending
	for _, c := range cases {
		e.assertExactlyOnce(c.c.LookupID)
		want := []kybflow.Kind{kybflow.KindAccepted, kybflow.KindSessionOpened, kybflow.KindCompleted}
		if got := e.eventsOf(c.c.LookupID); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: events %v, want %v", c.c.LookupID, got, want)
		}
	}
	for _, c := range cases {
		kind, country := "organization", c.c.Country
		if c.c.Type == "beneficial_owners" {
			kind, country = "beneficial", "NO"
		}
		canonical := map[string]string{"556036-0793": "5560360793"}[c.c.Identifier]
		if canonical == "" {
			canonical = c.c.Identifier
		}
		if n := e.sessions(kind, country, canonical); n != 1 {
			t.Errorf("%s: sandbox opened %d sessions for %s, want 1", c.c.LookupID, n, canonical)
		}
	}
}

// The guides' example shape of a session answer (plain statuses, no
// links): every kind of lookup completes, with webhooks and without.
func TestEveryLookupInTheGuidesShape(t *testing.T) {
	for _, webhooks := range []bool{true, false} {
		t.Run(fmt.Sprintf("webhooks=%t", webhooks), func(t *testing.T) {
			e := newEnv(t, envOptions{sandbox: sandbox.Config{SessionShape: sandbox.ShapeGuide}})
			e.start(webhooks, 1)
			runEveryKindOfLookup(t, e, "guide")
		})
	}
}

func TestEveryLookupWithWebhooksIntoS3(t *testing.T) {
	e := newEnv(t, envOptions{s3: true})
	e.start(true, 1)
	runEveryKindOfLookup(t, e, "wh")
	// The webhooks really arrived through the bridge (not only polls).
	delivered := 0
	for _, d := range e.sb.Sandbox().Inspect().Webhooks {
		if d.Status == http.StatusOK {
			delivered++
		}
	}
	if delivered == 0 {
		t.Error("no webhook was delivered to the bridge")
	}
}

func TestEveryLookupPollingOnlyIntoDirectory(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.start(false, 1)
	runEveryKindOfLookup(t, e, "poll")
	if n := len(e.sb.Sandbox().Inspect().Webhooks); n != 0 {
		t.Errorf("%d webhooks sent with AML_WEBHOOK_URL empty", n)
	}
}

func TestEveryWebhookDroppedStillCompletesByPolling(t *testing.T) {
	e := newEnv(t, envOptions{sandbox: sandbox.Config{Faults: sandbox.Faults{WebhookDropRate: 1}}})
	e.start(true, 1)
	runEveryKindOfLookup(t, e, "drop")
}

func TestDuplicateAndReorderedWebhooksChangeNothing(t *testing.T) {
	e := newEnv(t, envOptions{sandbox: sandbox.Config{Faults: sandbox.Faults{WebhookDuplicateRate: 1, WebhookReorderRate: 1}}})
	e.start(true, 2)
	runEveryKindOfLookup(t, e, "dup")
}
