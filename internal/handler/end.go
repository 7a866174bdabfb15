package handler

// Endings: a lookup ends once, completed or failed, claimed by
// compare-and-set on its record before its event is published.

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/tracing"
)

// complete ends an opened lookup completed, with the results res stored
// by this delivery.
func (h *Handlers) complete(ctx context.Context, rec lookups.Record, rev uint64, res results) outcome {
	seen, now := rec.Phase(), h.c.Now()
	return h.end(ctx, rec, rev, res, func(r *lookups.Record) error { return r.Complete(seen, now) })
}

// fail ends a lookup with a failed event, then drops the message that
// failed it; while the ending cannot be published yet, it asks for a retry.
// The results res that this delivery stored are recorded with it.
func (h *Handlers) fail(ctx context.Context, rec lookups.Record, rev uint64, res results, code kybflow.FailureCode, reason string) outcome {
	data := rec.Command.FailedData(code, reason)
	data.SessionID = rec.SessionID
	seen, now := rec.Phase(), h.c.Now()
	if o := h.end(ctx, rec, rev, res, func(r *lookups.Record) error { return r.Fail(seen, data, now) }); !o.IsAck() {
		return o
	}
	// The reason is the event's, not the server's: it may quote what the
	// API said about the identifier, and a term reason ends up in
	// JetStream's advisories.
	return drop(fmt.Errorf("lookup %s failed: %s", rec.Command.Key(), code))
}

// end makes a lookup terminal by the transition ending (with the results
// res recorded on the same write), then publishes its event. The
// compare-and-set on the record claims the ending, so that of two replicas
// ending one lookup (a poll and a webhook; one seeing it complete, the
// other a result just expired) only one ending exists. The loser, refused
// with lookups.ErrEnded, publishes the winner's ending if that is not out
// yet (finish). A crash between the write and the publish leaves a
// terminal record whose event is not out: any later delivery for the
// lookup publishes it (finish).
func (h *Handlers) end(ctx context.Context, rec lookups.Record, rev uint64, res results, ending lookups.Transition) outcome {
	ended, _, err := h.c.Lookups.Apply(ctx, rec, rev, lookups.Then(res.store(rec.Phase()), ending))
	switch {
	case errors.Is(err, lookups.ErrEnded):
		return h.finish(ctx, ended)
	case errors.Is(err, lookups.ErrErased):
		return h.erasedMeanwhile(ctx, rec, res)
	case errors.Is(err, lookups.ErrMoved):
		// Another replica moved it (took over a claim): decide again.
		return retryAfter(err, conflictRetry)
	case err != nil:
		return h.readError(err)
	}
	if ended.State == lookups.Failed {
		// The reason stays in the failed event: it may quote the identifier
		// (a mistyped one can be a personal identification number).
		h.log.Warn("lookup failed", "lookup_id", ended.Command.Key(), "code", string(ended.Failure.Code))
	}
	return h.publishEnding(ctx, ended)
}

// finish makes sure that the terminal event of a record found terminal in
// the store is out; it runs for a delivery after the one that wrote the
// ending (a redelivery, a duplicate command, a late webhook or poll). The
// events stream is the record of what was published: finish reads the last
// of the lookup's events there (from the stream's leader), and
//
//   - the ending (or the lookup's erased event) is last: it is out, and
//     nothing is published, however late this delivery comes;
//   - another of its events is last, and the ending is not among its
//     events (the writer died before publishing): it is published (an
//     ending followed by an event a held-up replica published late is
//     found by a second read);
//   - none is kept (expired, purged, erased): it is published only within
//     the stream's duplicate window of the ending, where a repeat is
//     dropped; after that, it may have been out and gone, and is not.
//
// Two deliveries that both find it missing publish the same id, which the
// stream keeps once.
func (h *Handlers) finish(ctx context.Context, rec lookups.Record) outcome {
	kind, _, err := ending(rec)
	if err != nil {
		return retryBackoff(err)
	}
	id := rec.Command.Key()
	last, err := h.lastEvent(ctx, h.c.Subjects.EventsFor(id))
	switch {
	case err == nil:
		if last.Subject == h.c.Subjects.Event(id, kind) || last.Subject == h.c.Subjects.Event(id, kybflow.KindErased) {
			return done()
		}
		// Another event last: a replica held up for hours may have
		// published it after the ending. Is the ending there at all?
		_, err = h.lastEvent(ctx, h.c.Subjects.Event(id, kind))
		if err == nil {
			return done()
		}
		if !errors.Is(err, jetstream.ErrMsgNotFound) {
			return retryBackoff(fmt.Errorf("is the %s event of %s out: %w", kind, id, err))
		}
	case !errors.Is(err, jetstream.ErrMsgNotFound):
		return retryBackoff(fmt.Errorf("is the %s event of %s out: %w", kind, id, err))
	case h.c.Now().Sub(rec.FinishedAt) >= h.c.DuplicateWindow:
		h.log.Warn("ended lookup with none of its events kept, past the duplicate window; its ending is not published again", "lookup_id", id, "kind", string(kind))
		return done()
	}
	if o := h.publishEnding(ctx, rec); !o.IsAck() {
		return o
	}
	h.c.Metrics.EndingsRepaired.Inc()
	h.log.Info("ending published by a later delivery (its writer did not publish it)", "lookup_id", id, "kind", string(kind))
	return done()
}

// lastEvent reads the last event on subject from the events stream,
// bounded like a record read (lookups.RequestTimeout): a read whose answer
// was lost with a server (a leader that died mid-request) must fail in
// seconds and be retried, not hold the handler, and with it a slot of the
// consume loop, for the handler's whole deadline.
func (h *Handlers) lastEvent(ctx context.Context, subject string) (*jetstream.RawStreamMsg, error) {
	ctx, cancel := context.WithTimeout(ctx, lookups.RequestTimeout)
	defer cancel()
	return h.c.Events.GetLastMsgForSubject(ctx, subject)
}

// publishEnding publishes the terminal event of rec, just made terminal (or
// found terminal without it, finish). It returns nil once it is out.
func (h *Handlers) publishEnding(ctx context.Context, rec lookups.Record) outcome {
	kind, data, err := ending(rec)
	if err != nil {
		return retryBackoff(err)
	}
	if changed, ok := changedData(rec); ok && kind == kybflow.KindCompleted {
		// Before the ending: an ending found last in the stream means
		// both are out (finish).
		if _, err := h.publishEvent(ctx, kybflow.KindChanged, rec.Command.Key(), changed); err != nil {
			return retryBackoff(err)
		}
	}
	first, err := h.publishEvent(ctx, kind, rec.Command.Key(), data)
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
	return done()
}

// changedData is the data of the changed event of a monitor's run whose
// comparison found a change.
func changedData(rec lookups.Record) (kybflow.ChangedData, bool) {
	m, c := rec.Command.Monitor, rec.Comparison
	if m == nil || c == nil || !c.Changed || c.Diff == nil {
		return kybflow.ChangedData{}, false
	}
	return kybflow.ChangedData{
		LookupID: rec.Command.LookupID, Tenant: rec.Command.Tenant, CorrelationID: rec.Command.CorrelationID, Metadata: rec.Command.Metadata,
		MonitorID: m.MonitorID, PreviousLookupID: c.PreviousLookupID, Blocks: c.Blocks, Diff: *c.Diff,
	}, true
}

// ending is the kind and data of a terminal record's event.
func ending(rec lookups.Record) (kybflow.Kind, any, error) {
	switch rec.State {
	case lookups.Completed:
		d := rec.Command.CompletedData(rec.SessionID, rec.Artifacts)
		if len(rec.OmittedExpands) > 0 {
			d.OmittedExpands = rec.OmittedExpands
		}
		for _, r := range slices.Sorted(slices.Values(rec.MissingReports)) {
			d.MissingReports = append(d.MissingReports, kybflow.ReportType(r))
		}
		// None for a JSON stored by a worker before summaries, and none
		// when this worker cannot publish the record's (one a newer worker
		// wrote, with a value this one does not know): the ending matters
		// more than its summary.
		if rec.Summary != nil && rec.Summary.Validate() == nil {
			d.Summary = rec.Summary
		}
		if m, c := rec.Command.Monitor, rec.Comparison; m != nil && c != nil && c.PreviousLookupID != "" {
			run := *m
			run.PreviousLookupID, run.Changed = c.PreviousLookupID, &c.Changed
			d.Monitor = &run
		}
		return kybflow.KindCompleted, d, nil
	case lookups.Failed:
		return kybflow.KindFailed, *rec.Failure, nil
	}
	return "", nil, fmt.Errorf("finish lookup %s in state %s", rec.Command.Key(), rec.State)
}

// publishOnce publishes a non-terminal event of rec unless its record
// marks it published already; the caller marks it with its next
// transition (lookups.Record.MarkPublished), or relies on the stream to
// drop a repeat by its Nats-Msg-Id.
func (h *Handlers) publishOnce(ctx context.Context, rec lookups.Record, kind kybflow.Kind, data any) outcome {
	if rec.HasPublished(kind) {
		return done()
	}
	if _, err := h.publishEvent(ctx, kind, rec.Command.Key(), data); err != nil {
		return retryBackoff(err)
	}
	return done()
}

// publishEvent publishes an event with its stable id as Nats-Msg-Id. It
// reports whether this was the first publish of that id (the stream drops
// the others within its duplicate window).
//
// The event carries the publish span's trace context, as its traceparent
// (and tracestate) attribute and as the same NATS headers, for a consumer
// to continue the lookup's trace.
func (h *Handlers) publishEvent(ctx context.Context, kind kybflow.Kind, lookupID string, data any) (first bool, err error) {
	return h.publishEventN(ctx, kind, lookupID, 0, data)
}

// publishEventN is publishEvent for a monitor event: n numbers it among
// the monitor's (kybflow.NewMonitorEvent); other kinds ignore it.
func (h *Handlers) publishEventN(ctx context.Context, kind kybflow.Kind, lookupID string, n uint64, data any) (first bool, err error) {
	ctx, span := h.tracer.Start(ctx, "publish "+string(kind), trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
		AttrLookupID.String(lookupID), AttrEventKind.String(string(kind)), attribute.String("messaging.system", "nats")))
	defer func() {
		if err == nil {
			span.SetAttributes(AttrDuplicate.Bool(!first))
		}
		endStep(span, err)
	}()
	var ev kybflow.Event
	if md, ok := data.(kybflow.MonitorData); ok && kind == kybflow.KindMonitor {
		ev, err = kybflow.NewMonitorEvent(h.c.Source, lookupID, n, h.c.Now(), md)
	} else {
		ev, err = kybflow.NewEvent(h.c.Source, kind, lookupID, h.c.Now(), data)
	}
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
