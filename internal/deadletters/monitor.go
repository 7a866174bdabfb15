package deadletters

// The dead letters of one monitor's commands, for the erasure of its
// history, attributed as a lookup's are (lookup.go): its monitorId is the
// body's top-level "monitorId" (kybflow.MonitorIDOf), and its tenant that
// of the monitor command subject it was published on. A dead letter
// published on a lookup command subject is a lookup's, never a monitor's;
// one published on neither kind of command subject, or without the
// header, belongs to the monitor with its monitorId of every tenant.

import (
	"context"

	"github.com/kybflow/kybflow"
)

// BelongsToMonitor reports whether d is a dead letter of the monitor key
// (tenant.monitorId, or the monitorId alone).
func (s *Stream) BelongsToMonitor(d DeadLetter, key string) bool {
	tenant, monitorID, ok := kybflow.SplitLookupKey(key)
	if !ok {
		return false
	}
	id, ok := kybflow.MonitorIDOf(d.Data)
	if !ok || id != monitorID {
		return false
	}
	if published, known := s.subjects.MonitorCommandTenant(d.Subject()); known {
		return published == tenant
	}
	_, lookup := s.subjects.CommandTenant(d.Subject())
	return !lookup
}

// OfMonitor returns the dead letters of the monitor key, oldest first.
func (s *Stream) OfMonitor(ctx context.Context, key string) ([]DeadLetter, error) {
	all, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []DeadLetter
	for _, d := range all {
		if s.BelongsToMonitor(d, key) {
			out = append(out, d)
		}
	}
	return out, nil
}

// EraseMonitor deletes the dead letters of the monitor key (securely) and
// returns the sequences it deleted; on an error, those deleted before it.
func (s *Stream) EraseMonitor(ctx context.Context, key string) ([]uint64, error) {
	of, err := s.OfMonitor(ctx, key)
	if err != nil {
		return nil, err
	}
	return s.deleteAll(ctx, of)
}
