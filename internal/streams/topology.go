package streams

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/messages"
)

// Consumer names. Every worker replica binds to the same durable consumers,
// so JetStream shares the work between them.
const (
	ConsumerCommands = "worker-commands"
	ConsumerChecks   = "worker-checks"
	ConsumerWebhooks = "worker-webhooks"
)

// Topology is the set of streams, consumers and the key-value bucket the
// worker needs. Ensure creates or updates them, idempotently, at start.
type Topology struct {
	Subjects messages.Subjects
	// Replicas of every stream and of the bucket: 1 on a single server, 3 on
	// a production cluster.
	Replicas int
	// Duplicates is the window in which a Nats-Msg-Id is remembered (default
	// 2h): commands re-published, events re-sent after a crash, webhooks
	// re-sent by BankID are all dropped within it.
	Duplicates time.Duration
	// EventsMaxAge is how long events are kept (default 7 days).
	EventsMaxAge time.Duration
	// DeadLetterMaxAge is how long dead letters are kept (default 30 days).
	DeadLetterMaxAge time.Duration
	// LookupsMaxAge is how long a lookup's state record is kept after its
	// last change (default 30 days): within it, a command with the same
	// lookupId is recognised as a duplicate.
	LookupsMaxAge time.Duration
	// AckWait of the consumers (default 1 minute; long work sends
	// InProgress).
	AckWait time.Duration
	// WebhookMaxDeliver bounds retries of one webhook (default 10): polling
	// is the fallback, so a webhook that cannot be handled is dropped.
	WebhookMaxDeliver int
}

func (t *Topology) defaults() {
	if t.Replicas <= 0 {
		t.Replicas = 1
	}
	if t.Duplicates <= 0 {
		t.Duplicates = 2 * time.Hour
	}
	if t.EventsMaxAge <= 0 {
		t.EventsMaxAge = 7 * 24 * time.Hour
	}
	if t.DeadLetterMaxAge <= 0 {
		t.DeadLetterMaxAge = 30 * 24 * time.Hour
	}
	if t.LookupsMaxAge <= 0 {
		t.LookupsMaxAge = 30 * 24 * time.Hour
	}
	if t.AckWait <= 0 {
		t.AckWait = time.Minute
	}
	if t.WebhookMaxDeliver <= 0 {
		t.WebhookMaxDeliver = 10
	}
	// A duplicate window cannot be longer than what the stream keeps.
	if t.Duplicates > t.EventsMaxAge {
		t.Duplicates = t.EventsMaxAge
	}
}

// LookupsBucket is the key-value bucket of lookup state records.
func LookupsBucket(s messages.Subjects) string {
	name := s.CommandsStream()
	return name[:len(name)-len("COMMANDS")] + "LOOKUPS"
}

// Resources are the handles Ensure returns.
type Resources struct {
	Commands, Checks, Webhooks jetstream.Consumer
	Lookups                    jetstream.KeyValue
}

// Ensure creates or updates every stream, consumer and bucket of t.
func Ensure(ctx context.Context, js jetstream.JetStream, t Topology) (*Resources, error) {
	t.defaults()
	s := t.Subjects
	streams := []jetstream.StreamConfig{
		{
			Name: s.CommandsStream(), Description: "Lookup commands from platforms (work queue).",
			Subjects: []string{s.CommandsAll()}, Retention: jetstream.WorkQueuePolicy,
			Storage: jetstream.FileStorage, Replicas: t.Replicas, Duplicates: t.Duplicates,
		},
		{
			Name: s.ChecksStream(), Description: "One session check per open session (work queue).",
			Subjects: []string{s.ChecksAll()}, Retention: jetstream.WorkQueuePolicy,
			Storage: jetstream.FileStorage, Replicas: t.Replicas, Duplicates: t.Duplicates,
		},
		{
			Name: s.WebhooksStream(), Description: "Verified BankID webhooks from the bridge (work queue).",
			Subjects: []string{s.WebhooksAll()}, Retention: jetstream.WorkQueuePolicy,
			Storage: jetstream.FileStorage, Replicas: t.Replicas, Duplicates: t.Duplicates,
			MaxAge: 24 * time.Hour,
		},
		{
			Name: s.EventsStream(), Description: "Lookup events (CloudEvents) for downstream services.",
			Subjects: []string{s.EventsAll()}, Retention: jetstream.LimitsPolicy,
			Storage: jetstream.FileStorage, Replicas: t.Replicas, Duplicates: t.Duplicates,
			MaxAge: t.EventsMaxAge,
		},
		{
			Name: s.DeadLetterStream(), Description: "Commands that could not be attributed to a lookup, with the reason.",
			Subjects: []string{s.DeadLetterAll()}, Retention: jetstream.LimitsPolicy,
			Storage: jetstream.FileStorage, Replicas: t.Replicas, Duplicates: t.Duplicates,
			MaxAge: t.DeadLetterMaxAge,
		},
	}
	for _, cfg := range streams {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return nil, fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
		}
	}

	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: LookupsBucket(s), Description: "Lookup state records, by lookupId.",
		History: 1, TTL: t.LookupsMaxAge, Storage: jetstream.FileStorage, Replicas: t.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("ensure bucket %s: %w", LookupsBucket(s), err)
	}

	consumer := func(stream, name string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
		cfg.Durable = name
		cfg.AckPolicy = jetstream.AckExplicitPolicy
		cfg.AckWait = t.AckWait
		c, err := js.CreateOrUpdateConsumer(ctx, stream, cfg)
		if err != nil {
			return nil, fmt.Errorf("ensure consumer %s on %s: %w", name, stream, err)
		}
		return c, nil
	}
	res := &Resources{Lookups: kv}
	// Commands: never give up on one (MaxDeliver unlimited); the handler
	// terminates what cannot succeed, after publishing why.
	if res.Commands, err = consumer(s.CommandsStream(), ConsumerCommands, jetstream.ConsumerConfig{
		Description: "Opens a session per lookup command.", MaxDeliver: -1,
	}); err != nil {
		return nil, err
	}
	// Checks: a session being waited on is one message held by a delayed
	// Nak, and such a message stays in the pending set, so the pending set
	// is unbounded (MaxAckPending -1): thousands of sessions may wait.
	if res.Checks, err = consumer(s.ChecksStream(), ConsumerChecks, jetstream.ConsumerConfig{
		Description: "Polls open sessions and stores their results.", MaxDeliver: -1, MaxAckPending: -1,
	}); err != nil {
		return nil, err
	}
	if res.Webhooks, err = consumer(s.WebhooksStream(), ConsumerWebhooks, jetstream.ConsumerConfig{
		Description: "Confirms webhooks with a status call.", MaxDeliver: t.WebhookMaxDeliver,
	}); err != nil {
		return nil, err
	}
	return res, nil
}
