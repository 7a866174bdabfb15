package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/testenv"
)

// FuzzWebhookBody sends arbitrary signed bodies and lookup ids: the bridge
// answers only 200, 400, 404 or 413, never panics, and publishes nothing
// but well-formed webhooks.
func FuzzWebhookBody(f *testing.F) {
	js := testenv.JetStream(f)
	if _, err := js.CreateOrUpdateStream(context.Background(), jetstream.StreamConfig{
		Name: "AML_WEBHOOKS", Subjects: []string{"aml.webhooks.>"}, Duplicates: time.Minute,
	}); err != nil {
		f.Fatal(err)
	}
	h, err := Handler(HandlerConfig{
		Secret: secret, MaxBody: 4096, Publisher: js, PublishTimeout: 2 * time.Second,
		Subject: func(id string) string { return "aml.webhooks." + id },
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("lookup-1", []byte(`{"sessionId":"s","event":"AllDone","timestamp":"2026-01-01T00:00:00Z"}`))
	f.Add("x", []byte(`{"sessionId":"","event":"AllDone"}`))
	f.Add("x", []byte(`[]`))
	f.Add("a.b", []byte(`{}`))
	f.Add("%2e%2e", []byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, lookupID string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/x", bytes.NewReader(body))
		req.SetPathValue("lookupId", lookupID)
		amlapi.SetWebhookHeaders(req.Header, secret, "msg_fuzz_"+time.Now().Format(time.RFC3339Nano), time.Now(), body)
		rec := httptest.NewRecorder()
		// Route through the mux pattern's handler directly: the path value
		// is what matters, not URL escaping.
		mux := h.(*http.ServeMux)
		handler, _ := mux.Handler(httptest.NewRequest(http.MethodPost, "/webhooks/x", nil))
		handler.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			var w amlapi.Webhook
			if err := json.Unmarshal(body, &w); err != nil || w.SessionID == "" || w.Event == "" || !kybflow.ValidLookupKey(lookupID) {
				t.Fatalf("published %q for lookup %q", body, lookupID)
			}
		case http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d for lookup %q body %q", rec.Code, lookupID, body)
		}
	})
}
