// Package erasure is the GDPR erasure of one lookup's personal data, from
// every place kybflow keeps it, in this order (erase.go):
//
//  1. its record becomes a tombstone (tombstone.go), first, so that no
//     worker takes the lookup further and a command re-sent with its
//     lookupId opens nothing; the key's older revisions are purged;
//  2. everything stored under the lookup's own key prefix (objects.go):
//     every object, every version and delete marker of a versioned
//     bucket, every incomplete multipart upload; a location in the record
//     outside that prefix, or in another bucket, is refused, never deleted;
//  3. its events (but an erased one), webhooks, checks and dead letters
//     (messages.go), each with a secure delete;
//  4. the erased event (event.go), which tells downstream services to erase
//     their copies and carries no correlationId;
//  5. the final tombstone, the lookupId and erasedAt only.
//
// Erasing is idempotent: a second erasure removes what appeared since and
// publishes nothing; one cut short is finished by the next, with the same
// erasedAt and event. docs/operations.md ("GDPR erasure") is the operator's
// side. amlctl erase (internal/cli) is a shell over this package: it
// parses flags and prints a Result.
package erasure

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/deadletters"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/streams"
)

// Store is the worker's result store, as an erasure needs it: blob.S3 (its
// S3_BUCKET) or blob.Dir (its BLOB_DIR).
type Store interface {
	// Bucket is the bucket the worker records in an artifact stored
	// there: an artifact naming another one is refused.
	Bucket() string
	ErasePrefix(ctx context.Context, prefix string, keys []string) (blob.Erased, error)
	// Prefixes lists the prefixes one segment below parent whose segment
	// begins with start: the lookups whose key begins so (Runs).
	Prefixes(ctx context.Context, parent, start string) ([]string, error)
}

// Options configure an Eraser as the worker is configured.
type Options struct {
	// Subjects are the worker's (AML_SUBJECT_PREFIX).
	Subjects kybflow.Subjects
	// Keys is the worker's object key layout (BLOB_KEY_PREFIX).
	Keys kybflow.ObjectKeys
	// Source is the worker's EVENT_SOURCE: the erased event's source, as
	// of the lookup's other events. Required: an absolute URI.
	Source string
	// Force erases a lookup that has not ended too (ErrNotEnded without
	// it): a worker handling it may store or publish again afterwards.
	Force bool
	// Now is the clock of erasedAt (default time.Now).
	Now func() time.Time
}

// Validate reports the first invalid option, naming it.
func (o Options) Validate() error {
	if err := o.Subjects.Validate(); err != nil {
		return fmt.Errorf("erasure: Subjects: %w", err)
	}
	if err := o.Keys.Validate(); err != nil {
		return fmt.Errorf("erasure: Keys: %w", err)
	}
	if _, err := ErasedEvent(o.Source, "x", time.Now()); err != nil {
		return fmt.Errorf("erasure: Source %q: want an absolute URI: %w", o.Source, err)
	}
	return nil
}

// Errors of Erase, returned wrapped; test with errors.Is.
var (
	// ErrNotEnded: the lookup is accepted, opening or opened, and
	// Options.Force is not set. Nothing was changed.
	ErrNotEnded = errors.New("not ended: a worker handling it would store results and publish events again after the erasure")
	// ErrInvalidKey: not a lookup key (a lookupId, or tenant.lookupId).
	ErrInvalidKey = errors.New("not a lookupId (1 to 128 of A-Z a-z 0-9 _ -) or a tenant's tenant.lookupId")
)

// StreamError is an error of a stream (or the lookups bucket) an erasure
// needs: Stream names it, Err wraps jetstream's error (ErrStreamNotFound
// when the worker has not made it yet).
type StreamError struct {
	Stream string
	Err    error
}

func (e *StreamError) Error() string { return "stream " + e.Stream + ": " + e.Err.Error() }
func (e *StreamError) Unwrap() error { return e.Err }

// Eraser erases lookups of one deployment. It is safe for concurrent use,
// but two erasures of one lookup at once only race for the same outcome.
type Eraser struct {
	js                       jetstream.JetStream
	opts                     Options
	store                    Store
	records                  *lookups.Store
	lookupsKV                jetstream.KeyValue // its keys, for Runs
	events, webhooks, checks jetstream.Stream
	deadLetters              *deadletters.Stream
}

// New finds the deployment's bucket and streams: a *StreamError when one
// is missing or cannot be read.
func New(ctx context.Context, js jetstream.JetStream, store Store, opts Options) (*Eraser, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, errors.New("erasure: no store")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	e := &Eraser{js: js, opts: opts, store: store}
	names := streams.NamesOf(opts.Subjects)
	kv, err := js.KeyValue(ctx, names.LookupsBucket())
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		err = fmt.Errorf("%w (bucket %s)", jetstream.ErrStreamNotFound, names.LookupsBucket()) // the bucket is a stream
	}
	if err != nil {
		return nil, &StreamError{Stream: names.LookupsBucket(), Err: err}
	}
	e.records, e.lookupsKV = lookups.NewStore(kv), kv
	for _, s := range []struct {
		name string
		to   *jetstream.Stream
	}{{opts.Subjects.EventsStream(), &e.events}, {names.WebhooksStream(), &e.webhooks}, {names.ChecksStream(), &e.checks}} {
		if *s.to, err = js.Stream(ctx, s.name); err != nil {
			return nil, &StreamError{Stream: s.name, Err: err}
		}
	}
	if e.deadLetters, err = deadletters.Open(ctx, js, opts.Subjects); err != nil {
		return nil, &StreamError{Stream: opts.Subjects.DeadLetterStream(), Err: err}
	}
	return e, nil
}
