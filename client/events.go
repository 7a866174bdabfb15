package client

// Following events: Client.Events with an ordered or a durable consumer,
// and the options that choose what it follows.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
)

// ErrStop, returned by an Events handler, ends Events after that event
// (which counts as handled); Events then returns nil.
var ErrStop = errors.New("stop following events")

// EventsOption chooses what Events follows and how.
type EventsOption func(*eventsOptions)

type eventsOptions struct {
	lookupID string
	kinds    []kybflow.Kind
	durable  string
	deliver  jetstream.DeliverPolicy
	start    time.Time
}

// ForLookup follows one lookup's events only.
func ForLookup(lookupID string) EventsOption {
	return func(o *eventsOptions) { o.lookupID = lookupID }
}

// OfKinds follows events of these kinds only.
func OfKinds(kinds ...kybflow.Kind) EventsOption {
	return func(o *eventsOptions) { o.kinds = kinds }
}

// Durable follows the events with the named durable consumer: an existing
// one is used as it is (its position and settings stand, whatever the other
// options say); a missing one is created with the configuration
// docs/contract.md recommends, explicit acks (an event whose handler fails
// is delivered again), and the position kept by the server across restarts
// and shared by every replica of the service. Without it Events uses an
// ordered consumer, which keeps no state: each call starts from its
// deliver policy.
func Durable(name string) EventsOption {
	return func(o *eventsOptions) { o.durable = name }
}

// OnlyNew follows only events published from now on (default: every event
// the stream still holds).
func OnlyNew() EventsOption {
	return func(o *eventsOptions) { o.deliver = jetstream.DeliverNewPolicy }
}

// Since follows events published at t or later.
func Since(t time.Time) EventsOption {
	return func(o *eventsOptions) { o.deliver, o.start = jetstream.DeliverByStartTimePolicy, t }
}

// eventRedelivery is how long a durable consumer waits before it delivers
// again an event whose handler returned an error.
const eventRedelivery = 5 * time.Second

// eventsBuffer is how many events Events pulls ahead of its handler.
const eventsBuffer = 16

// transientPull reports whether an iterator error is NATS passing trouble,
// after which the iterator goes on by itself.
func transientPull(err error) bool {
	return errors.Is(err, jetstream.ErrNoHeartbeat) || errors.Is(err, jetstream.ErrConsumerLeadershipChanged) ||
		errors.Is(err, jetstream.ErrServerShutdown) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders)
}

// Events calls handle with each event, in stream order, until ctx ends or
// handle returns ErrStop (then Events returns nil) or another error. With
// an ordered consumer another error ends Events and is returned; with
// Durable the event is delivered again after a few seconds and Events goes
// on. An event that cannot be decoded is terminated with a durable
// consumer, and ends an ordered one with an error. Events returns ctx's
// error when ctx ends.
func (c *Client) Events(ctx context.Context, handle func(kybflow.Event) error, opts ...EventsOption) error {
	var o eventsOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.lookupID != "" && !kybflow.ValidLookupID(o.lookupID) {
		return fmt.Errorf("events: invalid lookupId %q", o.lookupID)
	}
	for _, k := range o.kinds {
		if !slices.Contains(kybflow.Kinds(), k) {
			return fmt.Errorf("events: unknown kind %q", k)
		}
	}
	filters := c.filters(o)
	stream := c.subjects.EventsStream()
	var cons jetstream.Consumer
	var err error
	if o.durable != "" {
		// An existing consumer is used as it is: its position and the
		// settings an operator gave it stand (a deliver policy cannot be
		// changed anyway). Only a missing one is created.
		cons, err = c.js.Consumer(ctx, stream, o.durable)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			cons, err = c.js.CreateConsumer(ctx, stream, jetstream.ConsumerConfig{
				Durable: o.durable, FilterSubjects: filters, AckPolicy: jetstream.AckExplicitPolicy,
				DeliverPolicy: o.deliver, OptStartTime: startTime(o), AckWait: 30 * time.Second, MaxAckPending: 1000,
			})
		}
	} else {
		cons, err = c.js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
			FilterSubjects: filters, DeliverPolicy: o.deliver, OptStartTime: startTime(o), InactiveThreshold: 30 * time.Second,
		})
	}
	if err != nil {
		return fmt.Errorf("events: consumer on %s: %w", stream, err)
	}
	// A small buffer: what the iterator holds waits without keep-alives.
	it, err := cons.Messages(jetstream.PullMaxMessages(eventsBuffer))
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if transientPull(err) {
				continue // the iterator pulls again by itself (a leader election, a reconnect)
			}
			return fmt.Errorf("events: %w", err)
		}
		ev, derr := kybflow.DecodeEvent(msg.Data())
		if derr != nil {
			if o.durable == "" {
				return fmt.Errorf("events: %s: %w", msg.Subject(), derr)
			}
			_ = msg.Term() // it will never decode
			continue
		}
		herr := handle(ev)
		stop := errors.Is(herr, ErrStop)
		if o.durable != "" {
			if herr != nil && !stop {
				_ = msg.NakWithDelay(eventRedelivery)
				continue
			}
			_ = msg.Ack()
		}
		switch {
		case stop:
			return nil
		case herr != nil:
			return herr
		}
	}
}

// filters are the subjects Events follows: of the client's tenant only,
// when it has one (WithTenant).
func (c *Client) filters(o eventsOptions) []string {
	id := "*"
	if o.lookupID != "" {
		id = o.lookupID
	}
	id = kybflow.LookupKey(c.tenant, id)
	if len(o.kinds) == 0 {
		switch {
		case o.lookupID != "":
			return []string{c.subjects.EventsFor(id)}
		case c.tenant != "":
			return []string{c.subjects.EventsOfTenant(c.tenant)}
		}
		return []string{c.subjects.EventsAll()}
	}
	var out []string
	for _, k := range o.kinds {
		out = append(out, c.subjects.Event(id, k))
	}
	return out
}

func startTime(o eventsOptions) *time.Time {
	if o.deliver != jetstream.DeliverByStartTimePolicy {
		return nil
	}
	return &o.start
}
