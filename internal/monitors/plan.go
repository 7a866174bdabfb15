package monitors

// A monitor's plan, for operators: when it runs next, and how many BankID
// sessions its schedule costs (one per run).

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
)

// CostWindow is the month a monitor's cost is counted over.
const CostWindow = 30 * 24 * time.Hour

// SessionsPerMonth is what the schedule s costs in CostWindow after now,
// one session per run: CostWindow divided by the interval of an every
// schedule (a fraction when it does not divide it), the slots of a cron
// schedule in (now, now+CostWindow] (which depend on now: months, weeks
// and changes of clock). It does not know the monitor's until, nor
// whether it is paused.
func SessionsPerMonth(s kybflow.Schedule, now time.Time) (float64, error) {
	if d := s.Interval(); d > 0 {
		return float64(CostWindow) / float64(d), nil
	}
	c, err := ScheduleCron(s)
	if err != nil {
		return 0, err
	}
	return float64(c.Count(now, now.Add(CostWindow))), nil
}

// ScheduleCron is the cron of a cron schedule, in its time zone.
func ScheduleCron(s kybflow.Schedule) (*Cron, error) {
	loc := time.UTC
	if s.TimeZone != "" {
		var err error
		if loc, err = time.LoadLocation(s.TimeZone); err != nil {
			return nil, fmt.Errorf("schedule time zone %q: %w", s.TimeZone, err)
		}
	}
	return ParseCron(s.Cron, loc)
}

// Timing is what the schedules stream holds of one monitor's schedule.
type Timing struct {
	// Set is when the schedule was last set (its message's time); zero
	// when there is none: the monitor is paused, ended or deleted.
	Set time.Time
	// Fired is when its latest fire kept in the stream (for FireTTL) was
	// stored, and Next that fire's Nats-Schedule-Next; zero without one.
	Fired, Next time.Time
}

// Timing reads the schedule of key and its latest fire.
func (s *Schedules) Timing(ctx context.Context, key string) (Timing, error) {
	var t Timing
	for _, m := range []struct {
		subject string
		read    func(*jetstream.RawStreamMsg) error
	}{
		{s.names.Schedule(key), func(m *jetstream.RawStreamMsg) error { t.Set = m.Time; return nil }},
		{s.names.Fire(key), func(m *jetstream.RawStreamMsg) error {
			next, err := time.Parse(time.RFC3339, m.Header.Get(HeaderScheduleNext))
			if err != nil {
				return fmt.Errorf("fire %d of monitor %s: %s: %w", m.Sequence, key, HeaderScheduleNext, err)
			}
			t.Fired, t.Next = m.Time, next
			return nil
		}},
	} {
		gctx, cancel := context.WithTimeout(ctx, requestTimeout)
		msg, err := s.stream.GetLastMsgForSubject(gctx, m.subject)
		cancel()
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return t, fmt.Errorf("schedule of monitor %s: %w", key, err)
		}
		if err := m.read(msg); err != nil {
			return t, err
		}
	}
	return t, nil
}

// NextRun is when the monitor r runs next after now, as its schedule
// stands in t; false when it does not: not active, its schedule not set,
// or the run after its until (the monitor then ends).
//
// A cron schedule runs at its next slot. An every schedule runs at the
// Nats-Schedule-Next of its latest fire, when that fire came after the
// schedule was set, else at the schedule's time (to the second) plus the
// interval; a time found so that is past (its fire expired, a server was
// down) is carried forward by whole intervals, as the server counts them
// while it runs.
func NextRun(r Record, t Timing, now time.Time) (time.Time, bool) {
	if r.Status != kybflow.MonitorActive || t.Set.IsZero() {
		return time.Time{}, false
	}
	sch := r.Definition.Schedule
	var next time.Time
	if d := sch.Interval(); d > 0 {
		next = t.Set.Round(time.Second).Add(d)
		if !t.Next.IsZero() && !t.Fired.Before(t.Set) {
			next = t.Next
		}
		if !next.After(now) {
			intervals := int64(now.Sub(next)/d) + 1
			next = next.Add(time.Duration(intervals) * d)
		}
	} else {
		c, err := ScheduleCron(sch)
		if err != nil {
			return time.Time{}, false
		}
		var ok bool
		if next, ok = c.Next(now); !ok {
			return time.Time{}, false
		}
	}
	if until := r.Definition.Until; until != nil && next.After(*until) {
		return time.Time{}, false
	}
	return next.UTC(), true
}
