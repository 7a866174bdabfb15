package amlapi

// Webhooks on the wire (see model.go; confirmed event names; model payload and
// signature).

// WebhookEvent names a webhook event (confirmed). Unknown values are tolerated.
type WebhookEvent string

// The webhook events (confirmed).
const (
	EventJSONDataReady WebhookEvent = "JsonDataReady"
	EventReportReady   WebhookEvent = "ReportReady"
	EventAllDone       WebhookEvent = "AllDone"
	EventFailed        WebhookEvent = "Failed"
)

// AllWebhookEvents lists every event, in the order a session emits them.
var AllWebhookEvents = []WebhookEvent{EventJSONDataReady, EventReportReady, EventAllDone, EventFailed}

// Webhook is the JSON body the API POSTs to a webhook URL (model).
type Webhook struct {
	SessionID string       `json:"sessionId"`
	Event     WebhookEvent `json:"event"`
	Report    ReportType   `json:"report,omitempty"` // ReportReady only
	Timestamp Time         `json:"timestamp"`
}

// Webhook signature headers (model: the Standard Webhooks scheme). See
// webhook.go for signing and verifying.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)
