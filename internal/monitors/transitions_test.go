package monitors

import (
	"errors"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
)

func TestTransitions(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	r := New("m-1", kybflow.MonitorDefinition{Schedule: kybflow.Schedule{Every: "24h"}}, now)
	if r.Status != kybflow.MonitorActive {
		t.Fatalf("New: %s", r.Status)
	}
	if err := r.Resume(now); !errors.Is(err, ErrUnchanged) {
		t.Errorf("resume an active monitor: %v", err)
	}
	if err := r.Pause(now); err != nil || r.Status != kybflow.MonitorPaused {
		t.Fatalf("pause: %v, %s", err, r.Status)
	}
	if err := r.Pause(now); !errors.Is(err, ErrUnchanged) {
		t.Errorf("pause twice: %v", err)
	}
	if err := r.Resume(now); err != nil || r.Status != kybflow.MonitorActive {
		t.Fatalf("resume: %v, %s", err, r.Status)
	}
	if err := r.End(now); err != nil || r.Status != kybflow.MonitorEnded {
		t.Fatalf("end: %v, %s", err, r.Status)
	}
	if err := r.Pause(now); !errors.Is(err, ErrRefused) {
		t.Errorf("pause an ended monitor: %v, want ErrRefused", err)
	}
	later := now.Add(time.Hour)
	if err := r.Update(kybflow.MonitorDefinition{Schedule: kybflow.Schedule{Every: "1h"}, Until: &later}, now); err != nil || r.Status != kybflow.MonitorActive {
		t.Errorf("an update that moves the end later: %v, %s; want active again", err, r.Status)
	}
}

// TestRecordRunKeepsTheRecentInDueOrder: runs recorded out of order are
// kept in the order they were due, each compared with the latest due
// before it.
func TestRecordRunKeepsTheRecentInDueOrder(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	run := func(i int) Run {
		return Run{LookupID: kybflow.RunLookupID("m", at.Add(time.Duration(i)*time.Minute)), At: at.Add(time.Duration(i) * time.Minute)}
	}
	var r Record
	for _, i := range []int{2, 1, 3} {
		if err := r.RecordRun(run(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.RecordRun(run(3)); !errors.Is(err, ErrUnchanged) {
		t.Errorf("a run recorded twice: %v", err)
	}
	if b := r.Before(run(3).At); b == nil || b.LookupID != run(2).LookupID {
		t.Errorf("Before(run 3) = %+v, want run 2", b)
	}
	if b := r.Before(run(1).At); b != nil {
		t.Errorf("Before(run 1) = %+v, want none", b)
	}
	for i := 4; i < 4+keptRuns; i++ {
		if err := r.RecordRun(run(i)); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.Recent) != keptRuns || r.Recent[0].LookupID != run(4).LookupID || r.Last().LookupID != run(3+keptRuns).LookupID {
		t.Errorf("recent runs %v: want the latest %d", r.Recent, keptRuns)
	}
	if err := r.RecordRun(run(0)); !errors.Is(err, ErrUnchanged) {
		t.Errorf("a run older than all kept: %v", err)
	}
}
