package monitors

// A monitor's schedule: one JetStream message schedule on the schedules
// stream, whose fires the worker turns into runs.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/streams"
)

// FireTTL is how long a fire is kept in the schedules stream: a fire not
// taken within it (every worker down that long) is a run skipped.
const FireTTL = 24 * time.Hour

// The headers of JetStream message schedules (nats-server 2.14).
const (
	headerSchedule         = "Nats-Schedule"
	headerScheduleTarget   = "Nats-Schedule-Target"
	headerScheduleTimeZone = "Nats-Schedule-Time-Zone"
	headerScheduleTTL      = "Nats-Schedule-TTL"
	headerTTL              = "Nats-TTL"
	// HeaderScheduleNext is set by the server on each fire: the time of
	// the schedule's next fire, unique per fire (RunOf).
	HeaderScheduleNext = "Nats-Schedule-Next"
)

// Schedules publishes and stops monitors' schedules.
type Schedules struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	names  streams.Names
}

// NewSchedules is the schedules of the stream made by streams.Ensure.
func NewSchedules(js jetstream.JetStream, stream jetstream.Stream, names streams.Names) *Schedules {
	return &Schedules{js: js, stream: stream, names: names}
}

// Set publishes the schedule of r (replacing any: the stream keeps one per
// subject). It is kept whatever the stream's limits allow (Nats-TTL never);
// its fires expire after FireTTL.
func (s *Schedules) Set(ctx context.Context, r Record) error {
	m := nats.NewMsg(s.names.Schedule(r.Key))
	m.Data = []byte(r.Key)
	sch := r.Definition.Schedule
	if sch.Every != "" {
		m.Header.Set(headerSchedule, "@every "+sch.Interval().String())
	} else {
		m.Header.Set(headerSchedule, sch.Cron)
		if sch.TimeZone != "" {
			m.Header.Set(headerScheduleTimeZone, sch.TimeZone)
		}
	}
	m.Header.Set(headerScheduleTarget, s.names.Fire(r.Key))
	m.Header.Set(headerScheduleTTL, FireTTL.String())
	m.Header.Set(headerTTL, "never")
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	if _, err := s.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("schedule of monitor %s: %w", r.Key, err)
	}
	return nil
}

// Current reports whether the schedule of r is set as Set would set it:
// a redelivered command need not set it again (which would restart an
// interval's count).
func (s *Schedules) Current(ctx context.Context, r Record) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	m, err := s.stream.GetLastMsgForSubject(ctx, s.names.Schedule(r.Key))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("schedule of monitor %s: %w", r.Key, err)
	}
	sch := r.Definition.Schedule
	want := sch.Cron
	if sch.Every != "" {
		want = "@every " + sch.Interval().String()
	}
	return m.Header.Get(headerSchedule) == want && m.Header.Get(headerScheduleTimeZone) == sch.TimeZone, nil
}

// Stop removes the schedule of key: no more fires.
func (s *Schedules) Stop(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	if err := s.stream.Purge(ctx, jetstream.WithPurgeSubject(s.names.Schedule(key))); err != nil {
		return fmt.Errorf("stop the schedule of monitor %s: %w", key, err)
	}
	return nil
}

// RunOf is the run a fire of r's schedule stands for: its lookupId (the
// same for a fire delivered twice, from the fire's Nats-Schedule-Next)
// and when it was due (an interval before that next fire; for a cron
// schedule, the fire's time in the stream, to the second).
func RunOf(r Record, next time.Time, stored time.Time) (lookupID string, at time.Time) {
	at = stored.UTC().Truncate(time.Second)
	if d := r.Definition.Schedule.Interval(); d > 0 {
		at = next.UTC().Add(-d)
	}
	_, monitorID, _ := kybflow.SplitLookupKey(r.Key)
	return kybflow.RunLookupID(monitorID, next), at
}
