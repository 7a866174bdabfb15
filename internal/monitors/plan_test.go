package monitors

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
)

func TestSessionsPerMonth(t *testing.T) {
	t.Parallel()
	monday := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		s    kybflow.Schedule
		want float64
	}{
		{kybflow.Schedule{Every: "24h"}, 30},
		{kybflow.Schedule{Every: "168h"}, 30.0 / 7},
		{kybflow.Schedule{Every: "10s"}, 259200},
		{kybflow.Schedule{Cron: "0 0 6 * * MON"}, 5},
		{kybflow.Schedule{Cron: "0 0 6 * * MON-FRI", TimeZone: "Europe/Oslo"}, 22},
		{kybflow.Schedule{Cron: "0 0 0 1 * *"}, 1},
	} {
		got, err := SessionsPerMonth(tc.s, monday)
		if err != nil || math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("SessionsPerMonth(%+v) = %v, %v; want %v", tc.s, got, err, tc.want)
		}
	}
	if _, err := SessionsPerMonth(kybflow.Schedule{Cron: "0 0 6 * *"}, monday); err == nil {
		t.Error("SessionsPerMonth of a cron of 5 fields: no error")
	}
}

func TestNextRun(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 9, 30, 15, 0, time.UTC)
	until := now.Add(time.Hour)
	every := func(d string) Record {
		return New("m", kybflow.MonitorDefinition{Schedule: kybflow.Schedule{Every: d}}, now)
	}
	cron := New("m", kybflow.MonitorDefinition{Schedule: kybflow.Schedule{Cron: "0 0 6 * * MON", TimeZone: "Europe/Oslo"}}, now)
	paused := every("1h")
	paused.Status = kybflow.MonitorPaused
	ending := every("2h")
	ending.Definition.Until = &until
	set := now.Add(-10*time.Minute - 400*time.Millisecond) // rounds to 09:20:15
	for _, tc := range []struct {
		name string
		r    Record
		t    Timing
		want time.Time // zero: none
	}{
		{"every, before its first fire", every("1h"), Timing{Set: set}, now.Add(50 * time.Minute)},
		{"every, from its latest fire", every("1h"), Timing{Set: set, Fired: now.Add(-time.Minute), Next: now.Add(59*time.Minute + 2*time.Second)},
			now.Add(59*time.Minute + 2*time.Second)},
		{"every, a fire before the schedule was set again", every("1h"), Timing{Set: set, Fired: set.Add(-time.Minute), Next: now.Add(5 * time.Minute)},
			now.Add(50 * time.Minute)},
		{"every, its fires expired", every("1h"), Timing{Set: set.Add(-72 * time.Hour)}, now.Add(50 * time.Minute)},
		{"every, a fire overdue", every("1h"), Timing{Set: set.Add(-3 * time.Hour), Fired: now.Add(-2 * time.Hour), Next: now.Add(-time.Hour - time.Second)},
			now.Add(59*time.Minute + 59*time.Second)},
		{"cron", cron, Timing{Set: set}, time.Date(2026, 3, 9, 5, 0, 0, 0, time.UTC)},
		{"paused", paused, Timing{Set: set}, time.Time{}},
		{"no schedule set", every("1h"), Timing{}, time.Time{}},
		{"after its until", ending, Timing{Set: set}, time.Time{}},
	} {
		got, ok := NextRun(tc.r, tc.t, now)
		if ok != !tc.want.IsZero() || !got.Equal(tc.want) {
			t.Errorf("%s: NextRun = %s %v, want %s", tc.name, got, ok, tc.want)
		}
	}
}

// TestTimingOfRealFires reads the schedules and fires a real server makes,
// and checks the next run against the server's own Nats-Schedule-Next:
// of an every schedule, and of a cron one (the cron evaluator against the
// server's).
func TestTimingOfRealFires(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := testenv.JetStream(t)
	res, err := streams.Ensure(ctx, js, streams.Topology{Replicas: 1, Duplicates: time.Hour, EventsMaxAge: time.Hour,
		DeadLetterMaxAge: time.Hour, LookupsMaxAge: 24 * time.Hour, AckWait: 15 * time.Second, WebhookMaxDeliver: 10})
	if err != nil {
		t.Fatal(err)
	}
	s := NewSchedules(js, res.Schedules, streams.NamesOf(kybflow.Subjects{}))
	start := time.Now()
	every := New("acme.every", kybflow.MonitorDefinition{Schedule: kybflow.Schedule{Every: "2s"}}, start)
	cron := New("acme.cron", kybflow.MonitorDefinition{Schedule: kybflow.Schedule{Cron: "*/3 * * * * *", TimeZone: "Asia/Kolkata"}}, start)

	if tm, err := s.Timing(ctx, every.Key); err != nil || tm != (Timing{}) {
		t.Fatalf("Timing before the schedule is set = %+v, %v; want none", tm, err)
	}
	for _, r := range []Record{every, cron} {
		if err := s.Set(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	tm, err := s.Timing(ctx, every.Key)
	if err != nil || tm.Set.IsZero() || !tm.Fired.IsZero() {
		t.Fatalf("Timing once set = %+v, %v; want the schedule's time, no fire", tm, err)
	}
	first, ok := NextRun(every, tm, time.Now())
	if !ok || !first.Equal(tm.Set.Round(time.Second).Add(2*time.Second)) {
		t.Fatalf("first run %s %v; want the schedule's time plus 2s", first, ok)
	}

	for _, r := range []Record{every, cron} {
		var tm Timing
		testenv.Eventually(t, 15*time.Second, func() error {
			if tm, err = s.Timing(ctx, r.Key); err != nil {
				return err
			}
			if tm.Fired.IsZero() {
				return fmt.Errorf("no fire of %s yet", r.Key)
			}
			return nil
		})
		// Of the fire's time, the next run is the server's next fire.
		got, ok := NextRun(r, tm, tm.Fired)
		if !ok || !got.Equal(tm.Next) {
			t.Errorf("%s: next run after its fire at %s = %s %v; the server says %s", r.Key, tm.Fired, got, ok, tm.Next)
		}
		// The server counts an interval from the schedule's time: what
		// NextRun carries forward when the fires are gone.
		if r.Key == every.Key && tm.Next.Sub(tm.Set.Round(time.Second))%(2*time.Second) != 0 {
			t.Errorf("every 2s: the server's next fire %s is not the schedule's time %s plus whole intervals", tm.Next, tm.Set)
		}
	}
	if err := s.Stop(ctx, every.Key); err != nil {
		t.Fatal(err)
	}
	if tm, err := s.Timing(ctx, every.Key); err != nil || !tm.Set.IsZero() {
		t.Fatalf("Timing once stopped = %+v, %v; want no schedule", tm, err)
	} else if _, ok := NextRun(every, tm, time.Now()); ok {
		t.Error("a next run without a schedule")
	}
}
