package handler

// Endings: a lookup ends once, completed or failed, claimed by
// compare-and-set on its record before its event is published.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/tracing"
)

func (h *Handlers) complete(ctx context.Context, rec lookups.Record, rev uint64) error {
	rec.State, rec.FinishedAt = lookups.Completed, h.c.Now()
	return h.end(ctx, rec, rev)
}

// fail ends a lookup with a failed event, then drops the message that
// failed it; while the ending cannot be published yet, it asks for a retry.
func (h *Handlers) fail(ctx context.Context, rec lookups.Record, rev uint64, code kybflow.FailureCode, reason string) error {
	data := rec.Command.FailedData(code, reason)
	data.SessionID = rec.SessionID
	rec.State, rec.Failure, rec.FinishedAt, rec.LeaseUntil = lookups.Failed, &data, h.c.Now(), time.Time{}
	if err := h.end(ctx, rec, rev); err != nil {
		return err
	}
	// The reason is the event's, not the server's: it may quote what the
	// API said about the identifier, and a term reason ends up in
	// JetStream's advisories.
	return drop(fmt.Errorf("lookup %s failed: %s", rec.Command.LookupID, code))
}

// end makes a lookup terminal: it first claims the ending by compare-and-set
// on the record, so that of two replicas ending one lookup (a poll and a
// webhook; one seeing it complete, the other a result just expired) only one
// ending exists, then publishes it. The loser publishes the winner's ending
// if that is not out yet. A crash between the claim and the publish leaves a
// terminal record whose event is not marked published: any later delivery
// for the lookup publishes it (finish).
func (h *Handlers) end(ctx context.Context, rec lookups.Record, rev uint64) error {
	rec.EndedBy = deliveryOf(ctx)
	next, err := h.c.Lookups.Update(ctx, rec, rev)
	if errors.Is(err, lookups.ErrConflict) {
		cur, curRev, gerr := h.c.Lookups.Get(ctx, rec.Command.LookupID)
		if gerr != nil {
			return h.readError(gerr)
		}
		if cur.State.Terminal() {
			return h.finish(ctx, cur, curRev)
		}
		if cur.State == lookups.Erased {
			return h.erasedMeanwhile(ctx, rec)
		}
		// Another replica moved it (stored an artifact): decide again.
		return retryAfter(err, conflictRetry)
	}
	if err != nil {
		return retryBackoff(err)
	}
	if rec.State == lookups.Failed {
		// The reason stays in the failed event: it may quote the identifier
		// (a mistyped one can be a personal identification number).
		h.log.Warn("lookup failed", "lookup_id", rec.Command.LookupID, "code", string(rec.Failure.Code))
	}
	return h.finish(ctx, rec, next)
}

// finish publishes the terminal event of a record that is terminal in the
// store. It returns nil once the event is out, or is the business of the
// message that ended the lookup:
//
//   - Ended by a command or a check (rec.EndedBy): that message stays
//     unacknowledged until its handler has published the ending, and is
//     redelivered without limit. So finish publishes only for a delivery
//     of that very message (a crash or a failed publish before; the stream
//     drops a repeat by its id), and marks nothing: on the happy path the
//     ending costs one write of the record.
//   - Ended by a webhook, whose deliveries are bounded, or by an older
//     version: finish publishes for any delivery, then marks the record
//     (Published), and publishes nothing once it is marked. A crash before
//     the mark re-publishes with the same id, which the stream drops.
func (h *Handlers) finish(ctx context.Context, rec lookups.Record, rev uint64) error {
	var kind kybflow.Kind
	var data any
	switch rec.State {
	case lookups.Completed:
		d := rec.Command.CompletedData(rec.SessionID, rec.Artifacts)
		if len(rec.OmittedExpands) > 0 {
			d.OmittedExpands = rec.OmittedExpands
		}
		kind, data = kybflow.KindCompleted, d
	case lookups.Failed:
		kind, data = kybflow.KindFailed, *rec.Failure
	default:
		return retryBackoff(fmt.Errorf("finish lookup %s in state %s", rec.Command.LookupID, rec.State))
	}
	if slices.Contains(rec.Published, string(kind)) {
		return nil
	}
	carried := h.carriesEnding(rec.EndedBy)
	if self := deliveryOf(ctx); carried && (self == nil || *self != *rec.EndedBy) {
		return nil // the message that ended it publishes it (see above)
	}
	first, err := h.publishEvent(ctx, kind, rec.Command.LookupID, data)
	if err != nil {
		return retryBackoff(err)
	}
	if first { // a poll and a webhook may both get here; the stream kept one event
		if kind == kybflow.KindCompleted {
			h.c.Metrics.lookupCompleted(rec)
		} else {
			h.c.Metrics.lookupFailed(rec.Failure.Code)
		}
	}
	if carried {
		return nil
	}
	rec.Published = append(rec.Published, string(kind))
	if _, err := h.c.Lookups.Update(ctx, rec, rev); err != nil {
		if errors.Is(err, lookups.ErrConflict) {
			// Another replica marked it too: the record is terminal either
			// way, and the event it published has the same id as ours.
			return nil
		}
		return retryBackoff(err)
	}
	return nil
}

// carriesEnding reports whether the message d, which ended a lookup, is
// redelivered until its handler has published the ending: a command or a
// check (consumers with no MaxDeliver), not a webhook.
func (h *Handlers) carriesEnding(d *lookups.Delivery) bool {
	return d != nil && (d.Stream == h.c.Subjects.CommandsStream() || d.Stream == h.c.Subjects.ChecksStream())
}

// deliveryKey is the context key of the message a handler runs for.
type deliveryKey struct{}

// withDelivery is ctx for the handler of msg: the ending it writes names
// msg (Record.EndedBy).
func withDelivery(ctx context.Context, msg jetstream.Msg) context.Context {
	d := &lookups.Delivery{}
	if md, err := msg.Metadata(); err == nil {
		d.Stream, d.Seq = md.Stream, md.Sequence.Stream
	}
	return context.WithValue(ctx, deliveryKey{}, d)
}

// deliveryOf is the message ctx's handler runs for (nil outside of one).
func deliveryOf(ctx context.Context) *lookups.Delivery {
	if d, ok := ctx.Value(deliveryKey{}).(*lookups.Delivery); ok && d.Stream != "" {
		return d
	}
	return nil
}

// ensureEvent publishes a non-terminal event once (marked in rec.Published;
// the caller writes the record).
func (h *Handlers) ensureEvent(ctx context.Context, rec *lookups.Record, kind kybflow.Kind, data any) error {
	if slices.Contains(rec.Published, string(kind)) {
		return nil
	}
	if _, err := h.publishEvent(ctx, kind, rec.Command.LookupID, data); err != nil {
		return retryBackoff(err)
	}
	rec.Published = append(rec.Published, string(kind))
	return nil
}

// publishEvent publishes an event with its stable id as Nats-Msg-Id. It
// reports whether this was the first publish of that id (the stream drops
// the others within its duplicate window).
//
// The event carries the publish span's trace context, as its traceparent
// (and tracestate) attribute and as the same NATS headers, for a consumer
// to continue the lookup's trace.
func (h *Handlers) publishEvent(ctx context.Context, kind kybflow.Kind, lookupID string, data any) (first bool, err error) {
	ctx, span := h.tracer.Start(ctx, "publish "+string(kind), trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
		AttrLookupID.String(lookupID), AttrEventKind.String(string(kind)), attribute.String("messaging.system", "nats")))
	defer func() {
		if err == nil {
			span.SetAttributes(AttrDuplicate.Bool(!first))
		}
		endStep(span, err)
	}()
	ev, err := kybflow.NewEvent(h.c.Source, kind, lookupID, h.c.Now(), data)
	if err != nil {
		return false, fmt.Errorf("event %s of %s: %w", kind, lookupID, err)
	}
	ev.TraceParent, ev.TraceState = tracing.Traceparent(ctx)
	b, err := kybflow.EncodeEvent(ev)
	if err != nil {
		return false, err
	}
	hdr := nats.Header{}
	hdr.Set("Content-Type", kybflow.ContentTypeCloudEvents)
	tracing.Inject(ctx, hdr)
	dup, err := streams.Publish(ctx, h.c.Publisher, h.c.Subjects.Event(lookupID, kind), b, ev.ID, hdr)
	if err != nil {
		return false, err
	}
	if !dup {
		h.c.Metrics.Events.WithLabelValues(string(kind)).Inc()
	}
	return !dup, nil
}
