package erasure

// A deleted monitor's own messages, with its history (amlctl monitors
// delete --erase-history, after its runs): its monitor events, which echo
// the platform's correlationId and metadata, and the dead letters of its
// commands. Its record is purged by the delete itself (history and all),
// and its schedule stopped; its fires carry its key only.

import (
	"context"
	"fmt"

	"github.com/kybflow/kybflow"
)

// MonitorResult is what the erasure of a monitor's own messages did; on an
// error, how far it got.
type MonitorResult struct {
	Key         string   // the monitor key
	Events      int      // its monitor events deleted
	DeadLetters []uint64 // sequences of its commands' dead letters deleted
}

// EraseMonitor deletes the monitor events of the monitor key (a monitorId,
// or tenant.monitorId) and the dead letters of its commands, each with a
// secure delete. Only events of kind monitor are deleted: a lookup may
// have the monitor's id as its lookupId, and its events are not the
// monitor's. Call it once the monitor is deleted, or its next command
// publishes a monitor event again.
func (e *Eraser) EraseMonitor(ctx context.Context, key string) (*MonitorResult, error) {
	r := &MonitorResult{Key: key}
	if !kybflow.ValidLookupKey(key) {
		return r, fmt.Errorf("monitor %q: %w", key, ErrInvalidKey)
	}
	var err error
	if r.Events, err = eraseSubject(ctx, e.events, e.opts.Subjects.Event(key, kybflow.KindMonitor), ""); err != nil {
		return r, fmt.Errorf("delete its monitor events: %w", err)
	}
	if r.DeadLetters, err = e.deadLetters.EraseMonitor(ctx, key); err != nil {
		return r, fmt.Errorf("delete its dead letters: %w", err)
	}
	return r, nil
}
