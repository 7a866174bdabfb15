package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/testenv"
)

// changingStatus is the sandbox's organization whose status changes from
// one session to the next: ACTIVE, BANKRUPT, then DISSOLVED for good
// (docs/sandbox.md, Changing identifiers).
const changingStatus = "910001035"

// monitorEvent waits for the monitor event of monitorID that answers
// action, and returns its data.
func (e *env) monitorEvent(monitorID string, action kybflow.MonitorAction, timeout time.Duration) kybflow.MonitorData {
	e.t.Helper()
	var found kybflow.MonitorData
	err := testenv.Poll(timeout, func() error {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, ev := range e.events[monitorID] {
			if d, ok := ev.Monitor(); ok && d.Action == action {
				found = d
				return nil
			}
		}
		return fmt.Errorf("events: %v", kinds(e.events[monitorID]))
	})
	if err != nil {
		e.t.Fatalf("no monitor event %s for %s: %v", action, monitorID, err)
	}
	return found
}

// runsOf are the lookupIds of monitorID's runs with an event so far, in
// the order they were due.
func (e *env) runsOf(monitorID string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for id := range e.events {
		if strings.HasPrefix(id, monitorID+"-r") {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// TestMonitorRunsReportWhatChangedAndStop: a monitor every 2 s on an
// organization whose status changes runs as ordinary lookups, each ended
// once with one session; the first is compared with nothing, the next two
// report keyInformation changed (with the diff stored), the fourth no
// change; paused, its schedule is gone; deleted, its record too.
func TestMonitorRunsReportWhatChangedAndStop(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.start(false, 2) // two workers share the runs
	create := map[string]any{"action": "create", "monitorId": "m-status", "correlationId": "customer-7",
		"lookup":   map[string]any{"type": "organization", "country": "NO", "identifier": changingStatus},
		"schedule": map[string]any{"every": "2s"}}
	e.publishOn("aml.commands.monitor", create, "m-status.create")
	if d := e.monitorEvent("m-status", kybflow.MonitorCreate, 10*time.Second); d.Status != kybflow.MonitorActive || d.CorrelationID != "customer-7" {
		t.Fatalf("create answered %+v", d)
	}

	// Runs may overlap on a slow machine, and each is compared with the
	// latest run due before it that had completed: whether it changed is
	// whether the organization's status (its summary) differs from that
	// run's.
	var compared, unchanged int
	err := testenv.Poll(60*time.Second, func() error {
		compared, unchanged = 0, 0
		for _, id := range e.runsOf("m-status") {
			ev, ok := e.ending(id)
			if !ok {
				continue
			}
			if m := completedData(t, ev).Monitor; m != nil && m.Changed != nil {
				compared++
				if !*m.Changed {
					unchanged++
				}
			}
		}
		if compared < 3 || unchanged < 1 {
			return fmt.Errorf("%d runs compared, %d unchanged", compared, unchanged)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	status := func(id string) kybflow.OrganizationStatus {
		ev, ok := e.ending(id)
		if !ok {
			t.Fatalf("run %s has not ended", id)
		}
		d := completedData(t, ev)
		if d.Summary == nil || d.Summary.Organization == nil {
			t.Fatalf("run %s: no summary", id)
		}
		return d.Summary.Organization.Status
	}
	changes := 0
	for i, id := range e.runsOf("m-status") {
		ev, ok := e.ending(id)
		if !ok {
			continue
		}
		d := completedData(t, ev)
		m := d.Monitor
		if m == nil || m.MonitorID != "m-status" || d.CorrelationID != "customer-7" {
			t.Fatalf("run %s: completed %+v, want linked to m-status", id, d)
		}
		changed := e.changed(id)
		if m.Changed == nil {
			if i == 0 && (m.PreviousLookupID != "" || changed != nil) {
				t.Errorf("first run %s: %+v, changed %+v; want compared with nothing", id, m, changed)
			}
			continue
		}
		want := status(m.PreviousLookupID) != status(id)
		switch {
		case i == 0:
			t.Errorf("first run %s compared with %s", id, m.PreviousLookupID)
		case *m.Changed != want:
			t.Errorf("run %s: changed %t since %s (status %s, then %s)", id, *m.Changed, m.PreviousLookupID, status(m.PreviousLookupID), status(id))
		case want && (changed == nil || len(changed.Blocks) != 1 || changed.Blocks[0].Block != "keyInformation" || changed.Diff.Size == 0 || changed.PreviousLookupID != m.PreviousLookupID):
			t.Errorf("run %s: changed event %+v; want keyInformation alone, with its diff stored", id, changed)
		case !want && changed != nil:
			t.Errorf("run %s: a changed event %+v without a change", id, changed)
		}
		if want {
			changes++
		}
	}
	if changes == 0 {
		t.Error("no run reported the status change the sandbox planted")
	}

	e.publishOn("aml.commands.monitor", map[string]any{"action": "pause", "monitorId": "m-status"}, "m-status.pause")
	if d := e.monitorEvent("m-status", kybflow.MonitorPause, 10*time.Second); d.Status != kybflow.MonitorPaused {
		t.Fatalf("pause answered %+v", d)
	}
	st, err := e.js.Stream(context.Background(), "AML_SCHEDULES")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetLastMsgForSubject(context.Background(), "aml.schedules.set.m-status"); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("the paused monitor's schedule: %v, want none", err)
	}
	e.marker() // every run in flight ends before the marker does
	runs := e.runsOf("m-status")
	for _, id := range runs {
		e.assertExactlyOnce(id)
	}
	if n := e.sessions("organization", "NO", changingStatus); n != len(runs) {
		t.Errorf("%d sessions for %d runs", n, len(runs))
	}

	e.publishOn("aml.commands.monitor", map[string]any{"action": "delete", "monitorId": "m-status"}, "m-status.delete")
	e.monitorEvent("m-status", kybflow.MonitorDelete, 10*time.Second)
	kv, err := e.js.KeyValue(context.Background(), "AML_MONITORS")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(context.Background(), "m-status"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("the deleted monitor's record: %v, want none", err)
	}
}

// ending is lookupID's terminal event, if it has one yet.
func (e *env) ending(lookupID string) (kybflow.Event, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.events[lookupID] {
		if ev.Kind().Terminal() {
			return ev, true
		}
	}
	return kybflow.Event{}, false
}

// changed is the data of lookupID's changed event, or nil.
func (e *env) changed(lookupID string) *kybflow.ChangedData {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.events[lookupID] {
		if d, ok := ev.Changed(); ok {
			return &d
		}
	}
	return nil
}
