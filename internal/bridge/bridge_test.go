package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/testenv"
)

const secret = "whsec_YnJpZGdlLXRlc3Qtc2VjcmV0" // "bridge-test-secret"

type fixture struct {
	js  jetstream.JetStream
	srv *httptest.Server
}

func newFixture(t *testing.T, withStream bool) *fixture {
	t.Helper()
	return newTracedFixture(t, withStream, nil)
}

// newTracedFixture is newFixture whose handler makes its spans with tp.
func newTracedFixture(t *testing.T, withStream bool, tp trace.TracerProvider) *fixture {
	t.Helper()
	js := testenv.JetStream(t)
	if withStream {
		if _, err := js.CreateOrUpdateStream(context.Background(), jetstream.StreamConfig{
			Name: "AML_WEBHOOKS", Subjects: []string{"aml.webhooks.>"}, Retention: jetstream.WorkQueuePolicy,
			Duplicates: time.Hour,
		}); err != nil {
			t.Fatal(err)
		}
	}
	h, err := Handler(HandlerConfig{
		Secret: secret, MaxBody: 1024, Publisher: js, PublishTimeout: time.Second,
		Subject: func(id string) string { return "aml.webhooks." + id }, Tracer: tp,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{js: js, srv: srv}
}

func webhookBody(t *testing.T, event amlapi.WebhookEvent) []byte {
	t.Helper()
	b, err := json.Marshal(amlapi.Webhook{SessionID: "s-1", Event: event, Timestamp: amlapi.NewTime(time.Now().UTC())})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fixture) post(t *testing.T, path string, body []byte, sign func(h http.Header)) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if sign != nil {
		sign(req.Header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func signed(id string, body []byte) func(http.Header) {
	return func(h http.Header) { amlapi.SetWebhookHeaders(h, secret, id, time.Now(), body) }
}

func (f *fixture) stored(t *testing.T) []jetstream.RawStreamMsg {
	t.Helper()
	s, err := f.js.Stream(context.Background(), "AML_WEBHOOKS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, *m)
	}
	return out
}

func TestBridgePublishesVerifiedWebhooksOnce(t *testing.T) {
	f := newFixture(t, true)
	body := webhookBody(t, amlapi.EventAllDone)

	if got := f.post(t, "/webhooks/lookup-1", body, signed("msg_1", body)); got != http.StatusOK {
		t.Fatalf("valid webhook: status %d, want 200", got)
	}
	// BankID re-sends the same webhook (same id): answered 200, stored once.
	if got := f.post(t, "/webhooks/lookup-1", body, signed("msg_1", body)); got != http.StatusOK {
		t.Fatalf("re-sent webhook: status %d, want 200", got)
	}
	msgs := f.stored(t)
	if len(msgs) != 1 {
		t.Fatalf("stream holds %d webhooks, want 1", len(msgs))
	}
	m := msgs[0]
	if m.Subject != "aml.webhooks.lookup-1" || !bytes.Equal(m.Data, body) {
		t.Errorf("stored %s %s", m.Subject, m.Data)
	}
	if m.Header.Get(amlapi.HeaderWebhookID) != "msg_1" || m.Header.Get(HeaderReceivedAt) == "" {
		t.Errorf("headers not carried: %v", m.Header)
	}
}

func TestBridgeRejectsWithoutPublishing(t *testing.T) {
	f := newFixture(t, true)
	body := webhookBody(t, amlapi.EventJSONDataReady)
	forged := func(h http.Header) { amlapi.SetWebhookHeaders(h, "bm90LXRoZS1zZWNyZXQ=", "msg_2", time.Now(), body) }
	stale := func(h http.Header) { amlapi.SetWebhookHeaders(h, secret, "msg_3", time.Now().Add(-time.Hour), body) }
	big := []byte(`{"sessionId":"s","event":"AllDone","pad":"` + strings.Repeat("x", 2048) + `"}`)
	garbage := []byte(`not json`)

	for _, tt := range []struct {
		name string
		path string
		body []byte
		sign func(http.Header)
		want int
	}{
		{"unsigned", "/webhooks/l1", body, nil, http.StatusUnauthorized},
		{"forged", "/webhooks/l1", body, forged, http.StatusUnauthorized},
		{"replayed an hour later", "/webhooks/l1", body, stale, http.StatusUnauthorized},
		{"too large", "/webhooks/l1", big, signed("msg_4", big), http.StatusRequestEntityTooLarge},
		{"signed garbage", "/webhooks/l1", garbage, signed("msg_5", garbage), http.StatusBadRequest},
		{"bad lookup id", "/webhooks/a.b.c", body, signed("msg_6", body), http.StatusNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := f.post(t, tt.path, tt.body, tt.sign); got != tt.want {
				t.Fatalf("status %d, want %d", got, tt.want)
			}
		})
	}
	if n := len(f.stored(t)); n != 0 {
		t.Fatalf("rejected webhooks published %d messages", n)
	}
}

func TestBridgeAnswers503WhenJetStreamCannotStore(t *testing.T) {
	f := newFixture(t, false) // no stream: the publish cannot be acknowledged
	body := webhookBody(t, amlapi.EventAllDone)
	if got := f.post(t, "/webhooks/l1", body, signed("msg_7", body)); got != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", got)
	}
}

// TestBridgeSpanPerWebhook: each webhook is a server span of its own trace
// (a traceparent the sender set is not continued), and the republished
// webhook carries that span's traceparent, for the worker's link.
func TestBridgeSpanPerWebhook(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	f := newTracedFixture(t, true, tp)
	body := webhookBody(t, amlapi.EventAllDone)
	const foreign = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	sign := func(h http.Header) { signed("msg_t", body)(h); h.Set("traceparent", foreign) }
	if got := f.post(t, "/webhooks/lookup-t", body, sign); got != http.StatusOK {
		t.Fatalf("status %d", got)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].Name != "webhook" || spans[0].SpanKind != trace.SpanKindServer {
		t.Fatalf("spans %v, want one server span webhook", spans)
	}
	sp := spans[0]
	if sp.Parent.IsValid() || sp.SpanContext.TraceID().String() == "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("the sender's traceparent was continued: parent %v", sp.Parent)
	}
	msgs := f.stored(t)
	if len(msgs) != 1 {
		t.Fatalf("%d stored", len(msgs))
	}
	want := "00-" + sp.SpanContext.TraceID().String() + "-" + sp.SpanContext.SpanID().String() + "-01"
	if got := msgs[0].Header.Get("traceparent"); got != want {
		t.Errorf("republished traceparent %q, want the bridge span's %q", got, want)
	}
	var outcome, lookupID string
	for _, a := range sp.Attributes {
		switch a.Key {
		case "kybflow.outcome":
			outcome = a.Value.AsString()
		case "kybflow.lookup_id":
			lookupID = a.Value.AsString()
		}
	}
	if outcome != "published" || lookupID != "lookup-t" {
		t.Errorf("span attributes %v", sp.Attributes)
	}
}

// TestBridgeAnswersTooLargeForTheStream: a webhook the stream refuses for
// its size (WEBHOOK_MAX_MSG_SIZE below WEBHOOK_MAX_BODY) is answered 413,
// which BankID does not retry, not 503; a tenant's lookup key is a path.
func TestBridgeAnswersTooLargeForTheStream(t *testing.T) {
	f := newFixture(t, true)
	ctx := context.Background()
	if _, err := f.js.UpdateStream(ctx, jetstream.StreamConfig{
		Name: "AML_WEBHOOKS", Subjects: []string{"aml.webhooks.>"}, Retention: jetstream.WorkQueuePolicy,
		Duplicates: time.Hour, MaxMsgSize: 600,
	}); err != nil {
		t.Fatal(err)
	}
	small := webhookBody(t, amlapi.EventAllDone)
	if got := f.post(t, "/webhooks/acme.lookup-1", small, signed("msg_small", small)); got != http.StatusOK {
		t.Fatalf("a tenant's webhook: status %d, want 200", got)
	}
	big := []byte(strings.Replace(string(small), `"sessionId"`, `"padding":"`+strings.Repeat("x", 700)+`","sessionId"`, 1))
	if got := f.post(t, "/webhooks/lookup-1", big, signed("msg_big", big)); got != http.StatusRequestEntityTooLarge {
		t.Fatalf("a webhook over the stream's MaxMsgSize: status %d, want 413", got)
	}
	if msgs := f.stored(t); len(msgs) != 1 || msgs[0].Subject != "aml.webhooks.acme.lookup-1" {
		t.Fatalf("stored %d webhooks, want the tenant's one on aml.webhooks.acme.lookup-1", len(msgs))
	}
}
