// Package lookups keeps the state record of each lookup in a JetStream
// key-value bucket, keyed by lookupId, changed only by compare-and-set on the
// entry's revision. The record, not any process's memory, says how far a
// lookup got, so any replica can continue any lookup (docs/design.md).
package lookups

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
)

// State is where a lookup is in its life.
type State string

// The states, in order. Completed and Failed are terminal. Erased is not
// a step of a lookup's life but what an operator makes of it afterwards
// (erase.go): a tombstone that workers must ignore everything for.
const (
	Accepted  State = "accepted"  // valid, ours, no session yet
	Opening   State = "opening"   // a replica holds the lease and is creating the session
	Opened    State = "opened"    // session recorded; results being waited for and stored
	Completed State = "completed" // every artifact stored; the completed event is published next (Published marks it)
	Failed    State = "failed"    // failed; the failed event is published next (Published marks it)
	Erased    State = "erased"    // personal data erased: a tombstone (Tombstone); nothing more is done for the lookup
)

// MarkCheckScheduled in Record.Published: the first check is published.
const MarkCheckScheduled = "check"

// Terminal reports whether nothing more happens to a lookup in state s
// because it ended. Erased is not terminal on purpose: a worker must not
// finish (publish the ending of) an erased lookup, but ignore it.
func (s State) Terminal() bool { return s == Completed || s == Failed }

// Record is the state of one lookup.
type Record struct {
	State   State                 `json:"state"`
	Command kybflow.LookupCommand `json:"command"`
	// SessionID is BankID's session, once opened.
	SessionID string `json:"sessionId,omitempty"`
	// LeaseUntil is when an Opening lease ends: before it, another replica
	// leaves the lookup alone; after it, it may take over.
	LeaseUntil time.Time `json:"leaseUntil,omitzero"`
	// LeaseHolder is a token of the claim that holds the lease, so that its
	// holder knows its own renewals (one applied unheard) from a take-over.
	LeaseHolder string `json:"leaseHolder,omitempty"`
	// LeaseSeq is the stream sequence of the command that holds the lease:
	// another command for the lookup (a duplicate) is acknowledged while
	// the lease is held, since the holder's own command carries the lookup.
	LeaseSeq uint64 `json:"leaseSeq,omitempty"`
	// OpenedSeq is the stream sequence of the command whose handler opened
	// the session: it alone announces the session (a redelivery of it
	// announces again, deduplicated by the stream); another command for
	// the lookup is a duplicate and announces nothing.
	OpenedSeq uint64 `json:"openedSeq,omitempty"`
	// Traceparent and Tracestate are the W3C trace context of the lookup
	// (its command's span), set when the record is created: the checks and
	// webhooks handled later continue its trace (internal/tracing).
	Traceparent string `json:"traceparent,omitempty"`
	Tracestate  string `json:"tracestate,omitempty"`
	// Artifacts stored so far, in the order they were stored.
	Artifacts []kybflow.Artifact `json:"artifacts,omitempty"`
	// OmittedExpands are requested expands the API left out of the result
	// (read from the stored JSON), for the completed event.
	OmittedExpands []string `json:"omittedExpands,omitempty"`
	// Failure is the failed event's data, once failed.
	Failure *kybflow.FailedData `json:"failure,omitempty"`
	// Published lists what has been published for this lookup: event
	// kinds, and MarkCheckScheduled. A step publishes first and records
	// here after, so a crash in between re-publishes with the same
	// Nats-Msg-Id (dropped by the stream), and a duplicate command much
	// later publishes nothing at all. An ending's mark is written with the
	// ending itself, before its event (MarkedAtEnd): for this version the
	// events stream says whether the ending is out (handler.finish), and a
	// version before it takes the mark as "out" and publishes nothing.
	Published []string `json:"published,omitempty"`
	// MarkedAtEnd: the ending's mark in Published was written with the
	// ending, before its event; a mark without it was written after.
	MarkedAtEnd bool `json:"markedAtEnd,omitempty"`

	AcceptedAt time.Time `json:"acceptedAt,omitzero"`
	OpenedAt   time.Time `json:"openedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	// ErasedAt is when the lookup's personal data began to be erased
	// (state Erased).
	ErasedAt time.Time `json:"erasedAt,omitzero"`
}

// Artifact returns the stored artifact with name, if any.
func (r *Record) Artifact(name string) (kybflow.Artifact, bool) {
	i := slices.IndexFunc(r.Artifacts, func(a kybflow.Artifact) bool { return a.Name == name })
	if i < 0 {
		return kybflow.Artifact{}, false
	}
	return r.Artifacts[i], true
}

// AddArtifact records a (replaces a same-named) stored artifact.
func (r *Record) AddArtifact(a kybflow.Artifact) {
	if i := slices.IndexFunc(r.Artifacts, func(x kybflow.Artifact) bool { return x.Name == a.Name }); i >= 0 {
		r.Artifacts[i] = a
		return
	}
	r.Artifacts = append(r.Artifacts, a)
}

// LogValue logs the state, not the command's personal fields.
func (r Record) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("lookup_id", r.Command.Key()),
		slog.String("state", string(r.State)),
		slog.String("session_id", r.SessionID),
		slog.Int("artifacts", len(r.Artifacts)),
	)
}

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
	var r Record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return Record{}, 0, fmt.Errorf("decode lookup %s (revision %d): %w: %w", lookupID, e.Revision(), ErrCorrupt, err)
	}
	return r, e.Revision(), nil
}

// Create stores a new record; ErrExists when there is one.
func (s *Store) Create(ctx context.Context, r Record) (uint64, error) {
	b, err := json.Marshal(r)
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

// Update replaces the record at revision rev; ErrConflict when it changed
// since.
func (s *Store) Update(ctx context.Context, r Record, rev uint64) (uint64, error) {
	b, err := json.Marshal(r)
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
