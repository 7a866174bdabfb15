package handler

import (
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/amlapi"
)

// The webhook metric's label comes from a closed set: a signed webhook
// with an event of its own making adds no series.
func TestWebhookEventLabelIsClosed(t *testing.T) {
	for _, e := range amlapi.AllWebhookEvents {
		if got := webhookEventLabel(e); got != string(e) {
			t.Errorf("label of %s = %q", e, got)
		}
	}
	for _, e := range []amlapi.WebhookEvent{"", "jsondataready", amlapi.WebhookEvent(strings.Repeat("x", 200))} {
		if got := webhookEventLabel(e); got != "other" {
			t.Errorf("label of %.20q = %q, want other", e, got)
		}
	}
}
