package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
)

// monitorRecord reports whether AML_MONITORS holds a record of key.
func (e *env) monitorRecord(key string) bool {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := e.js.KeyValue(ctx, streams.NamesOf(kybflow.Subjects{}).MonitorsBucket())
	if err != nil {
		e.t.Fatal(err)
	}
	_, err = kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false
	}
	if err != nil {
		e.t.Fatalf("monitor record %s: %v", key, err)
	}
	return true
}

// TestMonitorPauseAndDeleteStopRuns: two monitors every second, one
// paused and one deleted once each has completed runs. The answer to
// each command comes once its schedule is gone from AML_SCHEDULES; once
// every fire stored before is handled and a marker lookup has ended, no
// run of either was due after that answer, and each ended exactly once
// with one session. The paused monitor keeps its record, the deleted one
// has none.
func TestMonitorPauseAndDeleteStopRuns(t *testing.T) {
	const every = time.Second
	e := newEnv(t, envOptions{})
	e.start(false, 2)
	monitors := []struct {
		id, identifier string
		action         kybflow.MonitorAction
		status         kybflow.MonitorStatus
		record         bool
	}{
		{"m-pause", "923609016", kybflow.MonitorPause, kybflow.MonitorPaused, true},
		{"m-delete", "988077917", kybflow.MonitorDelete, kybflow.MonitorDeleted, false},
	}
	for _, m := range monitors {
		e.publishOn("aml.commands.monitor", createMonitor(m.id, m.identifier, every.String()), m.id+".create")
	}
	for _, m := range monitors {
		e.monitorEvent(m.id, kybflow.MonitorCreate, 10*time.Second)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		for _, m := range monitors {
			if runs := e.completedRuns(m.id); len(runs) < 2 {
				return fmt.Errorf("%s: runs completed %v, want 2", m.id, runs)
			}
		}
		return nil
	})

	for _, m := range monitors {
		e.publishOn("aml.commands.monitor", map[string]any{"action": string(m.action), "monitorId": m.id}, m.id+"."+string(m.action))
	}
	stopped := map[string]time.Time{}
	for _, m := range monitors {
		ev := e.monitorEventOf(m.id, m.action, 10*time.Second)
		if d, _ := ev.Monitor(); d.Status != m.status || d.Code != "" {
			t.Errorf("%s %s answered %+v", m.action, m.id, d)
		}
		stopped[m.id] = ev.Time
		if s := e.schedule(m.id); s != nil {
			t.Errorf("%s after %s: its schedule is still in AML_SCHEDULES (seq %d, %v)", m.id, m.action, s.Sequence, s.Header)
		}
		if got := e.monitorRecord(m.id); got != m.record {
			t.Errorf("%s after %s: record kept %t, want %t", m.id, m.action, got, m.record)
		}
	}

	// Every fire stored before the schedules went is handled (no more can
	// come: they are gone), every run it made has ended, and a marker
	// after them has ended too.
	testenv.Eventually(t, 30*time.Second, e.firesIdle)
	testenv.Eventually(t, time.Minute, func() error {
		for _, m := range monitors {
			for _, id := range e.runsOf(m.id) {
				if _, ok := e.ending(id); !ok {
					return fmt.Errorf("run %s has not ended: %v", id, e.eventsOf(id))
				}
			}
		}
		return nil
	})
	e.marker()

	for _, m := range monitors {
		runs := e.runsOf(m.id)
		for _, id := range runs {
			e.assertExactlyOnce(id)
			due := runDue(t, m.id, id, every)
			if due.After(stopped[m.id]) {
				t.Errorf("run %s was due at %s, after the %s answered at %s", id, due.Format(time.RFC3339Nano), m.action, stopped[m.id].Format(time.RFC3339Nano))
			}
			ev, _ := e.ending(id)
			if r := completedData(t, ev).Monitor; r == nil || !r.At.Equal(due) {
				t.Errorf("run %s: completed with monitor %+v, want due at %s", id, r, due)
			}
		}
		if n := e.sessions("organization", "NO", m.identifier); n != len(runs) {
			t.Errorf("%s: %d sessions for %d runs %v", m.id, n, len(runs), runs)
		}
		if s := e.schedule(m.id); s != nil {
			t.Errorf("%s: a schedule again after the marker (seq %d)", m.id, s.Sequence)
		}
		t.Logf("%s: %s answered at %s; %d runs, the last %s", m.id, m.action, stopped[m.id].Format(time.RFC3339Nano), len(runs), runs[len(runs)-1])
	}
}

// TestMonitorInvalidCommandsSetNoSchedule: a monitor command that is not
// valid is answered by a monitor event whose code and reason name the
// field, and sets no schedule: a create neither makes a record nor a
// schedule, and an update leaves the monitor's schedule as it was.
func TestMonitorInvalidCommandsSetNoSchedule(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.start(false, 1)
	// A valid monitor to update, every hour: it does not fire here.
	e.publishOn("aml.commands.monitor", createMonitor("m-valid", "923609016", "1h"), "m-valid.create")
	e.monitorEvent("m-valid", kybflow.MonitorCreate, 10*time.Second)
	before := e.schedule("m-valid")
	if before == nil {
		t.Fatal("the valid monitor has no schedule")
	}

	cases := []struct {
		name      string
		monitorID string
		cmd       map[string]any
		action    kybflow.MonitorAction
		code      kybflow.FailureCode
		field     string // what the reason must name
	}{
		{"create every 500ms", "m-fast", createMonitor("m-fast", "923609016", "500ms"),
			kybflow.MonitorCreate, kybflow.CodeInvalidCommand, "schedule.every"},
		// The reason names the field, then the identifier rules' own
		// message, as a lookup's failed event has it.
		{"create of an invalid organization number", "m-badid", createMonitor("m-badid", "923609017", "1h"),
			kybflow.MonitorCreate, kybflow.CodeInvalidIdentifier, `lookup.identifier: invalid Norwegian organization number "923609017"`},
		{"create with a lookupId in its lookup", "m-lookupid", map[string]any{"action": "create", "monitorId": "m-lookupid",
			"lookup":   map[string]any{"lookupId": "x", "type": "organization", "country": "NO", "identifier": "923609016"},
			"schedule": map[string]any{"every": "1h"}},
			kybflow.MonitorCreate, kybflow.CodeInvalidCommand, "lookup.lookupId"},
		{"update to every 500ms", "m-valid", map[string]any{"action": "update", "monitorId": "m-valid", "schedule": map[string]any{"every": "500ms"}},
			kybflow.MonitorUpdate, kybflow.CodeInvalidCommand, "schedule.every"},
	}
	for _, c := range cases {
		e.publishOn("aml.commands.monitor", c.cmd, c.monitorID+"."+string(c.action))
	}
	for _, c := range cases {
		d := e.monitorEvent(c.monitorID, c.action, 10*time.Second)
		if d.Code != c.code || !strings.Contains(d.Reason, c.field) || d.Status != "" {
			t.Errorf("%s: answered code %q, status %q, reason %q; want code %s and a reason naming %s", c.name, d.Code, d.Status, d.Reason, c.code, c.field)
		}
		if c.action != kybflow.MonitorCreate {
			continue
		}
		if s := e.schedule(c.monitorID); s != nil {
			t.Errorf("%s: a schedule in AML_SCHEDULES (seq %d, %v)", c.name, s.Sequence, s.Header)
		}
		if e.monitorRecord(c.monitorID) {
			t.Errorf("%s: a record in AML_MONITORS", c.name)
		}
	}
	after := e.schedule("m-valid")
	if after == nil || after.Sequence != before.Sequence || after.Header.Get("Nats-Schedule") != before.Header.Get("Nats-Schedule") {
		t.Errorf("m-valid's schedule after a rejected update: %+v, want it as it was (seq %d, %s)", after, before.Sequence, before.Header.Get("Nats-Schedule"))
	}
	if n := e.deadLetters(); n != 0 {
		t.Errorf("%d dead letters; a rejected monitor command is answered, not dead-lettered", n)
	}
}
