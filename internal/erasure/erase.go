package erasure

import (
	"context"
	"fmt"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/lookups"
)

// Result is what one erasure did; on an error, how far it got.
type Result struct {
	Key        string        // the lookup key
	State      lookups.State // of the record found; "" for none
	Already    bool          // a finished erasure was found: nothing is published again
	Resumed    bool          // an unfinished one was found, and is finished now
	Tombstoned bool          // the record is a tombstone now (the erasure is begun)
	ErasedAt   time.Time     // when the erasure began (the first one's, when resumed)

	Objects blob.Erased // what the lookup's prefix held
	Refused []Refusal   // locations in the record outside it: not deleted

	Events, Webhooks, Checks int      // messages deleted from their streams
	DeadLetters              []uint64 // sequences of the dead letters deleted
	History                  uint64   // older revisions of the record purged

	Published bool // the erased event was published now
	Duplicate bool // ... and the events stream had it already (a resumed erasure)
}

// Refusal is an artifact location of the record that the erasure did not
// delete, and why: another bucket than the store's, or a key outside the
// lookup's prefix. It may hold the lookup's data: look at it by hand.
type Refusal struct {
	Bucket, Key string
	Reason      string
}

// Removed reports whether the erasure deleted anything but the record.
func (r *Result) Removed() bool {
	return !r.Objects.Empty() || r.Events > 0 || r.Webhooks > 0 || r.Checks > 0 || len(r.DeadLetters) > 0 || r.History > 0
}

// Erase erases the lookup key (a lookupId, or tenant.lookupId), in the
// order of the package doc. A lookup that has not ended is ErrNotEnded
// without Options.Force. On an error, Result says how far it got: once
// Tombstoned, running Erase again finishes it.
func (e *Eraser) Erase(ctx context.Context, key string) (*Result, error) {
	r := &Result{Key: key}
	if !kybflow.ValidLookupKey(key) {
		return r, fmt.Errorf("%q: %w", key, ErrInvalidKey)
	}
	tomb, rev, err := e.tombstone(ctx, r)
	if err != nil {
		return r, err
	}
	r.Tombstoned = true
	if err := e.purgeHistory(ctx, r); err != nil {
		return r, err
	}
	if err := e.eraseObjects(ctx, r, tomb.Artifacts); err != nil {
		return r, fmt.Errorf("delete its objects: %w", err)
	}
	if err := e.eraseMessages(ctx, r); err != nil {
		return r, err
	}
	if r.Already {
		return r, nil
	}
	if err := e.publish(ctx, r); err != nil {
		return r, err
	}
	return r, e.finish(ctx, r, tomb, rev)
}
