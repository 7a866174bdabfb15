package client

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrCommandsFull is wrapped by Submit's error when the commands stream is
// full (the worker's COMMANDS_MAX_BYTES): JetStream refused the command
// and stored nothing. It never drops a command it has stored to make room
// (the stream discards new messages, not old ones), so every command
// Submit returned nil for is still there. The stream empties as workers
// take commands in; submit again later, with the same lookupId.
var ErrCommandsFull = errors.New("the commands stream is full")

// ErrCommandTooLarge is wrapped by Submit's error when the command and its
// headers are larger than the commands stream takes (the worker's
// COMMAND_MAX_MSG_SIZE) or the NATS server does (its max_payload): nothing
// was stored. A command ParseCommand accepts fits the defaults of both.
var ErrCommandTooLarge = errors.New("the command is larger than the commands stream takes")

// jsStoreFailed is JetStream's error code for a message it could not store,
// the description saying why: a stream with DiscardNew at one of its
// limits answers "maximum bytes exceeded" (or "maximum messages exceeded").
const jsStoreFailed = 10077

// publishError names the cause of a refused command publish of size bytes.
func publishError(err error, size int) error {
	var api *jetstream.APIError
	switch {
	case errors.As(err, &api) && api.ErrorCode == jsStoreFailed &&
		(api.Description == "maximum bytes exceeded" || api.Description == "maximum messages exceeded"):
		return fmt.Errorf("%w, nothing stored (submit it again later): %w", ErrCommandsFull, err)
	case errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum), errors.Is(err, nats.ErrMaxPayload):
		return fmt.Errorf("%w (%d bytes and headers, over the worker's COMMAND_MAX_MSG_SIZE or the server's max_payload): %w", ErrCommandTooLarge, size, err)
	}
	return err
}
