package deadletters

// Replay: a dead letter's body, as it is or corrected, published as a
// lookup command again, then the dead letter deleted.

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
)

// Errors of Replay, returned wrapped; test with errors.Is.
var (
	// ErrTruncated: the dead letter holds only the command's start, so it
	// is not replayed as it is; give Replay the whole command.
	ErrTruncated = errors.New("a truncated dead letter cannot be replayed as it is")
	// ErrUnreadable: the lookupId of the body to replay cannot be read
	// either, so the worker would dead-letter it again. Nothing is
	// published.
	ErrUnreadable = errors.New("its lookupId still cannot be read")
	// ErrNotDeleted: the command was published (Replayed says where) but
	// the dead letter could not be deleted. A replay again within the
	// commands stream's duplicate window publishes nothing twice.
	ErrNotDeleted = errors.New("replayed, but the dead letter is not deleted")
)

// Replayed is what Replay did.
type Replayed struct {
	LookupID string
	// Invalid is set when the body's lookupId is readable but the command
	// is invalid otherwise: the worker answers it with a failed event.
	Invalid *kybflow.CommandError
	Subject string // published to
	Stream  string // the commands stream
	// Sequence is the command's in Stream; Duplicate, when the stream had
	// the replay already (a first replay's answer was lost) and dropped
	// this copy.
	Sequence  uint64
	Duplicate bool
	MsgID     string
	Bytes     int
	// Deleted is false when the dead letter was gone already.
	Deleted bool
}

// MsgID is the Nats-Msg-Id of the replay of the dead letter at seq of
// stream, "replay-<stream>-<seq>": a replay retried within the commands
// stream's duplicate window is dropped, and the first one stands.
func MsgID(stream string, seq uint64) string {
	return "replay-" + stream + "-" + strconv.FormatUint(seq, 10)
}

// Replay publishes body, or d's own body when body is nil, as a lookup
// command to where d was published (a tenant's command subject stays the
// tenant's; any other subject becomes Subjects.CommandLookup), with
// MsgID, and once JetStream has stored it deletes d (securely). A
// truncated d is not replayed without a body (ErrTruncated), nor a body
// whose lookupId cannot be read (ErrUnreadable). A failure after the
// publish is ErrNotDeleted, with Replayed filled in.
func (s *Stream) Replay(ctx context.Context, d DeadLetter, body []byte) (Replayed, error) {
	if body == nil {
		if d.Truncated() {
			return Replayed{}, fmt.Errorf("%w: it is %s", ErrTruncated, d.Truncation())
		}
		body = d.Data
	}
	r := Replayed{Subject: s.subjects.CommandLookup(), Stream: s.subjects.CommandsStream(), MsgID: MsgID(s.Name(), d.Seq), Bytes: len(body)}
	var ok bool
	if r.LookupID, ok = kybflow.LookupIDOf(body); !ok {
		_, perr := kybflow.ParseCommand(body)
		return Replayed{}, fmt.Errorf("%w (%w), so the worker would dead-letter it again", ErrUnreadable, perr)
	}
	if _, err := kybflow.ParseCommand(body); err != nil {
		errors.As(err, &r.Invalid)
	}
	if _, ok := s.subjects.CommandTenant(d.Subject()); ok {
		r.Subject = d.Subject()
	}

	msg := nats.NewMsg(r.Subject)
	msg.Data = body
	ack, err := s.js.PublishMsg(ctx, msg, jetstream.WithMsgID(r.MsgID), jetstream.WithExpectStream(r.Stream))
	if err != nil {
		return Replayed{}, fmt.Errorf("publish to %s (stream %s): %w", r.Subject, r.Stream, err)
	}
	r.Sequence, r.Duplicate = ack.Sequence, ack.Duplicate
	if r.Deleted, err = s.Delete(ctx, d.Seq); err != nil {
		return r, fmt.Errorf("%w: %w", ErrNotDeleted, err)
	}
	return r, nil
}
