package handler

// Tracing: a lookup's trace is its command's (the traceparent on the
// command's NATS headers, or one the command's span starts). The record
// keeps it, so that the checks and webhooks handled later, by any replica,
// are spans of the same trace; a webhook's span links to the bridge's.
//
// Spans carry ids, names of steps and artifacts, sizes, kinds and
// outcomes: never the identifier, the correlationId or metadata, results,
// URLs, or error texts (which may quote what the API said about the
// identifier).

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/tracing"
)

// TracerName is the instrumentation scope of the handlers' spans.
const TracerName = "github.com/kybflow/kybflow/internal/handler"

// Span attributes.
const (
	AttrLookupID     = attribute.Key("kybflow.lookup_id")
	AttrSessionID    = attribute.Key("kybflow.session_id")
	AttrArtifact     = attribute.Key("kybflow.artifact")
	AttrSize         = attribute.Key("kybflow.size_bytes")
	AttrEventKind    = attribute.Key("kybflow.event_kind")
	AttrOutcome      = attribute.Key("kybflow.outcome")
	AttrStatus       = attribute.Key("kybflow.session_status")
	AttrDelivery     = attribute.Key("messaging.message.delivery_count")
	AttrDuplicate    = attribute.Key("kybflow.duplicate")
	AttrLookupType   = attribute.Key("kybflow.lookup_type")
	AttrCountry      = attribute.Key("kybflow.country")
	AttrWebhookEvent = attribute.Key("kybflow.webhook_event")
)

// deliveryAttrs are the attributes of a handled message's span.
func deliveryAttrs(msg jetstream.Msg) []attribute.KeyValue {
	out := []attribute.KeyValue{attribute.String("messaging.system", "nats")}
	if md, err := msg.Metadata(); err == nil {
		out = append(out, AttrDelivery.Int64(int64(md.NumDelivered)))
	}
	return out
}

// lookupContext is ctx with the lookup's trace, the record's (ctx as it
// is for a record made before lookups were traced).
func lookupContext(ctx context.Context, rec lookups.Record) context.Context {
	if rec.Traceparent == "" {
		return ctx
	}
	return tracing.WithTraceparent(ctx, rec.Traceparent, rec.Tracestate)
}

// traceOf is the trace of ctx, for a record being created.
func traceOf(ctx context.Context) lookups.Trace {
	p, s := tracing.Traceparent(ctx)
	return lookups.Trace{Parent: p, State: s}
}

// endMessage ends the span of a handled message with the acknowledgement
// its result asks for.
func endMessage(ctx context.Context, span trace.Span, o outcome) {
	act, _ := streams.Decide(ctx, o, 1, streams.Backoff{})
	span.SetAttributes(AttrOutcome.String(act.String()))
	// Waiting for a session's results is the normal course, not an error.
	if act == streams.ActTerm || (act == streams.ActRetry && !errors.Is(o.Err(), errNotReady)) {
		span.SetStatus(codes.Error, act.String())
	}
	span.End()
}

// endStep ends the span of one step (a call, a download, an upload, a
// publish): an error sets its status, without the error's text.
func endStep(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, "failed")
	}
	span.End()
}
