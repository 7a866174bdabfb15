// Harness helpers for monitors under faults: a worker the test can kill,
// runs in flight, run due times, schedules and the fires consumer.

package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
)

// killable is a worker a test kills as a crash would.
type killable struct {
	app  *App
	logs *testenv.Buffer // every line at info and above, as JSON
	kill func()
}

// startKillable boots a worker with cfg, logging at info into a buffer of
// its own (shown in the test's log if the test fails), so that the test
// can tell what this worker is doing. kill stops it as a crash would:
// first its NATS connection is closed, so that nothing it holds is
// acknowledged, released, written or published any more (its messages
// come back to the others after ACK_WAIT, its opening leases run out);
// only then is its context cancelled, and kill waits for Run to return.
// Its HTTP calls in flight go on meanwhile, as a process killed after
// sending a request leaves it to the server. The test's end kills it if
// it still runs.
func (e *env) startKillable(name string, cfg Config) *killable {
	e.t.Helper()
	logs := &testenv.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(context.Background())
	app, err := Start(ctx, cfg, log, Options{Tracing: e.tracing})
	if err != nil {
		cancel()
		e.t.Fatalf("start worker %s: %v", name, err)
	}
	var killed sync.Once
	done := make(chan error, 1)
	go func() {
		err := app.Run(ctx)
		if ctx.Err() == nil && !app.nc.IsClosed() {
			e.t.Errorf("worker %s: Run returned before it was killed: %v", name, err)
		}
		done <- err
	}()
	k := &killable{app: app, logs: logs}
	k.kill = func() {
		killed.Do(func() {
			app.nc.Close()
			cancel()
			// Once its connection is gone, a drain has nothing to wait
			// for but handlers' HTTP calls and their retries of NATS.
			select {
			case err := <-done:
				if err != nil {
					e.t.Logf("worker %s killed; Run: %v", name, err)
				}
			case <-time.After(time.Minute):
				e.t.Errorf("worker %s: Run did not return within a minute of its kill", name)
			}
		})
	}
	e.t.Cleanup(func() {
		k.kill()
		if e.t.Failed() {
			e.t.Logf("worker %s's log:\n%s", name, logs.String())
		}
	})
	return k
}

// opened reports whether this worker logged the opening of lookupID's
// session.
func (k *killable) opened(lookupID string) bool {
	for line := range strings.Lines(k.logs.String()) {
		if strings.Contains(line, `"msg":"session opened"`) && strings.Contains(line, `"lookup_id":"`+lookupID+`"`) {
			return true
		}
	}
	return false
}

// took reports whether this worker handled a fire of the run lookupID.
func (k *killable) took(lookupID string) bool {
	for line := range strings.Lines(k.logs.String()) {
		if strings.Contains(line, `"msg":"monitor run"`) && strings.Contains(line, `"lookup_id":"`+lookupID+`"`) {
			return true
		}
	}
	return false
}

// unrecorded counts the sessions this worker opened but could not record
// (the one window in which a crash may cost a second session, see
// internal/handler/open.go).
func (k *killable) unrecorded() int {
	return strings.Count(k.logs.String(), "session opened but not recorded")
}

// inFlight is a run of monitorID whose session is open and which has not
// ended yet, if there is one.
func (e *env) inFlight(monitorID string) (string, bool) {
	for _, id := range e.runsOf(monitorID) {
		if _, ended := e.ending(id); ended {
			continue
		}
		for _, k := range e.eventsOf(id) {
			if k == kybflow.KindSessionOpened {
				return id, true
			}
		}
	}
	return "", false
}

// runDue is when the run lookupID of monitorID, every interval, was due:
// its lookupId carries the unix time of its fire's Nats-Schedule-Next
// (the next fire), one interval after the run itself was due
// (monitors.RunOf).
func runDue(t testing.TB, monitorID, lookupID string, interval time.Duration) time.Time {
	t.Helper()
	s, ok := strings.CutPrefix(lookupID, monitorID+"-r")
	n, err := strconv.ParseInt(s, 10, 64)
	if !ok || err != nil {
		t.Fatalf("%s is not a run of %s", lookupID, monitorID)
	}
	return time.Unix(n, 0).UTC().Add(-interval)
}

// completedRuns are the runs of monitorID that completed, in the order
// they were due.
func (e *env) completedRuns(monitorID string) []string {
	var out []string
	for _, id := range e.runsOf(monitorID) {
		if ev, ok := e.ending(id); ok && ev.Kind() == kybflow.KindCompleted {
			out = append(out, id)
		}
	}
	return out
}

// schedulesStream is AML_SCHEDULES.
func (e *env) schedulesStream() jetstream.Stream {
	e.t.Helper()
	st, err := e.js.Stream(context.Background(), streams.NamesOf(kybflow.Subjects{}).SchedulesStream())
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// schedule is the schedule message of the monitor key in AML_SCHEDULES,
// or nil when it has none.
func (e *env) schedule(key string) *jetstream.RawStreamMsg {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := e.schedulesStream().GetLastMsgForSubject(ctx, streams.NamesOf(kybflow.Subjects{}).Schedule(key))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		e.t.Fatalf("schedule of %s: %v", key, err)
	}
	return m
}

// firesIdle is nil once the monitors' consumer has no fire to deliver and
// none delivered but not acknowledged: every fire stored so far has been
// handled (its run, if it made one, has its session opened and announced).
func (e *env) firesIdle() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cons, err := e.js.Consumer(ctx, streams.NamesOf(kybflow.Subjects{}).SchedulesStream(), streams.ConsumerMonitors)
	if err != nil {
		return err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return err
	}
	if info.NumPending != 0 || info.NumAckPending != 0 {
		return fmt.Errorf("consumer %s: %d fires to deliver, %d not acknowledged", streams.ConsumerMonitors, info.NumPending, info.NumAckPending)
	}
	return nil
}

// monitorEventOf is the event (not only its data) of monitorID that
// answers action.
func (e *env) monitorEventOf(monitorID string, action kybflow.MonitorAction, timeout time.Duration) kybflow.Event {
	e.t.Helper()
	e.monitorEvent(monitorID, action, timeout)
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.events[monitorID] {
		if d, ok := ev.Monitor(); ok && d.Action == action {
			return ev
		}
	}
	e.t.Fatalf("no monitor event %s for %s", action, monitorID)
	return kybflow.Event{}
}
