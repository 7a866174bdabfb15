package kybflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Client is the contract as a platform or a downstream service uses it,
// on a NATS connection the caller owns: Submit publishes a lookup command
// and waits for JetStream to store it, Wait returns a lookup's ending, and
// Events follows the events stream. It holds no goroutines between calls.
type Client struct {
	js       jetstream.JetStream
	subjects Subjects

	mu     sync.Mutex
	events jetstream.Stream // the events stream, looked up once
}

// ClientOption configures a Client.
type ClientOption func(*Client) error

// WithSubjectPrefix sets the prefix of the deployment's subjects and stream
// names (AML_SUBJECT_PREFIX of the worker; default "aml").
func WithSubjectPrefix(prefix string) ClientOption {
	return func(c *Client) error {
		s, err := NewSubjects(prefix)
		if err != nil {
			return err
		}
		c.subjects = s
		return nil
	}
}

// NewClient returns a client on nc.
func NewClient(nc *nats.Conn, opts ...ClientOption) (*Client, error) {
	if nc == nil {
		return nil, errors.New("kybflow: NewClient needs a NATS connection")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("kybflow: %w", err)
	}
	c := &Client{js: js}
	c.subjects, _ = NewSubjects(DefaultPrefix)
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, fmt.Errorf("kybflow: %w", err)
		}
	}
	return c, nil
}

// Subjects are the subjects and stream names the client uses.
func (c *Client) Subjects() Subjects { return c.subjects }

// ErrLookupIDConflict is wrapped by Submit's error when the lookupId
// already names a lookup with other content: the first command with a
// lookupId defines the lookup, and a later different one is ignored by the
// worker. Use a new lookupId for a new lookup.
var ErrLookupIDConflict = errors.New("lookupId already names a different lookup")

// Submit validates cmd, publishes it with Nats-Msg-Id set to its lookupId,
// and waits until JetStream has stored it.
//
// A command that is malformed (a missing field, an unknown value, a bad
// lookupId: what the worker would fail as invalid_command) is refused here,
// with the *CommandError of ParseCommand, and nothing is published. An
// identifier that breaks the rules of its kind (a check digit) is a fact
// about the input, not a programming error: the command is published, and
// its lookup ends failed with code invalid_identifier, as one the API
// rejects would, so a platform handles bad user input in one place (Wait).
//
// Submitting the same command again is not an error (nothing new is
// opened). Submitting other content under a lookupId that already names a
// lookup is ErrLookupIDConflict, as far as Submit can tell: it compares
// with the lookup's accepted event, which exists once a worker has taken
// the first command in.
func (c *Client) Submit(ctx context.Context, cmd LookupCommand) error {
	_, err := c.SubmitStatus(ctx, cmd)
	return err
}

// Submission says what Submit found, for tools that report it.
type Submission struct {
	// Duplicate: JetStream already held a command with this lookupId (it
	// was submitted before, within the duplicate window), so it dropped
	// this one. When no worker has accepted the first one yet, its content
	// could not be compared: a conflicting re-use is then not detected
	// (ErrLookupIDConflict needs the accepted event).
	Duplicate bool
	// Accepted: a worker had already taken the lookup in (its accepted
	// event exists), so nothing was published.
	Accepted bool
}

// SubmitStatus is Submit that also says whether the lookup was already
// submitted or accepted.
func (c *Client) SubmitStatus(ctx context.Context, cmd LookupCommand) (Submission, error) {
	data, err := EncodeCommand(cmd)
	var ce *CommandError
	switch {
	case errors.As(err, &ce) && ce.Code == CodeInvalidIdentifier && ce.LookupID != "":
		// Published as given, for the worker to fail with its event.
		if data, err = marshal(cmd); err != nil {
			return Submission{}, fmt.Errorf("submit %s: %w", cmd.LookupID, err)
		}
	case err != nil:
		return Submission{}, fmt.Errorf("submit: %w", err)
	}
	norm, perr := ParseCommand(data)
	if perr != nil {
		norm = cmd // an invalid identifier: nothing normalised to compare
	}
	if accepted, err := c.sameAsAccepted(ctx, norm); err != nil || accepted {
		return Submission{Accepted: accepted}, err // a worker has the lookup already: nothing to publish
	}
	ack, err := c.js.Publish(ctx, c.subjects.CommandLookup(), data, jetstream.WithMsgID(cmd.LookupID),
		jetstream.WithExpectStream(c.subjects.CommandsStream()))
	if err != nil {
		return Submission{}, fmt.Errorf("submit %s: publish: %w", cmd.LookupID, err)
	}
	if ack.Duplicate {
		// Within the duplicate window: the stream kept the first command.
		accepted, err := c.sameAsAccepted(ctx, norm)
		return Submission{Duplicate: true, Accepted: accepted}, err
	}
	return Submission{}, nil
}

// sameAsAccepted reports whether the lookup has an accepted event, and
// returns ErrLookupIDConflict when that describes another lookup than cmd.
func (c *Client) sameAsAccepted(ctx context.Context, cmd LookupCommand) (accepted bool, err error) {
	ev, ok, err := c.lastEvent(ctx, cmd.LookupID, KindAccepted)
	if err != nil || !ok {
		return false, err
	}
	got, isAccepted := ev.Data.(AcceptedData)
	if !isAccepted {
		return false, nil
	}
	if diff := acceptedDiff(got, cmd.AcceptedData()); diff != "" {
		return true, fmt.Errorf("submit %s: %w: its %s differs from the accepted one", cmd.LookupID, ErrLookupIDConflict, diff)
	}
	return true, nil
}

// acceptedDiff names the first field in which two accepted data differ.
func acceptedDiff(a, b AcceptedData) string {
	switch {
	case a.Type != b.Type:
		return "type"
	case a.Country != b.Country:
		return "country"
	case a.IdentifierType != b.IdentifierType:
		return "identifierType"
	case a.Identifier != b.Identifier:
		return "identifier"
	case !slices.Equal(a.Expands, b.Expands):
		return "expands"
	case !slices.Equal(a.Reports, b.Reports):
		return "reports"
	case a.Language != b.Language:
		return "language"
	case a.CorrelationID != b.CorrelationID:
		return "correlationId"
	case string(a.Metadata) != string(b.Metadata):
		return "metadata"
	}
	return ""
}

// lastEvent reads the lookup's last event of kind from the events stream.
func (c *Client) lastEvent(ctx context.Context, lookupID string, kind Kind) (Event, bool, error) {
	s, err := c.eventsStream(ctx)
	if err != nil {
		return Event{}, false, err
	}
	raw, err := s.GetLastMsgForSubject(ctx, c.subjects.Event(lookupID, kind))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Event{}, false, nil
	}
	if err != nil {
		return Event{}, false, fmt.Errorf("read the %s event of %s: %w", kind, lookupID, err)
	}
	ev, err := DecodeEvent(raw.Data)
	if err != nil {
		return Event{}, false, fmt.Errorf("read the %s event of %s: %w", kind, lookupID, err)
	}
	return ev, true, nil
}

func (c *Client) eventsStream(ctx context.Context) (jetstream.Stream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.events != nil {
		return c.events, nil
	}
	s, err := c.js.Stream(ctx, c.subjects.EventsStream())
	if err != nil {
		return nil, fmt.Errorf("events stream %s: %w (has a worker started?)", c.subjects.EventsStream(), err)
	}
	c.events = s
	return s, nil
}

// Result is the ending of a lookup: exactly one of Completed and Failed is
// set, with the data of its terminal event, which Event is.
type Result struct {
	Event     Event
	Completed *CompletedData
	Failed    *FailedData
}

// Wait returns the lookup's ending, waiting for it until ctx ends. A lookup
// that ended before Wait was called is returned at once (the events stream
// keeps events for EVENTS_MAX_AGE). A failed lookup is a Result, not an
// error.
func (c *Client) Wait(ctx context.Context, lookupID string) (Result, error) {
	if !ValidLookupID(lookupID) {
		return Result{}, fmt.Errorf("wait: invalid lookupId %q", lookupID)
	}
	var res Result
	err := c.Events(ctx, func(ev Event) error {
		switch d := ev.Data.(type) {
		case CompletedData:
			res = Result{Event: ev, Completed: &d}
		case FailedData:
			res = Result{Event: ev, Failed: &d}
		default:
			return nil
		}
		return ErrStop
	}, ForLookup(lookupID), OfKinds(KindCompleted, KindFailed))
	if err != nil {
		return Result{}, fmt.Errorf("wait for %s: %w", lookupID, err)
	}
	return res, nil
}

// ErrStop, returned by an Events handler, ends Events after that event
// (which counts as handled); Events then returns nil.
var ErrStop = errors.New("stop following events")

// EventsOption chooses what Events follows and how.
type EventsOption func(*eventsOptions)

type eventsOptions struct {
	lookupID string
	kinds    []Kind
	durable  string
	deliver  jetstream.DeliverPolicy
	start    time.Time
}

// ForLookup follows one lookup's events only.
func ForLookup(lookupID string) EventsOption {
	return func(o *eventsOptions) { o.lookupID = lookupID }
}

// OfKinds follows events of these kinds only.
func OfKinds(kinds ...Kind) EventsOption {
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
func (c *Client) Events(ctx context.Context, handle func(Event) error, opts ...EventsOption) error {
	var o eventsOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.lookupID != "" && !ValidLookupID(o.lookupID) {
		return fmt.Errorf("events: invalid lookupId %q", o.lookupID)
	}
	for _, k := range o.kinds {
		if !slices.Contains(Kinds(), k) {
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
		ev, derr := DecodeEvent(msg.Data())
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

func (c *Client) filters(o eventsOptions) []string {
	id := "*"
	if o.lookupID != "" {
		id = o.lookupID
	}
	if len(o.kinds) == 0 {
		if o.lookupID != "" {
			return []string{c.subjects.EventsFor(o.lookupID)}
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
