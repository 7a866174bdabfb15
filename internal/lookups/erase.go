package lookups

// Erasure (internal/erasure): the record of a lookup whose personal data
// is erased is replaced by a tombstone, in two transitions (BeginErasure,
// EndErasure), and the older revisions of its key are purged from the
// bucket's stream.
//
// The tombstone is a record like any other, so it keeps blocking a second
// session for the lookupId (a command re-sent with it finds a record) for
// as long as the bucket keeps it: LOOKUP_RETENTION after it was written,
// the bucket's max age. After that the key is gone, as for every lookup,
// and a command with the same lookupId would be a new lookup.

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
)

// BeginErasure makes the record an erasing tombstone, at time at: state
// Erased, the lookup's key, erasedAt, and what a resumed erasure still
// needs if this one is cut short: the artifacts' locations (to delete the
// objects). No command fields but the key, no metadata, identifier,
// session or results. Allowed in every state (an operator erases lookups
// in flight too, and a worker then leaves them alone); ErrUnchanged when
// the erasure began already (a resumed erasure keeps its first time).
func (r *Record) BeginErasure(at time.Time) error {
	if r.State == Erased {
		return ErrUnchanged
	}
	*r = Record{
		Version:   Version,
		State:     Erased,
		Command:   commandOf(r.Command.Key()),
		Artifacts: r.Artifacts,
		ErasedAt:  at.UTC(),
	}
	return nil
}

// EndErasure makes an erasing tombstone the Tombstone, once the erased
// event is published: the lookup's key and erasedAt, nothing else.
// Allowed on an erased lookup; ErrUnchanged when it is one already.
func (r *Record) EndErasure() error {
	switch {
	case r.ErasureDone():
		return ErrUnchanged
	case r.State != Erased:
		return fmt.Errorf("%w: end the erasure of a lookup in state %s", ErrMoved, r.State)
	}
	*r = Tombstone(r.Command.Key(), r.ErasedAt)
	return nil
}

// Erasing is BeginErasure of r as a record of its own: the tombstone to
// create for a lookup of key whose record is gone (r is then empty), or
// to compare with.
func Erasing(r Record, key string, erasedAt time.Time) Record {
	r = r.clone()
	r.Command = commandOf(key)
	r.State = ""
	_ = r.BeginErasure(erasedAt)
	return r
}

// Tombstone is the record of an erased lookup once its erased event is
// published (Published marks it): the lookup's key and erasedAt.
func Tombstone(key string, erasedAt time.Time) Record {
	return Record{
		Version:   Version,
		State:     Erased,
		Command:   commandOf(key),
		ErasedAt:  erasedAt.UTC(),
		Published: []string{string(kybflow.KindErased)},
	}
}

// commandOf is the command of a tombstone: the tenant and lookupId of the
// lookup key.
func commandOf(key string) kybflow.LookupCommand {
	tenant, lookupID, _ := kybflow.SplitLookupKey(key)
	return kybflow.LookupCommand{LookupID: lookupID, Tenant: tenant}
}

// ErasureDone reports whether r is a Tombstone: its erasure ended with
// the erased event published.
func (r Record) ErasureDone() bool {
	return r.State == Erased && slices.Contains(r.Published, string(kybflow.KindErased))
}

// PurgeHistory removes every revision of lookupID's record but the latest
// from the bucket's stream, KV_<bucket>, and returns how many it removed:
// the revisions before a tombstone hold the command and its personal
// metadata. The bucket is made with a history of 1, so there is usually
// nothing to remove (each write replaces the last); the purge is for a
// bucket whose history an operator raised. A purge removes messages from
// the stream, not their bytes from the servers' disks at once: NATS frees
// them when it compacts their file block (the KV stream denies the secure
// per-message delete).
func (s *Store) PurgeHistory(ctx context.Context, js jetstream.JetStream, lookupID string) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	bucket := s.kv.Bucket()
	name, subject := "KV_"+bucket, "$KV."+bucket+"."+lookupID
	stream, err := js.Stream(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("purge history of lookup %s: stream %s: %w", lookupID, name, err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return 0, fmt.Errorf("purge history of lookup %s: %w", lookupID, err)
	}
	n := info.State.Subjects[subject]
	if n <= 1 {
		return 0, nil
	}
	if err := stream.Purge(ctx, jetstream.WithPurgeSubject(subject), jetstream.WithPurgeKeep(1)); err != nil {
		return 0, fmt.Errorf("purge history of lookup %s: %w", lookupID, err)
	}
	return n - 1, nil
}
