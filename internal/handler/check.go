package handler

// Checks and webhooks: a check (a poll) or a webhook (a hint, confirmed
// with our own status call) moves an opened session's results into
// storage (collect.go).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/tracing"
)

// Check polls one session: it stores whatever results are ready, ends the
// lookup when all are stored or the session failed, and otherwise asks to
// be redelivered after the next poll interval.
func (h *Handlers) Check(ctx context.Context, msg jetstream.Msg) (o outcome) {
	// The check carries its lookup's trace (announceOpened), the same on
	// every delivery.
	ctx, span := h.tracer.Start(tracing.Extract(ctx, msg.Headers()), "lookup check",
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(deliveryAttrs(msg)...))
	defer func() { endMessage(ctx, span, o) }()
	var cm CheckMessage
	if err := json.Unmarshal(msg.Data(), &cm); err != nil || !kybflow.ValidLookupKey(cm.LookupID) {
		return drop(fmt.Errorf("check message %q is not {\"lookupId\": ...}", truncate(msg.Data(), 100)))
	}
	span.SetAttributes(AttrLookupID.String(cm.LookupID))
	var n uint64 = 1
	published := h.c.Now()
	if md, err := msg.Metadata(); err == nil {
		n, published = md.NumDelivered, md.Timestamp
	}
	if after := time.Duration(cm.PollAfterMs) * time.Millisecond; after > 0 && n == 1 {
		// Polled by the command that opened the session just before it
		// published this check (announceOpened): the first delivery waits
		// out the rest of that, once, and never longer than that (the
		// stream's clock may be ahead of ours).
		if wait := min(after-h.c.Now().Sub(published), after); wait > 0 {
			return retryAfter(errNotReady, wait)
		}
	}
	// A check exists only once its lookup is opened. A read that says
	// otherwise may come from a key-value replica that lags behind (reads
	// are served by followers on a cluster): never drop the lookup's only
	// check on it. A check older than any lookup can wait belongs to a
	// record that retention removed (or a hand deleted): that one goes.
	rec, rev, err := h.c.Lookups.Get(ctx, cm.LookupID)
	if errors.Is(err, lookups.ErrNotFound) {
		if h.c.Now().Sub(published) < lookups.Outlived(h.c.MaxWait) {
			return retryAfter(err, laggingReadRetry)
		}
		h.log.Warn("check for a lookup that no longer exists; dropped", "lookup_id", cm.LookupID)
		return done()
	}
	if err != nil {
		return h.readError(err)
	}
	switch {
	case rec.State.Terminal():
		return h.finish(ctx, rec)
	case rec.State == lookups.Erased:
		return done() // erased mid-flight (amlctl erase --force): nothing more to do
	case rec.State != lookups.Opened:
		return retryAfter(fmt.Errorf("check for lookup %s in state %s: a lagging read", cm.LookupID, rec.State), laggingReadRetry)
	}
	if ended, o := h.progress(ctx, rec, rev); ended || !o.IsAck() {
		return o
	}
	return retryAfter(errNotReady, h.pollDelay(n))
}

func (h *Handlers) pollDelay(n uint64) time.Duration {
	limit := h.c.Poll.Max
	if h.c.WebhookURL != "" {
		limit = h.c.Poll.MaxWithWebhooks
	}
	return streams.Backoff{Initial: h.c.Poll.Initial, Max: limit}.Delay(n)
}

// Webhook handles a webhook republished by the bridge. It is a hint: the
// lookup's own record names the session, and progress asks the API for its
// status with our own token before anything is stored.
func (h *Handlers) Webhook(ctx context.Context, msg jetstream.Msg) (o outcome) {
	// Its span is in the lookup's trace (the record's), linked to the
	// bridge's span that received it (the message's traceparent); until
	// the record is read, in the bridge's trace.
	bridge := tracing.SpanContextOf(msg.Headers()) //nolint:contextcheck // only the header's span context, not ctx's
	var span trace.Span
	defer func() {
		if span == nil { // ended before the record was read
			_, span = h.tracer.Start(trace.ContextWithRemoteSpanContext(ctx, bridge), "lookup webhook",
				trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(deliveryAttrs(msg)...))
		}
		endMessage(ctx, span, o)
	}()
	lookupID, ok := streams.NamesOf(h.c.Subjects).WebhookLookupID(msg.Subject())
	if !ok {
		return drop(fmt.Errorf("webhook on subject %q: not a webhook subject with a lookupId", truncate([]byte(msg.Subject()), 200)))
	}
	var wh amlapi.Webhook
	if err := json.Unmarshal(msg.Data(), &wh); err != nil {
		return drop(fmt.Errorf("webhook for %s is not JSON: %w", lookupID, err))
	}
	h.c.Metrics.Webhooks.WithLabelValues(webhookEventLabel(wh.Event)).Inc()
	rec, rev, err := h.c.Lookups.Get(ctx, lookupID)
	if errors.Is(err, lookups.ErrNotFound) {
		h.log.Warn("webhook for an unknown lookup; ignored", "lookup_id", lookupID, "event", webhookEventLabel(wh.Event))
		return done()
	}
	if err != nil {
		return h.readError(err)
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(append(deliveryAttrs(msg), AttrLookupID.String(lookupID), AttrWebhookEvent.String(webhookEventLabel(wh.Event)))...)}
	if bridge.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: bridge}))
	}
	ctx, span = h.tracer.Start(lookupContext(ctx, rec), "lookup webhook", opts...)
	switch {
	case rec.State.Terminal():
		return h.finish(ctx, rec) // late or duplicate: at most re-publish the ending
	case rec.State == lookups.Erased:
		return done()
	case rec.State != lookups.Opened:
		// BankID can call back before we recorded the session id.
		return retryAfter(fmt.Errorf("webhook for %s before its session was recorded", lookupID), laggingReadRetry)
	case wh.SessionID != rec.SessionID:
		h.log.Warn("webhook names another session than the lookup's; ignored", "lookup_id", lookupID, "event", webhookEventLabel(wh.Event))
		return done()
	}
	_, o = h.progress(ctx, rec, rev)
	return o
}

// webhookEventLabel is the metric label of a webhook's event: one of the
// known events, or "other", so that a sender cannot make new series.
func webhookEventLabel(e amlapi.WebhookEvent) string {
	if slices.Contains(amlapi.AllWebhookEvents, e) {
		return string(e)
	}
	return "other"
}

// CheckMessage is the body of a check: which lookup to look at. It is the
// worker's own (no platform publishes or reads checks).
type CheckMessage struct {
	// LookupID is the lookup's key (kybflow.LookupKey): its lookupId, or
	// <tenant>.<lookupId>.
	LookupID string `json:"lookupId"`
	// PollAfterMs, when set, is how long after the check was stored its
	// first poll is due, in milliseconds: the command that opened the
	// session polled it once already, just before publishing the check. Its
	// first delivery waits out what is left of it (measured by the stream's
	// timestamp, so another replica's clock can delay it by this much at
	// most). Older workers, which do not know it, poll at once.
	PollAfterMs int64 `json:"pollAfterMs,omitempty"`
}

// checkMsgID is the Nats-Msg-Id of a lookup's first check: the stream keeps
// one, however often it is scheduled again after a crash.
func checkMsgID(key string) string { return key + ".check" }
