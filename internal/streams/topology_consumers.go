package streams

// The worker's durable consumers: their configuration (consumer) and their
// making (ensureConsumer), as Ensure and EnsureConsumer use them.

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

func (t Topology) ensureConsumer(ctx context.Context, js jetstream.JetStream, name string) (jetstream.Consumer, error) {
	stream, cfg, _ := t.consumer(name)
	var cons jetstream.Consumer
	err := t.retry(ctx, fmt.Sprintf("ensure consumer %s on %s", name, stream), func(ctx context.Context) (err error) {
		if cons, err = js.Consumer(ctx, stream, name); err == nil && covers(cons.CachedInfo().Config, cfg) {
			return nil
		}
		if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return err
		}
		cons, err = js.CreateOrUpdateConsumer(ctx, stream, cfg)
		return err
	})
	return cons, err
}

// consumer is the stream and configuration of the named durable consumer.
func (t Topology) consumer(name string) (stream string, cfg jetstream.ConsumerConfig, ok bool) {
	s := NamesOf(t.Subjects)
	switch name {
	case ConsumerCommands:
		// Never give up on a command (MaxDeliver unlimited); the handler
		// terminates what cannot succeed, after publishing why.
		stream, cfg = s.CommandsStream(), jetstream.ConsumerConfig{Description: "Opens a session per lookup command.", MaxDeliver: -1}
	case ConsumerChecks:
		// A session being waited on is one message held by a delayed Nak,
		// and such a message stays in the pending set, so the pending set
		// is unbounded (MaxAckPending -1): thousands of sessions may wait.
		stream, cfg = s.ChecksStream(), jetstream.ConsumerConfig{Description: "Polls open sessions and stores their results.", MaxDeliver: -1, MaxAckPending: -1}
	case ConsumerWebhooks:
		stream, cfg = s.WebhooksStream(), jetstream.ConsumerConfig{Description: "Confirms webhooks with a status call.", MaxDeliver: t.WebhookMaxDeliver}
	case ConsumerMonitors:
		// A fire carries its run until the run's session is recorded, as a
		// command does: never given up on.
		stream, cfg = s.SchedulesStream(), jetstream.ConsumerConfig{Description: "Turns each fire of a monitor's schedule into its run.", MaxDeliver: -1, FilterSubject: s.FiresAll()}
	default:
		return "", cfg, false
	}
	cfg.Durable = name
	cfg.AckPolicy = jetstream.AckExplicitPolicy
	cfg.AckWait = t.AckWait
	return stream, cfg, true
}
