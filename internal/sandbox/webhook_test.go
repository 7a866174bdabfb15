package sandbox_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/testenv"
)

func TestWebhooksDeliveredAndSigned(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{})
	rc := newReceiver(t, webhookSecret)
	id := e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{
		Identifier: "923609016", Reports: []amlapi.ReportType{"aml", "certificate_of_incorporation"},
		Webhook: &amlapi.WebhookSubscription{URL: rc.URL()},
	})
	got := rc.waitFor(t, 4, 3*time.Second)
	// In the order they happened, by their timestamps (AllDone last among
	// equals: it happens with the last report): deliveries are spaced
	// (WebhookSpacing) but not serialised, so a slow machine may receive
	// two of them the other way round.
	slices.SortStableFunc(got, func(a, b received) int {
		if c := a.hook.Timestamp.Compare(b.hook.Timestamp.Time); c != 0 {
			return c
		}
		return cmp.Compare(boolInt(a.hook.Event == amlapi.EventAllDone), boolInt(b.hook.Event == amlapi.EventAllDone))
	})
	want := []string{"JsonDataReady", "ReportReady:aml", "ReportReady:certificate_of_incorporation", "AllDone"}
	if ev := events(got); !slices.Equal(ev, want) {
		t.Errorf("events by timestamp %v, want %v", ev, want)
	}
	ids := map[string]bool{}
	for _, r := range got {
		if r.verifyErr != nil {
			t.Errorf("%s: %v", r.hook.Event, r.verifyErr)
		}
		if r.hook.SessionID != id || r.hook.Timestamp.IsZero() {
			t.Errorf("webhook %+v", r.hook)
		}
		ids[r.id] = true
	}
	if len(ids) != 4 {
		t.Errorf("webhook ids not unique per event: %v", ids)
	}
	// When a webhook arrives, the session already says so.
	s := e.session(amlapi.KindOrganization, id)
	if s.Status != amlapi.SessionDone {
		t.Errorf("AllDone arrived but the session is %s", s.Status)
	}
	in := waitInspect(t, e, func(in sandbox.Inspection) bool { return len(in.Webhooks) == 4 })
	if len(in.Webhooks) != 4 || !in.Webhooks[0].OK() || in.Webhooks[0].Status != 200 || in.Webhooks[0].Attempt != 1 {
		t.Errorf("inspection: %+v", in.Webhooks)
	}

	// Only the chosen events. AllDone is a session's last webhook, and the
	// session queues all of them when it is made: once AllDone arrived and
	// nothing is queued, every webhook of the session has arrived.
	rc2 := newReceiver(t, webhookSecret)
	id2 := e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{
		Identifier: "923609016", Reports: []amlapi.ReportType{"aml"},
		Webhook: &amlapi.WebhookSubscription{URL: rc2.URL(), Events: []amlapi.WebhookEvent{amlapi.EventAllDone}},
	})
	waitInspect(t, e, func(in sandbox.Inspection) bool {
		return in.WebhooksPending == 0 && slices.ContainsFunc(in.Webhooks, func(d sandbox.WebhookDelivery) bool {
			return d.SessionID == id2 && d.Event == amlapi.EventAllDone && d.OK()
		})
	})
	if ev := events(rc2.received()); !slices.Equal(ev, []string{"AllDone"}) {
		t.Errorf("events %v, want only AllDone", ev)
	}
}

func TestWebhooksUnsignedWithoutSecret(t *testing.T) {
	t.Parallel()
	srv, err := sandbox.Start(sandbox.Config{ReadyAfter: 20 * time.Millisecond}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	e := &env{t: t, srv: srv, base: srv.URL()}
	e.token = e.tokenFor(amlapi.ScopeBasic)
	rc := newReceiver(t, "any")
	e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: "923609016",
		Webhook: &amlapi.WebhookSubscription{URL: rc.URL(), Events: []amlapi.WebhookEvent{amlapi.EventJSONDataReady}}})
	got := rc.waitFor(t, 1, 2*time.Second)
	if !errors.Is(got[0].verifyErr, amlapi.ErrWebhookUnsigned) || got[0].id == "" {
		t.Errorf("unsigned webhook: id %q, verify %v", got[0].id, got[0].verifyErr)
	}
}

// TestWebhookRetry: 500s and timeouts are retried with backoff, with the
// same webhook-id, until 2xx or the attempts run out.
func TestWebhookRetry(t *testing.T) {
	t.Parallel()
	logs := &testenv.Buffer{}
	e := newEnv(t, sandbox.Config{
		Logger:         slog.New(slog.NewTextHandler(logs, nil)),
		ReadyAfter:     20 * time.Millisecond,
		WebhookTimeout: 200 * time.Millisecond,
		WebhookRetry:   sandbox.RetryPolicy{Initial: 50 * time.Millisecond, Multiplier: 2, Attempts: 4},
	})
	rc := newReceiver(t, webhookSecret)
	rc.respond = func(call int) int {
		switch call {
		case 1, 2:
			return http.StatusInternalServerError
		case 3:
			return hang // answered only when the sandbox gives up, at WebhookTimeout
		}
		return http.StatusOK
	}
	e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: "923609016",
		Webhook: &amlapi.WebhookSubscription{URL: rc.URL(), Events: []amlapi.WebhookEvent{amlapi.EventJSONDataReady}}})
	got := rc.waitFor(t, 4, 5*time.Second)
	for i, r := range got {
		if r.id != got[0].id || r.verifyErr != nil {
			t.Errorf("attempt %d: id %s (first %s), verify %v", i+1, r.id, got[0].id, r.verifyErr)
		}
	}
	// Backoff: 50ms, 100ms, 200ms after each failure.
	if gap := got[1].at.Sub(got[0].at); gap < 45*time.Millisecond {
		t.Errorf("second attempt %s after the first, want ≥ 50ms", gap)
	}
	if gap := got[2].at.Sub(got[1].at); gap < 95*time.Millisecond {
		t.Errorf("third attempt %s after the second, want ≥ 100ms", gap)
	}
	waitInspect(t, e, func(in sandbox.Inspection) bool { return len(in.Webhooks) == 4 })
	in := e.srv.Sandbox().Inspect()
	var attempts []int
	for _, w := range in.Webhooks {
		attempts = append(attempts, w.Attempt)
	}
	if !slices.Equal(attempts, []int{1, 2, 3, 4}) || in.Webhooks[0].Status != 500 || in.Webhooks[2].Error == "" || !in.Webhooks[3].OK() {
		t.Errorf("inspection: %+v", in.Webhooks)
	}

	// Attempts run out: the sandbox says it gives up, after the last one.
	rc2 := newReceiver(t, webhookSecret)
	rc2.respond = func(int) int { return http.StatusServiceUnavailable }
	id2 := e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: "923609016",
		Webhook: &amlapi.WebhookSubscription{URL: rc2.URL(), Events: []amlapi.WebhookEvent{amlapi.EventAllDone}}})
	testenv.Eventually(t, 3*time.Second, func() error {
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "giving up") && strings.Contains(l, id2) {
				return nil
			}
		}
		return fmt.Errorf("the sandbox has not given up after %d attempts", len(rc2.received()))
	})
	if n := len(rc2.received()); n != 4 {
		t.Errorf("%d attempts, want 4", n)
	}
}

func waitInspect(t *testing.T, e *env, cond func(sandbox.Inspection) bool) sandbox.Inspection {
	t.Helper()
	var in sandbox.Inspection
	if err := testenv.Poll(3*time.Second, func() error {
		if in = e.srv.Sandbox().Inspect(); !cond(in) {
			return errors.New("not yet")
		}
		return nil
	}); err != nil {
		t.Fatalf("inspection condition not met: %+v", in)
	}
	return in
}

func TestRunLifecycle(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.New(sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- sb.Run(ctx) }()
	testenv.Eventually(t, 2*time.Second, func() error {
		if !sb.Running() {
			return errors.New("Run has not started")
		}
		return nil
	})
	if err := sb.Run(context.Background()); !errors.Is(err, sandbox.ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not stop")
	}

	srv, err := sandbox.Start(sandbox.Config{}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	select {
	case <-srv.Done():
	default:
		t.Error("Done not closed after Close")
	}
	if _, err := sandbox.Start(sandbox.Config{Faults: sandbox.Faults{ErrorRate: 2}}, "127.0.0.1:0"); !errors.Is(err, sandbox.ErrInvalidConfig) {
		t.Errorf("Start with a bad config = %v", err)
	}
}

// How webhooks are authenticated is checked at New: each way needs its
// setting, and the errors quote no secret.
func TestWebhookAuthConfig(t *testing.T) {
	for _, tt := range []struct {
		cfg  sandbox.Config
		want string // "" for valid
	}{
		{sandbox.Config{}, ""},
		{sandbox.Config{WebhookSecret: "whsec_YQ== Yg=="}, ""},
		{sandbox.Config{WebhookAuth: sandbox.WebhookStandard}, "WebhookSecret"},
		{sandbox.Config{WebhookAuth: sandbox.WebhookBearerToken}, "WebhookBearerToken"},
		{sandbox.Config{WebhookAuth: sandbox.WebhookBearerToken, WebhookBearerToken: "secret\"token"}, "WebhookBearerToken"},
		{sandbox.Config{WebhookAuth: sandbox.WebhookBearerToken, WebhookBearerToken: "tok-1, tok-2"}, ""},
		{sandbox.Config{WebhookAuth: sandbox.WebhookBearerJWT}, "BaseURL"},
		{sandbox.Config{WebhookAuth: sandbox.WebhookBearerJWT, BaseURL: "http://127.0.0.1:1"}, ""},
		{sandbox.Config{WebhookAuth: "hmac"}, "WebhookAuth"},
	} {
		_, err := sandbox.New(tt.cfg)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%+v: %v", tt.cfg.WebhookAuth, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "secret\"token")):
			t.Errorf("%q: %v, want an error naming %s", tt.cfg.WebhookAuth, err, tt.want)
		}
	}
}

// The discovery document names the JWKS of bearer-jwt webhooks, and it
// serves one public ES256 key.
func TestWebhookJWKS(t *testing.T) {
	t.Parallel()
	srv, err := sandbox.Start(sandbox.Config{WebhookAuth: sandbox.WebhookBearerJWT}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	get := func(url string, out any) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", url, resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	var disc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	get(srv.IssuerURL()+amlapi.WellKnownPath, &disc)
	if disc.JWKSURI != srv.IssuerURL()+sandbox.JWKSPath {
		t.Fatalf("jwks_uri %q", disc.JWKSURI)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	get(disc.JWKSURI, &set)
	if len(set.Keys) != 1 || set.Keys[0]["alg"] != "ES256" || set.Keys[0]["kid"] == "" || set.Keys[0]["d"] != nil {
		t.Fatalf("JWKS %v, want one public ES256 key with a kid", set.Keys)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
