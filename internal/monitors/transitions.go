package monitors

// The transitions of a monitor record: each says what it changes and
// when it is allowed.

import (
	"fmt"
	"slices"
	"time"

	"github.com/kybflow/kybflow"
)

// New is the record of a monitor created at time at.
func New(key string, def kybflow.MonitorDefinition, at time.Time) Record {
	return Record{Key: key, Status: kybflow.MonitorActive, Definition: def, CreatedAt: at.UTC(), UpdatedAt: at.UTC()}
}

// Update replaces the definition. An ended monitor whose new end is later
// than at (or that has none) is active again.
func (r *Record) Update(def kybflow.MonitorDefinition, at time.Time) error {
	r.Definition, r.UpdatedAt = def, at.UTC()
	if r.Status == kybflow.MonitorEnded && (def.Until == nil || def.Until.After(at)) {
		r.Status = kybflow.MonitorActive
	}
	return nil
}

// Pause stops an active monitor's runs; ErrUnchanged when paused.
func (r *Record) Pause(at time.Time) error {
	switch r.Status {
	case kybflow.MonitorPaused:
		return ErrUnchanged
	case kybflow.MonitorActive:
		r.Status, r.UpdatedAt = kybflow.MonitorPaused, at.UTC()
		return nil
	}
	return fmt.Errorf("pause a monitor that is %s: %w", r.Status, ErrRefused)
}

// Resume makes a paused monitor run again; ErrUnchanged when active.
func (r *Record) Resume(at time.Time) error {
	switch r.Status {
	case kybflow.MonitorActive:
		return ErrUnchanged
	case kybflow.MonitorPaused:
		r.Status, r.UpdatedAt = kybflow.MonitorActive, at.UTC()
		return nil
	}
	return fmt.Errorf("resume a monitor that is %s: %w", r.Status, ErrRefused)
}

// End ends a monitor past its until; ErrUnchanged when ended.
func (r *Record) End(at time.Time) error {
	if r.Status == kybflow.MonitorEnded {
		return ErrUnchanged
	}
	r.Status, r.UpdatedAt = kybflow.MonitorEnded, at.UTC()
	return nil
}

// keptRuns bounds Record.Recent.
const keptRuns = 8

// RecordRun adds a completed run to Recent, in due order, keeping the
// latest keptRuns; ErrUnchanged when it is there already (a redelivery)
// or older than all of them.
func (r *Record) RecordRun(run Run) error {
	i := len(r.Recent)
	for i > 0 && r.Recent[i-1].At.After(run.At) {
		i--
	}
	if i > 0 && r.Recent[i-1].LookupID == run.LookupID || i == 0 && len(r.Recent) == keptRuns {
		return ErrUnchanged
	}
	r.Recent = slices.Insert(r.Recent, i, run)
	if len(r.Recent) > keptRuns {
		r.Recent = r.Recent[len(r.Recent)-keptRuns:]
	}
	r.Runs++
	return nil
}

// Before is the latest recent run due before at, or nil.
func (r Record) Before(at time.Time) *Run {
	for i := len(r.Recent) - 1; i >= 0; i-- {
		if r.Recent[i].At.Before(at) {
			run := r.Recent[i]
			return &run
		}
	}
	return nil
}

// Last is the latest recent run, or nil.
func (r Record) Last() *Run {
	if len(r.Recent) == 0 {
		return nil
	}
	run := r.Recent[len(r.Recent)-1]
	return &run
}
