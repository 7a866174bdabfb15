// Package lookups owns a lookup's state machine: its record (record.go),
// the transitions that are the only way the record changes
// (transitions.go), and the store that keeps it in a JetStream key-value
// bucket, keyed by the lookup's key, written by compare-and-set on the
// entry's revision (Apply). The record, not any process's memory, says how
// far a lookup got, so any replica can continue any lookup
// (docs/design.md).
package lookups

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Errors of the store. Each is returned wrapped; test with errors.Is.
var (
	// ErrNotFound: no record for that lookupId.
	ErrNotFound = errors.New("lookup not found")
	// ErrExists: Create found a record already (a duplicate command).
	ErrExists = errors.New("lookup exists")
	// ErrConflict: Update lost a race; re-read and decide again.
	ErrConflict = errors.New("lookup changed concurrently")
	// ErrCorrupt: the stored record cannot be decoded.
	ErrCorrupt = errors.New("lookup record is corrupt")
	// ErrNewer: the stored record was written by a newer version, whose
	// fields this one would lose by writing it (a rolling upgrade or a
	// rollback in progress): its message waits for a worker that knows it.
	ErrNewer = errors.New("lookup record is of a newer version")
)

// Store reads and writes records.
type Store struct {
	kv jetstream.KeyValue
}

// NewStore returns a store on a bucket made by streams.Ensure.
func NewStore(kv jetstream.KeyValue) *Store { return &Store{kv: kv} }

// RequestTimeout bounds one read or write of a record. The caller's context
// may allow minutes (a handler's deadline); a request whose answer was
// lost with a server (a leader that died mid-request) must fail in seconds,
// to be retried, not wait out that deadline.
const RequestTimeout = 5 * time.Second

// Get returns the record of lookupID and its revision.
func (s *Store) Get(ctx context.Context, lookupID string) (Record, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	e, err := s.kv.Get(ctx, lookupID)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return Record{}, 0, fmt.Errorf("get lookup %s: %w", lookupID, ErrNotFound)
		}
		return Record{}, 0, fmt.Errorf("get lookup %s: %w", lookupID, err)
	}
	r, err := decode(e.Value())
	if err != nil {
		return Record{}, 0, fmt.Errorf("decode lookup %s (revision %d): %w", lookupID, e.Revision(), err)
	}
	return r, e.Revision(), nil
}

// Create stores a new record (New, Rejected, a transition applied to
// one); ErrExists when there is one.
func (s *Store) Create(ctx context.Context, r Record) (uint64, error) {
	b, err := encode(r)
	if err != nil {
		return 0, fmt.Errorf("encode lookup %s: %w", r.Command.Key(), err)
	}
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	rev, err := s.kv.Create(ctx, r.Command.Key(), b)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return 0, fmt.Errorf("create lookup %s: %w", r.Command.Key(), ErrExists)
		}
		return 0, fmt.Errorf("create lookup %s: %w", r.Command.Key(), err)
	}
	return rev, nil
}

// update replaces the record at revision rev; ErrConflict when it changed
// since. Records change through Apply.
func (s *Store) update(ctx context.Context, r Record, rev uint64) (uint64, error) {
	b, err := encode(r)
	if err != nil {
		return 0, fmt.Errorf("encode lookup %s: %w", r.Command.Key(), err)
	}
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	next, err := s.kv.Update(ctx, r.Command.Key(), b, rev)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
			return 0, fmt.Errorf("update lookup %s at revision %d: %w", r.Command.Key(), rev, ErrConflict)
		}
		return 0, fmt.Errorf("update lookup %s: %w", r.Command.Key(), err)
	}
	return next, nil
}
