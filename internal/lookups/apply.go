package lookups

// Apply: the one compare-and-set loop. A stage decides on the record it
// read, and Apply writes the decision as a transition: on a conflict
// (another replica wrote first) it reads again, and the transition decides
// again on what is there, allowed or not.

import (
	"context"
	"errors"
	"fmt"
)

// Transition changes a record, or refuses with why it is not allowed
// (transitions.go).
type Transition func(*Record) error

// applyRounds bounds the rounds of one Apply: each lost round means
// another replica wrote the record meanwhile.
const applyRounds = 10

// Apply changes the record of rec's lookup by t: it applies t to rec, read
// at revision rev, and writes the result at that revision; when the record
// changed since, it reads it again and applies t again. It returns the
// record as written and its revision.
//
// When t refuses, Apply writes nothing and returns t's error (ErrEnded,
// ErrErased, ErrMoved...) with the record it refused, for the caller to
// decide on; ErrUnchanged is not an error: the record stands as it is.
func (s *Store) Apply(ctx context.Context, rec Record, rev uint64, t Transition) (Record, uint64, error) {
	key := rec.Command.Key()
	for round := 1; ; round++ {
		next := rec.clone()
		err := t(&next)
		if errors.Is(err, ErrUnchanged) {
			return rec, rev, nil
		}
		if err != nil {
			return rec, rev, fmt.Errorf("lookup %s: %w", key, err)
		}
		nrev, err := s.update(ctx, next, rev)
		if err == nil {
			next.Version = Version
			return next, nrev, nil
		}
		if !errors.Is(err, ErrConflict) || round == applyRounds {
			return rec, rev, err
		}
		cur, curRev, gerr := s.Get(ctx, key)
		if gerr != nil {
			return rec, rev, fmt.Errorf("%w (after: %w)", gerr, err)
		}
		rec, rev = cur, curRev
	}
}

// ApplyTo is Apply to the record of key as it is now.
func (s *Store) ApplyTo(ctx context.Context, key string, t Transition) (Record, uint64, error) {
	rec, rev, err := s.Get(ctx, key)
	if err != nil {
		return rec, rev, err
	}
	return s.Apply(ctx, rec, rev, t)
}
