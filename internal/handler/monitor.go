package handler

// Monitor commands: a platform creates, updates, pauses, resumes and
// deletes monitors (internal/monitors). Each applied or rejected command
// is answered by a monitor event on the monitor's subjects.

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/monitors"
)

// monitorCommand applies a monitor command published for tenant.
func (h *Handlers) monitorCommand(ctx context.Context, msg jetstream.Msg, tenant string) outcome {
	if h.c.Monitors == nil || h.c.Schedules == nil {
		return h.deadLetter(ctx, msg, errors.New("monitor command: this worker runs no monitors"))
	}
	var seq uint64
	if md, err := msg.Metadata(); err == nil {
		seq = md.Sequence.Stream
	}
	mc, err := kybflow.ParseMonitorCommand(msg.Data())
	mc.Tenant = tenant
	if err != nil {
		if !kybflow.ValidLookupID(mc.MonitorID) {
			return h.deadLetter(ctx, msg, err) // nobody to answer
		}
		code := kybflow.CodeInvalidCommand
		var ce *kybflow.CommandError
		if errors.As(err, &ce) {
			code = ce.Code
		}
		return h.rejectMonitor(ctx, mc, seq, code, err)
	}
	key, now := mc.Key(), h.c.Now()
	var rec monitors.Record
	switch mc.Action {
	case kybflow.MonitorCreate:
		def, _ := mc.Definition(kybflow.MonitorDefinition{}) // valid: parsed
		rec = monitors.New(key, def, now)
		if _, err = h.c.Monitors.Create(ctx, rec); errors.Is(err, monitors.ErrExists) {
			cur, _, gerr := h.c.Monitors.Get(ctx, key)
			if gerr != nil {
				return retryBackoff(gerr)
			}
			if !reflect.DeepEqual(cur.Definition, def) {
				return h.rejectMonitor(ctx, mc, seq, kybflow.CodeRejected, fmt.Errorf("monitor %s exists: update it, or delete it first", mc.MonitorID))
			}
			rec, err = cur, nil // this command, redelivered: finish it
		}
	case kybflow.MonitorUpdate:
		rec, _, err = h.c.Monitors.Apply(ctx, key, func(r *monitors.Record) error {
			def, err := mc.Definition(r.Definition)
			if err != nil {
				return err
			}
			return r.Update(def, now)
		})
	case kybflow.MonitorPause:
		rec, _, err = h.c.Monitors.Apply(ctx, key, func(r *monitors.Record) error { return r.Pause(now) })
	case kybflow.MonitorResume:
		rec, _, err = h.c.Monitors.Apply(ctx, key, func(r *monitors.Record) error { return r.Resume(now) })
	case kybflow.MonitorDelete:
		rec, _, err = h.c.Monitors.Get(ctx, key)
		if err == nil {
			if err = h.c.Schedules.Stop(ctx, key); err == nil {
				err = h.c.Monitors.Delete(ctx, key)
			}
			rec.Status = kybflow.MonitorDeleted
		}
	}
	switch {
	case errors.Is(err, monitors.ErrNotFound):
		return h.rejectMonitor(ctx, mc, seq, kybflow.CodeRejected, fmt.Errorf("no monitor %s", mc.MonitorID))
	case err != nil && refused(err):
		return h.rejectMonitor(ctx, mc, seq, kybflow.CodeRejected, err)
	case err != nil:
		return retryBackoff(err)
	}
	if o := h.applySchedule(ctx, rec); !o.IsAck() {
		return o
	}
	h.log.Info("monitor command applied", "monitor", key, "action", string(mc.Action), "status", string(rec.Status))
	return h.publishMonitorEvent(ctx, rec, mc.Action, cmdN(seq))
}

// cmdN and fireN number a monitor event by the stream sequence of the
// command or the fire that caused it (kybflow.MonitorCommandN,
// MonitorFireN): the client finds the answer to its command by it.
func cmdN(seq uint64) uint64  { return kybflow.MonitorCommandN(seq) }
func fireN(seq uint64) uint64 { return kybflow.MonitorFireN(seq) }

// refused tells a command that does not apply (an invalid update, a
// transition refused) from NATS trouble, which is retried.
func refused(err error) bool {
	var ce *kybflow.CommandError
	return errors.As(err, &ce) || errors.Is(err, monitors.ErrRefused)
}

// applySchedule makes the schedule of rec what its status asks: set
// (when it is not set as it should be already), or stopped.
func (h *Handlers) applySchedule(ctx context.Context, rec monitors.Record) outcome {
	if rec.Status != kybflow.MonitorActive {
		if rec.Status != kybflow.MonitorDeleted { // deleted: stopped above
			if err := h.c.Schedules.Stop(ctx, rec.Key); err != nil {
				return retryBackoff(err)
			}
		}
		return done()
	}
	current, err := h.c.Schedules.Current(ctx, rec)
	if err == nil && !current {
		err = h.c.Schedules.Set(ctx, rec)
	}
	if err != nil {
		return retryBackoff(err)
	}
	return done()
}

// publishMonitorEvent answers an applied command (or a run's end) with the
// monitor event n, n numbering the message that caused it (cmdN, fireN):
// a redelivery publishes the same id.
func (h *Handlers) publishMonitorEvent(ctx context.Context, rec monitors.Record, action kybflow.MonitorAction, n uint64) outcome {
	tenant, id, _ := kybflow.SplitLookupKey(rec.Key)
	sch := rec.Definition.Schedule
	data := kybflow.MonitorData{
		MonitorID: id, Tenant: tenant, CorrelationID: rec.Definition.Lookup.CorrelationID, Metadata: rec.Definition.Lookup.Metadata,
		Action: action, Status: rec.Status, Schedule: &sch, Until: rec.Definition.Until,
	}
	if _, err := h.publishEventN(ctx, kybflow.KindMonitor, rec.Key, n, data); err != nil {
		return retryBackoff(err)
	}
	return done()
}

// rejectMonitor answers a command that cannot be applied with a monitor
// event naming why, and terminates it.
func (h *Handlers) rejectMonitor(ctx context.Context, mc kybflow.MonitorCommand, seq uint64, code kybflow.FailureCode, cause error) outcome {
	key := mc.Key()
	data := kybflow.MonitorData{MonitorID: mc.MonitorID, Tenant: mc.Tenant, CorrelationID: mc.CorrelationID, Metadata: mc.Metadata,
		Action: mc.Action, Code: code, Reason: truncateReason(cause.Error())}
	if _, err := h.publishEventN(ctx, kybflow.KindMonitor, key, cmdN(seq), data); err != nil {
		return retryBackoff(err)
	}
	h.log.Warn("monitor command rejected", "monitor", key, "action", string(mc.Action), "code", string(code))
	return drop(fmt.Errorf("monitor command rejected: %s", code))
}

// truncateReason keeps a reason within the contract's limit.
func truncateReason(s string) string {
	r := []rune(s)
	if len(r) > kybflow.MaxReasonLength {
		r = r[:kybflow.MaxReasonLength]
	}
	return string(r)
}
