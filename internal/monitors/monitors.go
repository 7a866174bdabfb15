// Package monitors keeps the record of each monitor (a lookup re-run on a
// schedule) in a JetStream key-value bucket, keyed by the monitor's key,
// changed only through its transitions, by compare-and-set; and makes its
// schedule: a JetStream message schedule on the schedules stream, whose
// fires the worker turns into runs (docs/monitors.md).
package monitors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
)

// Record is the state of one monitor.
type Record struct {
	Key        string                    `json:"key"`
	Status     kybflow.MonitorStatus     `json:"status"`
	Definition kybflow.MonitorDefinition `json:"definition"`
	CreatedAt  time.Time                 `json:"createdAt"`
	UpdatedAt  time.Time                 `json:"updatedAt"`
	// Recent are the latest runs that completed (at most keptRuns), in the
	// order they were due: a run is compared with the latest of them due
	// before it (Before), so that runs that overlap (one slower than the
	// interval) each compare with an earlier one.
	Recent []Run `json:"recent,omitempty"`
	// Runs counts the runs recorded so far.
	Runs int `json:"runs,omitempty"`
}

// Run is one completed run of a monitor, as the next run needs it.
type Run struct {
	LookupID string           `json:"lookupId"` // the run's lookupId (kybflow.RunLookupID)
	At       time.Time        `json:"at"`
	JSON     kybflow.Artifact `json:"json"` // its stored JSON result
}

// Errors of the store and the transitions, wrapped; test with errors.Is.
var (
	ErrNotFound  = errors.New("monitor not found")
	ErrExists    = errors.New("monitor exists")
	ErrDeleted   = errors.New("monitor deleted")
	ErrUnchanged = errors.New("monitor unchanged")
	ErrCorrupt   = errors.New("monitor record is corrupt")
	// ErrRefused: a transition does not apply to the monitor as it is.
	ErrRefused = errors.New("does not apply")
)

// Store reads and writes monitor records.
type Store struct{ kv jetstream.KeyValue }

// NewStore is the store on the monitors bucket (streams.Ensure).
func NewStore(kv jetstream.KeyValue) *Store { return &Store{kv: kv} }

// requestTimeout bounds one request (as lookups.RequestTimeout).
const requestTimeout = 5 * time.Second

// Get is the record of key and its revision.
func (s *Store) Get(ctx context.Context, key string) (Record, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Record{}, 0, fmt.Errorf("monitor %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return Record{}, 0, fmt.Errorf("monitor %s: %w", key, err)
	}
	var r Record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return Record{}, 0, fmt.Errorf("monitor %s (revision %d): %w: %w", key, e.Revision(), ErrCorrupt, err)
	}
	return r, e.Revision(), nil
}

// Create stores a new record; ErrExists when there is one.
func (s *Store) Create(ctx context.Context, r Record) (uint64, error) {
	b, err := kybflow.MarshalKeepingMetadata(r, r.Definition.Lookup.Metadata, "definition", "lookup", "metadata")
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	rev, err := s.kv.Create(ctx, r.Key, b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, fmt.Errorf("monitor %s: %w", r.Key, ErrExists)
	}
	if err != nil {
		return 0, fmt.Errorf("monitor %s: %w", r.Key, err)
	}
	return rev, nil
}

// Transition changes a record, or refuses (ErrUnchanged: nothing to
// write).
type Transition func(*Record) error

// Apply changes the record of key by t, by compare-and-set: on a
// conflict it reads again and applies t again. It returns the record as
// written (or as it is, when t refused) and its revision.
func (s *Store) Apply(ctx context.Context, key string, t Transition) (Record, uint64, error) {
	for range 10 {
		r, rev, err := s.Get(ctx, key)
		if err != nil {
			return r, rev, err
		}
		next := r
		if err := t(&next); errors.Is(err, ErrUnchanged) {
			return r, rev, nil
		} else if err != nil {
			return r, rev, fmt.Errorf("monitor %s: %w", key, err)
		}
		b, err := kybflow.MarshalKeepingMetadata(next, next.Definition.Lookup.Metadata, "definition", "lookup", "metadata")
		if err != nil {
			return r, rev, err
		}
		uctx, cancel := context.WithTimeout(ctx, requestTimeout)
		nrev, err := s.kv.Update(uctx, key, b, rev)
		cancel()
		if err == nil {
			return next, nrev, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return r, rev, fmt.Errorf("monitor %s: %w", key, err)
		}
	}
	return Record{}, 0, fmt.Errorf("monitor %s: too many concurrent changes", key)
}

// Delete removes the record of key (a deleted monitor keeps nothing; its
// runs are lookups like any other, kept for LOOKUP_RETENTION).
func (s *Store) Delete(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	if err := s.kv.Purge(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("monitor %s: %w", key, err)
	}
	return nil
}

// List calls f with every monitor record, in key order.
func (s *Store) List(ctx context.Context, f func(Record) error) error {
	keys, err := s.kv.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("monitors: %w", err)
	}
	defer func() { _ = keys.Stop() }()
	for key := range keys.Keys() {
		r, _, err := s.Get(ctx, key)
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		if err := f(r); err != nil {
			return err
		}
	}
	return nil
}
