// Package bridge receives BankID's webhooks and republishes them to
// JetStream: verify, publish, answer. It answers 2xx only after JetStream has
// stored the webhook, so BankID re-sends whatever we could not keep; and it
// decides nothing about the lookup, because a webhook is only a hint that the
// worker confirms with its own status call (docs/design.md).
package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/tracing"
)

// Publisher is what the bridge needs of JetStream.
type Publisher = streams.Publisher

// Headers the bridge adds to the republished webhook.
const (
	HeaderReceivedAt = "Kybflow-Received-At"
)

// TracerName is the instrumentation scope of the bridge's spans.
const TracerName = "github.com/kybflow/kybflow/internal/bridge"

// MaxWebhookIDLength bounds the webhook-id header: it becomes the message's
// Nats-Msg-Id. Standard Webhooks ids are short (msg_ and a few dozen
// characters).
const MaxWebhookIDLength = 256

// WebhookPath is the route; the webhook URL of a lookup is
// <AML_WEBHOOK_URL>/<lookupId>, with AML_WEBHOOK_URL ending in /webhooks.
const WebhookPath = "POST /webhooks/{lookupId}"

// HandlerConfig configures the webhook handler.
type HandlerConfig struct {
	// Verifier authenticates each webhook (verify.go). Without it, Secret
	// is required.
	Verifier Verifier
	// Secret, when Verifier is nil, verifies the webhook signature
	// (Standard Webhooks, see amlapi.VerifyWebhook): one secret, or several
	// separated by spaces or commas.
	Secret string
	// Tolerance is how far a webhook's timestamp may be from now, with
	// Secret (default amlapi.DefaultWebhookTolerance).
	Tolerance time.Duration
	// MaxBody is the largest body accepted; larger ones get 413 (default 64 KiB).
	MaxBody int64
	// Subject is the JetStream subject for a lookup's webhooks.
	Subject func(lookupID string) string
	// PublishTimeout bounds the wait for JetStream's acknowledgement
	// (default 5s); past it the answer is 503.
	PublishTimeout time.Duration
	Publisher      Publisher
	Logger         *slog.Logger
	Metrics        *Metrics
	Now            func() time.Time
	// Tracer makes a server span per webhook (default: a no-op provider).
	Tracer trace.TracerProvider
}

// Metrics of the bridge.
type Metrics struct {
	Webhooks  *prometheus.CounterVec // by outcome
	Published *prometheus.CounterVec // by auth
}

// NewMetrics registers the bridge's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{Webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kybflow_bridge_webhooks_total",
		Help: "Webhooks received, by outcome (published, duplicate, unauthorized, rate_limited, too_large, bad_request, unavailable).",
	}, []string{"outcome"}), Published: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kybflow_bridge_webhooks_published_total",
		Help: "Webhooks published, by how they were authenticated (standard-webhooks, bearer-token, bearer-jwt, or hint: not at all).",
	}, []string{"auth"})}
	reg.MustRegister(m.Webhooks, m.Published)
	return m
}

// Handler returns the webhook handler.
func Handler(cfg HandlerConfig) (http.Handler, error) {
	if cfg.Subject == nil || cfg.Publisher == nil {
		return nil, errors.New("bridge: Subject and Publisher are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Verifier == nil {
		if cfg.Secret == "" {
			return nil, errors.New("bridge: a webhook secret or a Verifier is required")
		}
		v, err := NewStandardWebhooks(cfg.Secret, cfg.Tolerance, cfg.Now)
		if err != nil {
			return nil, fmt.Errorf("bridge: %w", err)
		}
		cfg.Verifier = v
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 64 << 10
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(prometheus.NewRegistry())
	}
	if cfg.Tracer == nil {
		cfg.Tracer = noop.NewTracerProvider()
	}
	tracer := cfg.Tracer.Tracer(TracerName)
	mux := http.NewServeMux()
	mux.HandleFunc(WebhookPath, func(w http.ResponseWriter, r *http.Request) {
		// A span of its own, in a trace of its own: a traceparent the
		// sender set is not trusted (anyone can call this endpoint). The
		// worker's span that handles the webhook is in the lookup's trace,
		// linked to this one (the message's traceparent header).
		ctx, span := tracer.Start(r.Context(), "webhook", trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("http.route", "/webhooks/{lookupId}")))
		if id := r.PathValue("lookupId"); kybflow.ValidLookupKey(id) {
			span.SetAttributes(attribute.String("kybflow.lookup_id", id))
		}
		outcome, status, msg, retryAfter := receive(r.WithContext(ctx), cfg)
		span.SetAttributes(attribute.String("kybflow.outcome", outcome), attribute.Int("http.response.status_code", status))
		if status >= 500 {
			span.SetStatus(codes.Error, outcome)
		}
		span.End()
		cfg.Metrics.Webhooks.WithLabelValues(outcome).Inc()
		switch {
		case status >= 500:
			w.Header().Set("Retry-After", "5")
		case retryAfter > 0:
			w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Round(time.Second)/time.Second)))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": outcome, "message": msg})
	})
	return mux, nil
}

// receive handles one webhook and says how it went: the outcome label, the
// HTTP status, a message for the caller, and for a 429 when to try again.
func receive(r *http.Request, cfg HandlerConfig) (outcome string, status int, message string, retryAfter time.Duration) {
	log := cfg.Logger
	lookupID := r.PathValue("lookupId") // the lookup's key: a lookupId, or tenant.lookupId
	if !kybflow.ValidLookupKey(lookupID) {
		return "bad_request", http.StatusNotFound, "unknown webhook path", 0
	}
	if id := r.Header.Get(amlapi.HeaderWebhookID); len(id) > MaxWebhookIDLength {
		// Permanent: no retry makes it shorter (and JetStream would refuse
		// it as a Nats-Msg-Id anyway).
		return "bad_request", http.StatusBadRequest, fmt.Sprintf("%s over %d bytes", amlapi.HeaderWebhookID, MaxWebhookIDLength), 0
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, cfg.MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return "too_large", http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", cfg.MaxBody), 0
		}
		return "bad_request", http.StatusBadRequest, "cannot read body", 0
	}
	auth, err := cfg.Verifier.Verify(r, lookupID, body)
	var limited *HintLimitedError
	switch {
	case errors.As(err, &limited):
		// Debug: a flood of hints must not flood the log too; the
		// rate_limited outcome counts them.
		log.Debug("webhook hint refused: over the limit for its lookup", "lookup_id", lookupID, "err", err)
		return "rate_limited", http.StatusTooManyRequests, "too many webhooks for this lookup; retry later", limited.RetryAfter
	case err != nil:
		log.Warn("webhook rejected", "lookup_id", lookupID, "err", err)
		return "unauthorized", http.StatusUnauthorized, "invalid or missing webhook authentication", 0
	}
	var hint amlapi.Webhook
	if err := json.Unmarshal(body, &hint); err != nil || hint.SessionID == "" || hint.Event == "" {
		return "bad_request", http.StatusBadRequest, "body is not a webhook with sessionId and event", 0
	}

	msg := &nats.Msg{Subject: cfg.Subject(lookupID), Data: body, Header: nats.Header{}}
	for _, h := range []string{amlapi.HeaderWebhookID, amlapi.HeaderWebhookTimestamp} {
		msg.Header.Set(h, r.Header.Get(h))
	}
	msg.Header.Set(HeaderReceivedAt, cfg.Now().UTC().Format(time.RFC3339Nano))
	msg.Header.Set(HeaderAuth, auth)
	tracing.Inject(r.Context(), msg.Header) // the bridge's span, for the worker's link
	ctx, cancel := context.WithTimeout(r.Context(), cfg.PublishTimeout)
	defer cancel()
	// The webhook id is the same on every re-send of one webhook, so the
	// stream keeps one copy however often BankID sends it.
	ack, err := cfg.Publisher.PublishMsg(ctx, msg, jetstream.WithMsgID(r.Header.Get(amlapi.HeaderWebhookID)))
	var api *jetstream.APIError
	if errors.As(err, &api) && api.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum || errors.Is(err, nats.ErrMaxPayload) {
		// Larger than the stream takes (WEBHOOK_MAX_MSG_SIZE): no retry
		// makes it smaller. Polling finds the result anyway.
		log.Warn("webhook larger than the webhooks stream takes; refused", "lookup_id", lookupID, "bytes", len(body), "err", err)
		return "too_large", http.StatusRequestEntityTooLarge, "webhook larger than the stream takes", 0
	}
	if err != nil {
		log.Error("webhook not published", "lookup_id", lookupID, "session_id", hint.SessionID, "err", err)
		return "unavailable", http.StatusServiceUnavailable, "cannot store the webhook now; retry", 0
	}
	if ack.Duplicate {
		return "duplicate", http.StatusOK, "already received", 0
	}
	cfg.Metrics.Published.WithLabelValues(auth).Inc()
	log.Info("webhook published", "lookup_id", lookupID, "session_id", hint.SessionID, "event", string(hint.Event), "auth", auth)
	return "published", http.StatusOK, "received", 0
}
