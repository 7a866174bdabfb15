package erasure

// The record: made an erasing tombstone first (lookups' BeginErasure), and
// the final one (EndErasure) once the erased event is out, each through
// the store's compare-and-set loop (Apply).

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kybflow/kybflow/internal/lookups"
)

// createAttempts bounds the rounds against a worker creating the record of
// a lookup that had none.
const createAttempts = 5

// tombstone finds the lookup's record and, unless it is a tombstone
// already, makes it the tombstone an erasure begins with: first, so that a
// worker takes the lookup no further while the rest is deleted. The
// tombstone keeps the artifacts' locations (a resumed erasure reports the
// refused ones) and nothing personal: not the correlationId, which the
// erased event no longer carries. It returns the tombstone and its
// revision, or an error that says why the lookup is not erased.
func (e *Eraser) tombstone(ctx context.Context, r *Result) (lookups.Record, uint64, error) {
	for attempt := 1; ; attempt++ {
		rec, rev, err := e.records.Get(ctx, r.Key)
		if errors.Is(err, lookups.ErrNotFound) {
			// No record (never seen, or past LOOKUP_RETENTION): one is
			// made, so that the lookupId is not used again meanwhile.
			r.ErasedAt = e.opts.Now().UTC().Truncate(time.Millisecond) // as the erased event carries it
			tomb := lookups.Erasing(lookups.Record{}, r.Key, r.ErasedAt)
			rev, err = e.records.Create(ctx, tomb)
			if errors.Is(err, lookups.ErrExists) && attempt < createAttempts {
				continue // a worker made it meanwhile: decide on it
			}
			if err != nil {
				return tomb, 0, fmt.Errorf("write the tombstone: %w", err)
			}
			return tomb, rev, nil
		}
		if err != nil {
			return rec, 0, fmt.Errorf("read its record: %w", err)
		}
		r.State = rec.State
		// A terminal record stays terminal (or becomes erased): deciding
		// on this read holds for every round of Apply.
		if rec.State != lookups.Erased && !rec.State.Terminal() && !e.opts.Force {
			return rec, 0, fmt.Errorf("it is %s, %w", rec.State, ErrNotEnded)
		}
		at := e.opts.Now().UTC().Truncate(time.Millisecond) // as the erased event carries it
		tomb, rev, err := e.records.Apply(ctx, rec, rev, func(rec *lookups.Record) error { return rec.BeginErasure(at) })
		if err != nil {
			return rec, 0, fmt.Errorf("write the tombstone: %w", err)
		}
		// Begun now, or earlier (found erased, or erased meanwhile by
		// another erasure): then its time stands.
		r.ErasedAt = tomb.ErasedAt
		if rec.State == lookups.Erased || !tomb.ErasedAt.Equal(at) {
			r.Already, r.Resumed = tomb.ErasureDone(), !tomb.ErasureDone()
		}
		return tomb, rev, nil
	}
}

// finish makes the tombstone (at rev) the final one, once the erased event
// is out, and purges the revisions before it. A concurrent erasure that
// finished it first changes nothing.
func (e *Eraser) finish(ctx context.Context, r *Result, tomb lookups.Record, rev uint64) error {
	if _, _, err := e.records.Apply(ctx, tomb, rev, (*lookups.Record).EndErasure); err != nil {
		return fmt.Errorf("write the final tombstone: %w", err)
	}
	return e.purgeHistory(ctx, r)
}

// purgeHistory purges the older revisions of the lookup's record.
func (e *Eraser) purgeHistory(ctx context.Context, r *Result) error {
	n, err := e.records.PurgeHistory(ctx, e.js, r.Key)
	r.History += n
	return err
}
