package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
)

// Consumer names. Every worker replica binds to the same durable consumers,
// so JetStream shares the work between them.
const (
	ConsumerCommands = "worker-commands"
	ConsumerChecks   = "worker-checks"
	ConsumerWebhooks = "worker-webhooks"
	ConsumerMonitors = "worker-monitors"
)

// Topology is the set of streams, consumers and the key-value bucket the
// worker needs. Ensure creates or updates them, idempotently, at start.
// Every field but Logger is required: the values (and their defaults) are
// the worker's settings, named below.
type Topology struct {
	Subjects kybflow.Subjects
	// Replicas of every stream and of the bucket: 1 on a single server, 3 on
	// a production cluster.
	Replicas int
	// Duplicates is the window in which a Nats-Msg-Id is remembered (DUPLICATE_WINDOW): commands re-published, events re-sent after a crash, webhooks
	// re-sent by BankID are all dropped within it.
	Duplicates time.Duration
	// EventsMaxAge is how long events are kept (EVENTS_MAX_AGE).
	EventsMaxAge time.Duration
	// DeadLetterMaxAge is how long dead letters are kept (DEADLETTER_MAX_AGE).
	DeadLetterMaxAge time.Duration
	// LookupsMaxAge is how long a lookup's state record is kept after its
	// last change (LOOKUP_RETENTION): within it, a command with the same
	// lookupId is recognised as a duplicate.
	LookupsMaxAge time.Duration
	// BudgetMaxAge is how long a session budget counter is kept
	// (DefaultBudgetMaxAge when shorter): twice the longest window.
	BudgetMaxAge time.Duration
	// AckWait of the consumers (ACK_WAIT; long work sends InProgress).
	AckWait time.Duration
	// WebhookMaxDeliver bounds retries of one webhook (WEBHOOK_MAX_DELIVER): polling
	// is the fallback, so a webhook that cannot be handled is dropped.
	WebhookMaxDeliver int
	// Bytes each stream and the bucket may hold (COMMANDS_MAX_BYTES,
	// CHECKS_MAX_BYTES, WEBHOOKS_MAX_BYTES, EVENTS_MAX_BYTES,
	// DEADLETTER_MAX_BYTES, LOOKUPS_MAX_BYTES; streams says what a full one
	// does), and the largest command and webhook, headers included
	// (COMMAND_MAX_MSG_SIZE, WEBHOOK_MAX_MSG_SIZE). Zero leaves a stream
	// unbounded, as it was before these settings: for tests that build a
	// topology of their own; the worker always sets them.
	CommandsMaxBytes, ChecksMaxBytes, WebhooksMaxBytes, EventsMaxBytes, DeadLetterMaxBytes, LookupsMaxBytes int64
	CommandMaxMsgSize, WebhookMaxMsgSize                                                                    int32
	// Logger receives the retries of Ensure (default: discard).
	Logger *slog.Logger
	// Failed, when set, is told the error of each failed attempt of Ensure
	// and Verify (readiness shows the last).
	Failed func(error)
}

// validate checks that every setting is given: they come from the worker's
// validated configuration, which holds their defaults.
func (t *Topology) validate() error {
	if t.Replicas != 1 && t.Replicas != 3 && t.Replicas != 5 {
		return fmt.Errorf("topology: Replicas must be 1, 3 or 5, got %d", t.Replicas)
	}
	if t.Duplicates <= 0 || t.EventsMaxAge <= 0 || t.DeadLetterMaxAge <= 0 || t.LookupsMaxAge <= 0 || t.AckWait <= 0 || t.WebhookMaxDeliver <= 0 {
		return errors.New("topology: Duplicates, EventsMaxAge, DeadLetterMaxAge, LookupsMaxAge, AckWait and WebhookMaxDeliver are required")
	}
	if t.Duplicates > t.EventsMaxAge {
		return errors.New("topology: Duplicates cannot be longer than EventsMaxAge (what the stream keeps)")
	}
	if min(t.CommandsMaxBytes, t.ChecksMaxBytes, t.WebhooksMaxBytes, t.EventsMaxBytes, t.DeadLetterMaxBytes, t.LookupsMaxBytes) < 0 ||
		min(t.CommandMaxMsgSize, t.WebhookMaxMsgSize) < 0 {
		return errors.New("topology: a MaxBytes or MaxMsgSize is negative")
	}
	if t.CommandsMaxBytes > 0 && int64(t.CommandMaxMsgSize) > t.CommandsMaxBytes || t.WebhooksMaxBytes > 0 && int64(t.WebhookMaxMsgSize) > t.WebhooksMaxBytes {
		return errors.New("topology: a stream's MaxMsgSize is larger than its MaxBytes")
	}
	if t.Logger == nil {
		t.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Resources are the handles Ensure returns.
type Resources struct {
	Commands, Checks, Webhooks jetstream.Consumer
	Lookups                    jetstream.KeyValue
	// Monitors is the monitors' bucket, Schedules the stream of their
	// schedules, and Fires the consumer of the schedules' fires.
	Monitors  jetstream.KeyValue
	Schedules jetstream.Stream
	Fires     jetstream.Consumer
	// Budget is the session budget's bucket (internal/budget).
	Budget jetstream.KeyValue
	// Events is the events stream, for reading what was published.
	Events jetstream.Stream
}

// Ensure creates or updates every stream, bucket and consumer of t.
//
// It is made for many replicas starting at once against a cluster that may
// still be forming: each step is retried with backoff while JetStream
// cannot do it yet (no meta leader, no suitable peers for placement, a
// timeout, a stream made meanwhile by another replica), until ctx ends, so
// give ctx the start-up deadline. An identical configuration made by
// another replica is success. What retrying cannot mend (a configuration
// the server refuses) ends it at once.
func Ensure(ctx context.Context, js jetstream.JetStream, t Topology) (*Resources, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	res := &Resources{}
	for _, cfg := range t.streams() {
		st, err := t.ensureStream(ctx, js, cfg)
		if err != nil {
			return nil, err
		}
		switch cfg.Name {
		case t.Subjects.EventsStream():
			res.Events = st
		case NamesOf(t.Subjects).SchedulesStream():
			res.Schedules = st
		}
	}
	for _, b := range []struct {
		cfg jetstream.KeyValueConfig
		kv  *jetstream.KeyValue
	}{{t.bucket(), &res.Lookups}, {t.budgetBucket(), &res.Budget}, {t.monitorsBucket(), &res.Monitors}} {
		bucket := b.cfg
		if err := t.retry(ctx, "ensure bucket "+bucket.Bucket, func(ctx context.Context) (err error) {
			if *b.kv, err = t.currentBucket(ctx, js, bucket); err != nil || *b.kv != nil {
				return err
			}
			if err := t.checkHeld(ctx, js, "KV_"+bucket.Bucket, bucket.MaxBytes); err != nil {
				return err
			}
			*b.kv, err = js.CreateOrUpdateKeyValue(ctx, bucket)
			return err
		}); err != nil {
			return nil, err
		}
	}
	for name, c := range map[string]*jetstream.Consumer{ConsumerCommands: &res.Commands, ConsumerChecks: &res.Checks, ConsumerWebhooks: &res.Webhooks, ConsumerMonitors: &res.Fires} {
		cons, err := t.ensureConsumer(ctx, js, name)
		if err != nil {
			return nil, err
		}
		*c = cons
	}
	return res, nil
}

// EnsureConsumer makes the named consumer again, and its stream if that is
// gone too: what a consume loop calls when the server confirms its
// consumer is gone. It retries like Ensure until ctx ends.
func EnsureConsumer(ctx context.Context, js jetstream.JetStream, t Topology, name string) (jetstream.Consumer, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	stream, _, ok := t.consumer(name)
	if !ok {
		return nil, fmt.Errorf("ensure consumer %s: no such consumer in the topology", name)
	}
	for _, cfg := range t.streams() {
		if cfg.Name != stream {
			continue
		}
		if _, err := t.ensureStream(ctx, js, cfg); err != nil {
			return nil, err
		}
	}
	return t.ensureConsumer(ctx, js, name)
}

// ensureStream creates or updates the stream cfg, retrying like Ensure.
func (t Topology) ensureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	var st jetstream.Stream
	err := t.retry(ctx, "ensure stream "+cfg.Name, func(ctx context.Context) (err error) {
		if cfg.AllowMsgSchedules {
			if err := checkServerVersion(js); err != nil {
				return err
			}
		}
		if st, err = js.Stream(ctx, cfg.Name); err == nil && covers(st.CachedInfo().Config, cfg) {
			return nil // as it should be: nothing to change, and no right to change it needed
		}
		if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return err
		}
		if cfg.Discard == jetstream.DiscardNew {
			if err := t.checkHeld(ctx, js, cfg.Name, cfg.MaxBytes); err != nil {
				return err
			}
		}
		st, err = js.CreateOrUpdateStream(ctx, cfg)
		if err == nil && cfg.AllowMsgSchedules {
			err = checkSchedules(st)
		}
		return err
	})
	return st, err
}

// ErrHoldsMore is wrapped by Ensure's error when a stream that refuses new
// messages once full (DiscardNew) already holds more than its new MaxBytes:
// the setting was lowered, or set for the first time (an upgrade) below
// what the stream holds. Updating it would make the stream refuse every new
// message until enough old ones are consumed or expire (for AML_EVENTS,
// up to EVENTS_MAX_AGE), which stalls every lookup; so the stream is left
// as it is and start-up fails at once, while the workers of the previous
// configuration keep running.
var ErrHoldsMore = errors.New("the stream holds more than its new MaxBytes")

// checkHeld returns ErrHoldsMore when the named stream exists, is to get
// maxBytes as a new bound, and holds more than that. A stream whose bound
// does not change is never refused: on a cluster a full stream may hold a
// message more than its bound, and a worker restarting then must start.
func (t Topology) checkHeld(ctx context.Context, js jetstream.JetStream, name string, maxBytes int64) error {
	if maxBytes <= 0 {
		return nil
	}
	st, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil // a new stream
	}
	if err != nil {
		return err
	}
	info := st.CachedInfo()
	if held := info.State.Bytes; info.Config.MaxBytes != maxBytes && held > uint64(maxBytes) {
		return &holdsMoreError{stream: name, setting: t.maxBytesSetting(name), held: held, max: maxBytes}
	}
	return nil
}

type holdsMoreError struct {
	stream, setting string
	held            uint64
	max             int64
}

func (e *holdsMoreError) Error() string {
	return fmt.Sprintf("%v: it holds %d bytes, %s is %d; raise %s above what it holds (nats stream info %s), or purge it",
		ErrHoldsMore, e.held, e.setting, e.max, e.setting, e.stream)
}

func (e *holdsMoreError) Unwrap() error { return ErrHoldsMore }

// maxBytesSetting names the worker setting that bounds the named stream.
func (t Topology) maxBytesSetting(stream string) string {
	s := NamesOf(t.Subjects)
	switch stream {
	case s.CommandsStream():
		return "COMMANDS_MAX_BYTES"
	case s.ChecksStream():
		return "CHECKS_MAX_BYTES"
	case s.WebhooksStream():
		return "WEBHOOKS_MAX_BYTES"
	case s.EventsStream():
		return "EVENTS_MAX_BYTES"
	case s.DeadLetterStream():
		return "DEADLETTER_MAX_BYTES"
	case "KV_" + s.LookupsBucket():
		return "LOOKUPS_MAX_BYTES"
	}
	return "its MaxBytes"
}

// streams are the stream configurations of t.
//
// Each is bounded in bytes (JetStream reserves them on every server that
// holds a replica, at creation), and the two that take messages from
// outside the worker, commands and webhooks, in the size of one message.
// What a full stream does is its Discard policy:
//   - DiscardNew (commands, checks, events, dead letters; and the bucket,
//     which a KV bucket always is): a publish is refused, never an old
//     message dropped. Dropping one could lose an accepted lookup (a command
//     not taken in yet, the check of an open session) or the record of what
//     was published (the events stream is that record: docs/design.md). So
//     a platform's Submit fails with ErrCommandsFull, and the worker's own
//     publishes and record writes fail and are retried with backoff: work
//     is delayed, never lost, until messages are consumed or expire.
//     (Updating an existing record still fits: a key's new revision
//     replaces its old one, so only new lookups wait.)
//   - DiscardOld (webhooks): the oldest webhook is dropped for the new
//     one. A webhook only makes a lookup finish sooner (polling is the
//     fallback, and WEBHOOK_MAX_DELIVER drops one anyway), so the bridge
//     keeps answering BankID, and the newest webhooks, the useful ones,
//     are kept.
func (t Topology) streams() []jetstream.StreamConfig {
	s := NamesOf(t.Subjects)
	return []jetstream.StreamConfig{
		{
			Name: s.CommandsStream(), Description: "Lookup commands from platforms (work queue).",
			Subjects: []string{s.CommandsAll()}, Retention: jetstream.WorkQueuePolicy,
			Storage: jetstream.FileStorage, Replicas: t.Replicas, Duplicates: t.Duplicates,
			MaxBytes: bound(t.CommandsMaxBytes), MaxMsgSize: bound32(t.CommandMaxMsgSize), Discard: jetstream.DiscardNew,
		},
		{
			Name: s.ChecksStream(), Description: "One session check per open session (work queue).",
			Subjects: []string{s.ChecksAll()}, Retention: jetstream.WorkQueuePolicy,
			Storage: jetstream.FileStorage, Replicas: t.Replicas, Duplicates: t.Duplicates,
			MaxBytes: bound(t.ChecksMaxBytes), Discard: jetstream.DiscardNew,
		},
		{
			Name: s.WebhooksStream(), Description: "Verified BankID webhooks from the bridge (work queue).",
			Subjects: []string{s.WebhooksAll()}, Retention: jetstream.WorkQueuePolicy,
			Storage: jetstream.FileStorage, Replicas: t.Replicas, Duplicates: t.Duplicates,
			MaxAge:   24 * time.Hour,
			MaxBytes: bound(t.WebhooksMaxBytes), MaxMsgSize: bound32(t.WebhookMaxMsgSize), Discard: jetstream.DiscardOld,
		},
		{
			Name: s.EventsStream(), Description: "Lookup events (CloudEvents) for downstream services.",
			Subjects: []string{s.EventsAll()}, Retention: jetstream.LimitsPolicy,
			Storage: jetstream.FileStorage, Replicas: t.Replicas, Duplicates: t.Duplicates,
			MaxAge: t.EventsMaxAge, MaxBytes: bound(t.EventsMaxBytes), Discard: jetstream.DiscardNew,
			// Reads by subject ($JS.API.DIRECT.GET.<stream>.<subject>): what a
			// tenant's platform is allowed for its own subjects only.
			AllowDirect: true,
		},
		{
			// Monitors' schedules (one message per monitor, kept: Nats-TTL
			// never) and their fires (with a TTL). JetStream refuses
			// DiscardNew on a stream with schedules; MaxBytes is far above
			// what they hold (a schedule is a few hundred bytes), since
			// DiscardOld would drop the oldest schedules first.
			Name: s.SchedulesStream(), Description: "Monitors' schedules and their fires.",
			Subjects: []string{s.SchedulesAll()}, Retention: jetstream.LimitsPolicy,
			Storage: jetstream.FileStorage, Replicas: t.Replicas, Duplicates: t.Duplicates,
			MaxBytes: schedulesMaxBytes, Discard: jetstream.DiscardOld,
			AllowMsgSchedules: true, AllowMsgTTL: true, AllowDirect: true,
		},
		{
			Name: s.DeadLetterStream(), Description: "Commands that could not be attributed to a lookup, with the reason.",
			Subjects: []string{s.DeadLetterAll()}, Retention: jetstream.LimitsPolicy,
			Storage: jetstream.FileStorage, Replicas: t.Replicas, Duplicates: t.Duplicates,
			MaxAge: t.DeadLetterMaxAge, MaxBytes: bound(t.DeadLetterMaxBytes), Discard: jetstream.DiscardNew,
		},
	}
}

// bound is a limit as JetStream spells it: -1 for none (zero here), which
// is also what the server reports for a stream made without one, so that
// an identical configuration compares equal.
func bound(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}

func bound32(n int32) int32 {
	if n == 0 {
		return -1
	}
	return n
}
