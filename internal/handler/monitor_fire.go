package handler

// Runs: each fire of a monitor's schedule is one run, an ordinary lookup
// whose lookupId derives from the monitor and the fire, so that a fire
// delivered twice, or taken by two workers, opens one session at most.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/monitors"
	"github.com/kybflow/kybflow/internal/streams"
)

// Fire handles one fire of a monitor's schedule: the monitor's run, taken
// as far as an opened session as a command is (advance). A fire for a
// monitor that is gone, paused or ended makes no run and stops the
// schedule.
func (h *Handlers) Fire(ctx context.Context, msg jetstream.Msg) (o outcome) {
	ctx, span := h.tracer.Start(ctx, "monitor run", trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(deliveryAttrs(msg)...))
	defer func() { endMessage(ctx, span, o) }()
	key, ok := streams.NamesOf(h.c.Subjects).FireMonitor(msg.Subject())
	if !ok || h.c.Monitors == nil {
		return drop(fmt.Errorf("fire on %q: not a monitor's fire subject", truncate([]byte(msg.Subject()), 200)))
	}
	next, err := time.Parse(time.RFC3339, msg.Headers().Get(monitors.HeaderScheduleNext))
	if err != nil {
		return drop(fmt.Errorf("fire of monitor %s without %s: %w", key, monitors.HeaderScheduleNext, err))
	}
	md, err := msg.Metadata()
	if err != nil {
		return retryBackoff(fmt.Errorf("fire of monitor %s: metadata: %w", key, err))
	}
	rec, _, err := h.c.Monitors.Get(ctx, key)
	switch {
	case errors.Is(err, monitors.ErrNotFound):
		// Deleted, its schedule stopped after this fire: stop it again.
		return h.stopSchedule(ctx, key)
	case err != nil:
		return retryBackoff(err)
	case rec.Status != kybflow.MonitorActive:
		return h.stopSchedule(ctx, key)
	}
	lookupID, at := monitors.RunOf(rec, next, md.Timestamp)
	if until := rec.Definition.Until; until != nil && at.After(*until) {
		return h.endMonitor(ctx, rec, md.Sequence.Stream)
	}
	cmd := rec.Definition.Lookup
	cmd.LookupID = lookupID
	_, monitorID, _ := kybflow.SplitLookupKey(key)
	cmd.Monitor = &kybflow.MonitorRun{MonitorID: monitorID, At: at}
	span.SetAttributes(AttrLookupID.String(cmd.Key()))
	h.log.Info("monitor run", "monitor", key, "lookup_id", cmd.Key(), "at", at)
	return h.advance(ctx, cmd, md.Sequence.Stream)
}

// stopSchedule stops the schedule of a monitor that makes no runs, and
// acknowledges its fire.
func (h *Handlers) stopSchedule(ctx context.Context, key string) outcome {
	if err := h.c.Schedules.Stop(ctx, key); err != nil {
		return retryBackoff(err)
	}
	return done()
}

// endMonitor ends a monitor past its until: no run, its schedule stopped,
// its end announced.
func (h *Handlers) endMonitor(ctx context.Context, rec monitors.Record, seq uint64) outcome {
	now := h.c.Now()
	rec, _, err := h.c.Monitors.Apply(ctx, rec.Key, func(r *monitors.Record) error { return r.End(now) })
	if err != nil {
		return retryBackoff(err)
	}
	if o := h.stopSchedule(ctx, rec.Key); !o.IsAck() {
		return o
	}
	return h.publishMonitorEvent(ctx, rec, kybflow.MonitorEnd, fireN(seq))
}
