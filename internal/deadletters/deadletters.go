// Package deadletters looks after a deployment's dead letters: the commands
// the worker could not attribute to a lookup (internal/handler's
// deadLetter), kept byte for byte in the stream <PREFIX>_DEADLETTER on
// Subjects.DeadLetterCommands, with the headers of the root package's
// deadletter.go.
//
// Open finds the stream; List, Get and Pick read dead letters; Replay
// (replay.go) publishes one's body, or a corrected one, as a lookup command
// again and deletes it; Delete removes one. OfLookup and EraseLookup
// (lookup.go) find and remove the dead letters of one lookup, for an
// erasure. Every delete is a secure one: a command may hold personal data.
//
// Nothing here parses flags or prints: amlctl (internal/cli) is a shell
// over it, and anything else that looks after dead letters can call it.
package deadletters

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
)

// Errors of the stream's operations. Each is returned wrapped, with the
// sequence it is about; test with errors.Is.
var (
	// ErrNotFound: no message at that sequence (replayed or deleted
	// already, or never there).
	ErrNotFound = errors.New("no such dead letter")
	// ErrNotDeadLetter: the message at that sequence is not a dead-lettered
	// command (it is on another subject of the stream).
	ErrNotDeadLetter = errors.New("not a dead-lettered command")
)

// Stream is the dead-letter stream of one deployment. It is safe for
// concurrent use.
type Stream struct {
	js       jetstream.JetStream
	subjects kybflow.Subjects
	stream   jetstream.Stream
}

// Open finds the dead-letter stream of the deployment of subjects. A
// missing stream is jetstream.ErrStreamNotFound, wrapped: the worker makes
// it at start.
func Open(ctx context.Context, js jetstream.JetStream, subjects kybflow.Subjects) (*Stream, error) {
	name := subjects.DeadLetterStream()
	stream, err := js.Stream(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("dead letters: stream %s: %w", name, err)
	}
	return &Stream{js: js, subjects: subjects, stream: stream}, nil
}

// Name is the stream's name, e.g. AML_DEADLETTER.
func (s *Stream) Name() string { return s.subjects.DeadLetterStream() }

// List returns every dead letter, oldest first, with one get request per
// message: dead letters are rare.
func (s *Stream) List(ctx context.Context) ([]DeadLetter, error) {
	var out []DeadLetter
	subject := s.subjects.DeadLetterCommands()
	for seq := uint64(1); ; {
		m, err := s.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read the dead letters of %s: %w", s.Name(), err)
		}
		out = append(out, fromMsg(m))
		seq = m.Sequence + 1
	}
}

// Get returns the dead letter at seq: ErrNotFound when there is no message
// there, ErrNotDeadLetter when it is not a dead-lettered command.
func (s *Stream) Get(ctx context.Context, seq uint64) (DeadLetter, error) {
	m, err := s.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return DeadLetter{}, fmt.Errorf("dead letter %d of %s: %w", seq, s.Name(), ErrNotFound)
	}
	if err != nil {
		return DeadLetter{}, fmt.Errorf("read dead letter %d of %s: %w", seq, s.Name(), err)
	}
	if m.Subject != s.subjects.DeadLetterCommands() {
		return DeadLetter{}, fmt.Errorf("message %d of %s is on %s: %w", seq, s.Name(), m.Subject, ErrNotDeadLetter)
	}
	return fromMsg(m), nil
}

// Pick returns the dead letters at seqs, in that order (Get's errors for
// the first that is not one), or every dead letter (List) when seqs is
// empty.
func (s *Stream) Pick(ctx context.Context, seqs []uint64) ([]DeadLetter, error) {
	if len(seqs) == 0 {
		return s.List(ctx)
	}
	out := make([]DeadLetter, 0, len(seqs))
	for _, seq := range seqs {
		d, err := s.Get(ctx, seq)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// Delete deletes the dead letter at seq with a secure delete: the servers
// overwrite its bytes on disk, which a plain delete or a purge leaves until
// the file block is compacted. It reports false when it was gone already.
func (s *Stream) Delete(ctx context.Context, seq uint64) (bool, error) {
	err := s.stream.SecureDeleteMsg(ctx, seq)
	if err == nil {
		return true, nil
	}
	// The server answers a delete of a missing message with a generic
	// "message deletion unsuccessful" (err_code 10057): a get tells.
	if _, gerr := s.stream.GetMsg(ctx, seq); errors.Is(err, jetstream.ErrMsgNotFound) || errors.Is(gerr, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	return false, fmt.Errorf("delete dead letter %d of %s: %w", seq, s.Name(), err)
}
