package deadletters

// The dead letters of one lookup, for an erasure. A dead letter names no
// lookup in its headers (that is why it is one), so it is attributed the
// way the worker would have attributed the command:
//
//   - its lookupId is the body's top-level "lookupId", read as the worker
//     reads one (kybflow.LookupIDOf: from a JSON object even when it is
//     broken or truncated after it). A body without a valid one (not JSON,
//     no lookupId, an invalid one) belongs to no lookup;
//   - its tenant is that of the subject it was published on (header
//     Kybflow-Dead-Letter-Subject): the command subject of a tenant, or the
//     untenanted one. A dead letter published on any other subject (the
//     reason it was dead-lettered), or without the header, has no known
//     tenant, and belongs to the lookup with its lookupId of every tenant:
//     an erasure then removes a dead letter it cannot tell is another
//     tenant's, rather than leave personal data behind.
//
// The lookup key tenant.lookupId (or the lookupId alone) of an erasure
// must match both.

import (
	"context"

	"github.com/kybflow/kybflow"
)

// BelongsTo reports whether d is a dead letter of the lookup key (see the
// rule above).
func (s *Stream) BelongsTo(d DeadLetter, key string) bool {
	tenant, lookupID, ok := kybflow.SplitLookupKey(key)
	if !ok {
		return false
	}
	id, ok := kybflow.LookupIDOf(d.Data)
	if !ok || id != lookupID {
		return false
	}
	published, known := s.subjects.CommandTenant(d.Subject())
	return !known || published == tenant
}

// OfLookup returns the dead letters of the lookup key, oldest first.
func (s *Stream) OfLookup(ctx context.Context, key string) ([]DeadLetter, error) {
	all, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []DeadLetter
	for _, d := range all {
		if s.BelongsTo(d, key) {
			out = append(out, d)
		}
	}
	return out, nil
}

// EraseLookup deletes the dead letters of the lookup key (securely) and
// returns the sequences it deleted; on an error, those deleted before it.
func (s *Stream) EraseLookup(ctx context.Context, key string) ([]uint64, error) {
	of, err := s.OfLookup(ctx, key)
	if err != nil {
		return nil, err
	}
	return s.deleteAll(ctx, of)
}

// deleteAll deletes dead letters (securely) and returns the sequences it
// deleted (not those gone already); on an error, those deleted before it.
func (s *Stream) deleteAll(ctx context.Context, of []DeadLetter) ([]uint64, error) {
	var deleted []uint64
	for _, d := range of {
		ok, err := s.Delete(ctx, d.Seq)
		if err != nil {
			return deleted, err
		}
		if ok {
			deleted = append(deleted, d.Seq)
		}
	}
	return deleted, nil
}
