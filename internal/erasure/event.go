package erasure

// The erased event, published once everything it announces is deleted.

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
)

// ErasedEvent is the erased event of the lookup key from source, its
// erasure begun at erasedAt. Its data holds the lookupId, the tenant and
// erasedAt, and nothing else: not the correlationId, which the caller
// chose and may be personal (docs/contract.md, "Erasure").
func ErasedEvent(source, key string, erasedAt time.Time) (kybflow.Event, error) {
	tenant, lookupID, _ := kybflow.SplitLookupKey(key)
	return kybflow.NewEvent(source, kybflow.KindErased, key, erasedAt,
		kybflow.ErasedData{LookupID: lookupID, Tenant: tenant, ErasedAt: erasedAt})
}

// publish publishes the lookup's erased event, with its id as Nats-Msg-Id:
// the same for a resumed erasure (same erasedAt), so the events stream
// drops a copy it has within its duplicate window.
func (e *Eraser) publish(ctx context.Context, r *Result) error {
	ev, err := ErasedEvent(e.opts.Source, r.Key, r.ErasedAt)
	if err != nil {
		return fmt.Errorf("the erased event: %w", err)
	}
	b, err := kybflow.EncodeEvent(ev)
	if err != nil {
		return fmt.Errorf("the erased event: %w", err)
	}
	msg := nats.NewMsg(e.opts.Subjects.Event(r.Key, kybflow.KindErased))
	msg.Data = b
	msg.Header.Set("Content-Type", kybflow.ContentTypeCloudEvents)
	stream := e.opts.Subjects.EventsStream()
	ack, err := e.js.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.ID), jetstream.WithExpectStream(stream))
	if err != nil {
		return fmt.Errorf("publish the erased event: %w", &StreamError{Stream: stream, Err: err})
	}
	r.Published, r.Duplicate = true, ack.Duplicate
	return nil
}
