package cli

// Reading and deleting single stream messages, as deadletters and erase
// do: a get request per message (the next one of a subject), and a secure
// delete, for messages that may hold personal data.

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// eachMsg calls f with every message of subject (which may end in a
// wildcard) in stream, oldest first, one get request per message: for the
// few messages of one lookup, and for dead letters, which are rare. f
// returning an error stops it with that error.
func eachMsg(ctx context.Context, stream jetstream.Stream, subject string, f func(*jetstream.RawStreamMsg) error) error {
	for seq := uint64(1); ; {
		m, err := stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s of stream %s: %w", subject, stream.CachedInfo().Config.Name, err)
		}
		if err := f(m); err != nil {
			return err
		}
		seq = m.Sequence + 1
	}
}

// eraseMsg deletes the message at seq from stream with a secure delete:
// the server overwrites its bytes on disk, which a purge or a plain
// delete leaves until the file block is compacted. It reports false when
// the message was gone already (deleted meanwhile, or acknowledged from a
// work queue).
func eraseMsg(ctx context.Context, stream jetstream.Stream, seq uint64) (bool, error) {
	err := stream.SecureDeleteMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("delete message %d of stream %s: %w", seq, stream.CachedInfo().Config.Name, err)
	}
	return true, nil
}

// eraseSubject deletes every message of subject in stream (eraseMsg) but
// those whose subject keep names, and returns how many it deleted.
func eraseSubject(ctx context.Context, stream jetstream.Stream, subject string, keep func(subject string) bool) (int, error) {
	n := 0
	err := eachMsg(ctx, stream, subject, func(m *jetstream.RawStreamMsg) error {
		if keep != nil && keep(m.Subject) {
			return nil
		}
		deleted, err := eraseMsg(ctx, stream, m.Sequence)
		if deleted {
			n++
		}
		return err
	})
	return n, err
}
