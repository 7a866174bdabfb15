package erasure

// The lookup's messages: its events (but the erased one), webhooks and
// checks, found by their subjects, and its dead letters, found by their
// bodies (package deadletters says how), each deleted with a secure
// delete: the servers overwrite it on disk, which a purge or a plain
// delete leaves until the file block is compacted.

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/streams"
)

// eraseMessages deletes the lookup's messages from every stream.
func (e *Eraser) eraseMessages(ctx context.Context, r *Result) error {
	names := streams.NamesOf(e.opts.Subjects)
	erased := e.opts.Subjects.Event(r.Key, kybflow.KindErased)
	var err error
	if r.Events, err = eraseSubject(ctx, e.events, e.opts.Subjects.EventsFor(r.Key), erased); err != nil {
		return fmt.Errorf("delete its events: %w", err)
	}
	if r.Webhooks, err = eraseSubject(ctx, e.webhooks, names.Webhook(r.Key), ""); err != nil {
		return fmt.Errorf("delete its webhooks: %w", err)
	}
	if r.Checks, err = eraseSubject(ctx, e.checks, names.Check(r.Key), ""); err != nil {
		return fmt.Errorf("delete its checks: %w", err)
	}
	if r.DeadLetters, err = e.deadLetters.EraseLookup(ctx, r.Key); err != nil {
		return fmt.Errorf("delete its dead letters: %w", err)
	}
	return nil
}

// eraseSubject deletes every message of subject (which may end in a
// wildcard) in stream but those on keep, one get request per message (a
// lookup has a few), and returns how many it deleted.
func eraseSubject(ctx context.Context, stream jetstream.Stream, subject, keep string) (int, error) {
	n := 0
	for seq := uint64(1); ; {
		m, err := stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("read %s of stream %s: %w", subject, stream.CachedInfo().Config.Name, err)
		}
		seq = m.Sequence + 1
		if m.Subject == keep {
			continue
		}
		deleted, err := eraseMsg(ctx, stream, m.Sequence)
		if err != nil {
			return n, err
		}
		if deleted {
			n++
		}
	}
}

// eraseMsg deletes the message at seq from stream with a secure delete. It
// reports false when the message was gone already (deleted meanwhile, or
// acknowledged from a work queue).
func eraseMsg(ctx context.Context, stream jetstream.Stream, seq uint64) (bool, error) {
	err := stream.SecureDeleteMsg(ctx, seq)
	if err == nil {
		return true, nil
	}
	// The server answers a delete of a missing message with a generic
	// "message deletion unsuccessful": a get tells.
	if _, gerr := stream.GetMsg(ctx, seq); errors.Is(err, jetstream.ErrMsgNotFound) || errors.Is(gerr, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	return false, fmt.Errorf("delete message %d of stream %s: %w", seq, stream.CachedInfo().Config.Name, err)
}
