package streams

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Publisher is the part of jetstream.JetStream that publishing needs.
type Publisher interface {
	PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

// PublishTimeout bounds one publish, whatever the caller's context allows:
// an acknowledgement lost with a server (a stream leader that died) must
// fail the publish in seconds, for the caller to retry with the same
// Nats-Msg-Id, not hold a handler for its whole deadline.
const PublishTimeout = 5 * time.Second

// Publish publishes data to subject and waits for JetStream to store it.
// msgID, when set, goes in Nats-Msg-Id so that the stream drops a duplicate
// published within its duplicate window: every event we publish has an id
// stable for what it says, so a retry after a crash publishes nothing twice.
// It reports whether the stream had already stored a message with that id.
func Publish(ctx context.Context, js Publisher, subject string, data []byte, msgID string, header nats.Header) (duplicate bool, err error) {
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	for k, v := range header {
		msg.Header[k] = v
	}
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	ctx, cancel := context.WithTimeout(ctx, PublishTimeout)
	defer cancel()
	ack, err := js.PublishMsg(ctx, msg, opts...)
	if err != nil {
		return false, fmt.Errorf("publish %s: %w", subject, err)
	}
	return ack.Duplicate, nil
}
