package sandbox_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox"
)

func TestFaultLatency(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{Faults: sandbox.Faults{Latency: 150 * time.Millisecond}})
	for _, p := range []string{amlapi.AccessRightsPath, sandbox.IssuerPath + amlapi.WellKnownPath} {
		start := time.Now()
		e.do(http.MethodGet, p, e.token, nil)
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("GET %s took %s, want ≥ 150ms", p, d)
		}
	}
}

func TestFaultErrorRate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{Faults: sandbox.Faults{ErrorRate: 1}}) // the token endpoint is exempt
	statuses := map[int]int{}
	for range 40 {
		resp, body := e.do(http.MethodPost, amlapi.CreateOrganizationPath(amlapi.NO), e.token, amlapi.CreateSessionRequest{Identifier: "923609016"})
		statuses[resp.StatusCode]++
		code := errorCode(t, body)
		if resp.StatusCode == http.StatusInternalServerError && code != amlapi.CodeInternal || resp.StatusCode == http.StatusServiceUnavailable && code != amlapi.CodeUnavailable {
			t.Errorf("%d with %s", resp.StatusCode, code)
		}
	}
	if statuses[500] == 0 || statuses[503] == 0 || statuses[500]+statuses[503] != 40 {
		t.Errorf("statuses %v, want only 500 and 503, both", statuses)
	}
	if in := e.srv.Sandbox().Inspect(); len(in.Sessions) != 0 {
		t.Errorf("failed creates opened %d sessions", len(in.Sessions))
	}
}

func TestFaultRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{Faults: sandbox.Faults{RateLimitRate: 1, RetryAfter: 1500 * time.Millisecond}})
	resp, body := e.do(http.MethodPost, amlapi.CreateOrganizationPath(amlapi.NO), e.token, amlapi.CreateSessionRequest{Identifier: "923609016"})
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" || errorCode(t, body) != amlapi.CodeRateLimited {
		t.Errorf("%d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if in := e.srv.Sandbox().Inspect(); len(in.Sessions) != 0 {
		t.Error("a rate-limited create opened a session")
	}
}

// TestFaultFailRate: a failing session turns FAILED with every entity
// FAILED and no links, sends Failed, and has no content.
func TestFaultFailRate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{Faults: sandbox.Faults{FailRate: 1}})
	rc := newReceiver(t, webhookSecret)
	id := e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: "923609016",
		Reports: []amlapi.ReportType{"aml"}, Webhook: &amlapi.WebhookSubscription{URL: rc.URL()}})
	s := e.wait(amlapi.KindOrganization, id, 2*time.Second, done)
	if s.Status != amlapi.SessionFailed || s.JSONData.Status != amlapi.EntityFailed || s.JSONData.Link != "" ||
		s.Reports[amlapi.ReportAML].Status != amlapi.EntityFailed {
		t.Errorf("failed session: %+v", s)
	}
	got := rc.waitFor(t, 1, 2*time.Second)
	// The session queued all its webhooks when it was made, and a delivery
	// is recorded once answered: with none queued and every one that
	// arrived recorded, all have arrived.
	waitInspect(t, e, func(in sandbox.Inspection) bool {
		return in.WebhooksPending == 0 && len(in.Webhooks) == len(rc.received())
	})
	if ev := events(rc.received()); !slices.Equal(ev, []string{"Failed"}) || got[0].verifyErr != nil {
		t.Errorf("webhooks %v (%v), want Failed", ev, got[0].verifyErr)
	}
	if resp, _ := e.do(http.MethodGet, amlapi.JSONLinkPath(amlapi.KindOrganization, id), e.token, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("json of a failed session: %d", resp.StatusCode)
	}
	if in := e.srv.Sandbox().Inspect(); !in.Sessions[0].Failing {
		t.Error("inspection does not mark the session failing")
	}
}

func TestFaultWebhookDrop(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{ReadyAfter: 20 * time.Millisecond, Faults: sandbox.Faults{WebhookDropRate: 1}})
	rc := newReceiver(t, webhookSecret)
	id := e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: "923609016",
		Webhook: &amlapi.WebhookSubscription{URL: rc.URL()}})
	in := waitInspect(t, e, func(in sandbox.Inspection) bool { return len(in.Webhooks) == 2 && in.WebhooksPending == 0 })
	for _, w := range in.Webhooks {
		if !w.Dropped || w.SessionID != id {
			t.Errorf("delivery %+v, want dropped", w)
		}
	}
	// A delivery is recorded after it is sent and answered: had a dropped
	// one been sent, the receiver would have it now.
	if n := len(rc.received()); n != 0 {
		t.Errorf("receiver got %d webhooks", n)
	}
}

func TestFaultWebhookDuplicate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{ReadyAfter: 20 * time.Millisecond, Faults: sandbox.Faults{WebhookDuplicateRate: 1}})
	rc := newReceiver(t, webhookSecret)
	e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: "923609016",
		Reports: []amlapi.ReportType{"aml"}, Webhook: &amlapi.WebhookSubscription{URL: rc.URL()}})
	got := rc.waitFor(t, 6, 3*time.Second)
	byID := map[string][]string{}
	for _, r := range got {
		if r.verifyErr != nil {
			t.Error(r.verifyErr)
		}
		byID[r.id] = append(byID[r.id], string(r.hook.Event))
	}
	if len(byID) != 3 {
		t.Errorf("%d distinct webhook ids, want 3: %v", len(byID), byID)
	}
	for id, evs := range byID {
		if len(evs) != 2 || evs[0] != evs[1] {
			t.Errorf("%s: %v, want the same event twice", id, evs)
		}
	}
	var dups int
	for _, w := range waitInspect(t, e, func(in sandbox.Inspection) bool { return len(in.Webhooks) == 6 }).Webhooks {
		if w.Duplicate {
			dups++
		}
	}
	if dups != 3 {
		t.Errorf("inspection marks %d duplicates, want 3", dups)
	}
}

func TestFaultWebhookReorder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{Faults: sandbox.Faults{WebhookReorderRate: 1}})
	rc := newReceiver(t, webhookSecret)
	e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: "923609016",
		Reports: []amlapi.ReportType{"aml"}, Webhook: &amlapi.WebhookSubscription{URL: rc.URL()}})
	got := rc.waitFor(t, 3, 3*time.Second)
	// Pairs swap: (JsonDataReady, ReportReady) → ReportReady first; AllDone last.
	if ev, want := events(got), []string{"ReportReady:aml", "JsonDataReady", "AllDone"}; !slices.Equal(ev, want) {
		t.Errorf("events %v, want %v", ev, want)
	}
}

func TestFaultWebhookDelay(t *testing.T) {
	t.Parallel()
	const delay = 300 * time.Millisecond
	e := newEnv(t, sandbox.Config{ReadyAfter: 50 * time.Millisecond, Faults: sandbox.Faults{WebhookDelay: delay}})
	rc := newReceiver(t, webhookSecret)
	start := time.Now()
	e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: "923609016",
		Webhook: &amlapi.WebhookSubscription{URL: rc.URL(), Events: []amlapi.WebhookEvent{amlapi.EventJSONDataReady}}})
	got := rc.waitFor(t, 1, 3*time.Second)
	if d := got[0].at.Sub(start); d < 50*time.Millisecond+delay {
		t.Errorf("webhook after %s, want ≥ %s", d, 50*time.Millisecond+delay)
	}
	if d := got[0].at.Sub(got[0].hook.Timestamp.Time); d < delay-10*time.Millisecond {
		t.Errorf("webhook sent %s after its event, want ≥ %s", d, delay)
	}
}
