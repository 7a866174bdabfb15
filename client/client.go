package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
)

// Client is the contract as a platform or a downstream service uses it,
// on a NATS connection the caller owns: Submit publishes a lookup command
// and waits for JetStream to store it, Wait returns a lookup's ending, and
// Events follows the events stream. It holds no goroutines between calls.
type Client struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	subjects kybflow.Subjects
	tenant   string

	mu     sync.Mutex
	events jetstream.Stream // the events stream, looked up once
}

// ClientOption configures a Client.
type ClientOption func(*Client) error

// WithSubjectPrefix sets the prefix of the deployment's subjects and stream
// names (AML_SUBJECT_PREFIX of the worker; default "aml").
func WithSubjectPrefix(prefix string) ClientOption {
	return func(c *Client) error {
		s, err := kybflow.NewSubjects(prefix)
		if err != nil {
			return err
		}
		c.subjects = s
		return nil
	}
}

// WithTenant makes the client a tenant's (tenant.go): it submits on
// <prefix>.commands.lookup.<tenant>, and its lookupIds name that tenant's
// lookups, whose events it reads by subject only (NATS can then limit its
// user to <prefix>.events.<tenant>.*.*). Without it the client is
// untenanted, as before tenants existed.
func WithTenant(tenant string) ClientOption {
	return func(c *Client) error {
		if tenant != "" && !kybflow.ValidTenant(tenant) {
			return fmt.Errorf("tenant %q must match [A-Za-z0-9_-]{1,%d}", tenant, kybflow.MaxTenantLength)
		}
		c.tenant = tenant
		return nil
	}
}

// New returns a client on nc.
func New(nc *nats.Conn, opts ...ClientOption) (*Client, error) {
	if nc == nil {
		return nil, errors.New("client: New needs a NATS connection")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	c := &Client{nc: nc, js: js}
	c.subjects, _ = kybflow.NewSubjects(kybflow.DefaultPrefix)
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
	}
	return c, nil
}

// Subjects are the subjects and stream names the client uses.
func (c *Client) Subjects() kybflow.Subjects { return c.subjects }

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
// A command JetStream refuses is not stored: the commands stream full
// is ErrCommandsFull (submit it again later; no stored command is ever
// dropped for room), a command larger than the stream takes is
// ErrCommandTooLarge.
//
// Submitting the same command again is not an error (nothing new is
// opened). Submitting other content under a lookupId that already names a
// lookup is ErrLookupIDConflict, as far as Submit can tell: it compares
// with the lookup's accepted event, which exists once a worker has taken
// the first command in.
func (c *Client) Submit(ctx context.Context, cmd kybflow.LookupCommand) error {
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
func (c *Client) SubmitStatus(ctx context.Context, cmd kybflow.LookupCommand) (Submission, error) {
	data, err := kybflow.EncodeCommand(cmd)
	var ce *kybflow.CommandError
	switch {
	case errors.As(err, &ce) && ce.Code == kybflow.CodeInvalidIdentifier && ce.LookupID != "":
		// Published as given, for the worker to fail with its event.
		if data, err = marshalAsGiven(cmd); err != nil {
			return Submission{}, fmt.Errorf("submit %s: %w", cmd.LookupID, err)
		}
	case err != nil:
		return Submission{}, fmt.Errorf("submit: %w", err)
	}
	norm, perr := kybflow.ParseCommand(data)
	if perr != nil {
		norm = cmd // an invalid identifier: nothing normalised to compare
	}
	norm.Tenant = c.tenant // where it is published says it, never the body
	if accepted, err := c.sameAsAccepted(ctx, norm); err != nil || accepted {
		return Submission{Accepted: accepted}, err // a worker has the lookup already: nothing to publish
	}
	ack, err := c.js.Publish(ctx, c.subjects.CommandLookupOf(c.tenant), data, jetstream.WithMsgID(norm.Key()),
		jetstream.WithExpectStream(c.subjects.CommandsStream()))
	if err != nil {
		return Submission{}, fmt.Errorf("submit %s: publish: %w", cmd.LookupID, publishError(err, len(data)))
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
func (c *Client) sameAsAccepted(ctx context.Context, cmd kybflow.LookupCommand) (accepted bool, err error) {
	ev, ok, err := c.lastEvent(ctx, cmd.Key(), kybflow.KindAccepted)
	if err != nil || !ok {
		return false, err
	}
	got, isAccepted := ev.Data.(kybflow.AcceptedData)
	if !isAccepted {
		return false, nil
	}
	if diff := acceptedDiff(got, cmd.AcceptedData()); diff != "" {
		return true, fmt.Errorf("submit %s: %w: its %s differs from the accepted one", cmd.LookupID, ErrLookupIDConflict, diff)
	}
	return true, nil
}

// acceptedDiff names the first field in which two accepted data differ.
func acceptedDiff(a, b kybflow.AcceptedData) string {
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

// lastEvent reads the last event of kind of the lookup named key from the
// events stream, by its subject: a direct get, which a NATS user can be
// allowed for its own subjects only ($JS.API.DIRECT.GET.<stream>.<subject>).
// Against an events stream made before direct gets were allowed on it (no
// responders), it reads through the stream's API instead.
func (c *Client) lastEvent(ctx context.Context, key string, kind kybflow.Kind) (kybflow.Event, bool, error) {
	subject := c.subjects.Event(key, kind)
	// Bounded like a JetStream API call: a request the servers never
	// answer (a permission refused, a reply lost in a reconnect) must not
	// hold the caller for as long as its context.
	rctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	msg, err := c.nc.RequestWithContext(rctx, "$JS.API.DIRECT.GET."+c.subjects.EventsStream()+"."+subject, nil)
	var data []byte
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		s, serr := c.eventsStream(ctx)
		if serr != nil {
			return kybflow.Event{}, false, serr
		}
		raw, gerr := s.GetLastMsgForSubject(rctx, subject)
		if errors.Is(gerr, jetstream.ErrMsgNotFound) {
			return kybflow.Event{}, false, nil
		}
		if gerr != nil {
			return kybflow.Event{}, false, fmt.Errorf("read the %s event of %s: %w (the events stream %s does not allow direct gets, "+
				"which a tenant's user needs: start a worker of this version, or run worker topology)", kind, key, gerr, c.subjects.EventsStream())
		}
		data = raw.Data
	case err != nil:
		return kybflow.Event{}, false, fmt.Errorf("read the %s event of %s: %w", kind, key, err)
	default:
		switch status := msg.Header.Get("Status"); status {
		case "":
			data = msg.Data
		case "404":
			return kybflow.Event{}, false, nil
		default:
			return kybflow.Event{}, false, fmt.Errorf("read the %s event of %s: status %s %s", kind, key, status, msg.Header.Get("Description"))
		}
	}
	ev, err := kybflow.DecodeEvent(data)
	if err != nil {
		return kybflow.Event{}, false, fmt.Errorf("read the %s event of %s: %w", kind, key, err)
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
	Event     kybflow.Event
	Completed *kybflow.CompletedData
	Failed    *kybflow.FailedData
}

// readTimeout bounds one read of an event.
const readTimeout = 5 * time.Second

// followRecheck is how often Follow reads the lookup's events again while
// it waits: a subscription misses what is published while the connection
// is down.
const followRecheck = 10 * time.Second

// Follow calls handle with each event of one lookup, each once, until ctx
// ends (its error is returned) or handle returns ErrStop (then Follow
// returns nil) or another error (returned). Events published before Follow
// was called come first, in the order of a lookup's life; then each as it
// is published.
//
// It reads by subject only, and needs no consumer: it subscribes to the
// lookup's events, reads the last event of each kind from the stream with
// a direct get, and reads them again every few seconds. So a NATS user
// allowed only its own tenant's event subjects can follow its lookups (see
// docs/contract.md, Tenants). To follow many lookups, use Events.
func (c *Client) Follow(ctx context.Context, lookupID string, handle func(kybflow.Event) error) error {
	if !kybflow.ValidLookupID(lookupID) {
		return fmt.Errorf("follow: invalid lookupId %q", lookupID)
	}
	key := kybflow.LookupKey(c.tenant, lookupID)
	msgs := make(chan *nats.Msg, 64)
	sub, err := c.nc.ChanSubscribe(c.subjects.EventsFor(key), msgs)
	if err != nil {
		return fmt.Errorf("follow %s: subscribe: %w", lookupID, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	seen := map[string]bool{}
	deliver := func(ev kybflow.Event) error {
		if seen[ev.ID] {
			return nil
		}
		seen[ev.ID] = true
		return handle(ev)
	}
	catchUp := func() error {
		for _, kind := range kybflow.Kinds() {
			ev, ok, err := c.lastEvent(ctx, key, kind)
			if err != nil {
				return &readError{err}
			}
			if ok {
				if err := deliver(ev); err != nil {
					return err
				}
			}
		}
		return nil
	}
	recheck := time.NewTicker(followRecheck)
	defer recheck.Stop()
	err = catchUp() // its failure ends Follow: the caller learns at once that it cannot read
	for err == nil {
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-recheck.C:
			// A later read that fails (a leader election, a reconnect) is
			// tried again at the next tick; what handle returns ends it.
			if cerr := catchUp(); errors.Is(cerr, ErrStop) || (cerr != nil && !readFailure(cerr)) {
				err = cerr
			}
		case m := <-msgs:
			if ev, derr := kybflow.DecodeEvent(m.Data); derr == nil {
				err = deliver(ev)
			}
		}
	}
	switch {
	case errors.Is(err, ErrStop):
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("follow %s: %w", lookupID, ctx.Err())
	}
	return fmt.Errorf("follow %s: %w", lookupID, err)
}

// Wait returns the lookup's ending, waiting for it until ctx ends. A lookup
// that ended before Wait was called is returned at once (the events stream
// keeps events for EVENTS_MAX_AGE). A failed lookup is a Result, not an
// error. It reads by subject only, as Follow does.
func (c *Client) Wait(ctx context.Context, lookupID string) (Result, error) {
	var res Result
	err := c.Follow(ctx, lookupID, func(ev kybflow.Event) error {
		if res = resultOf(ev); res.Completed != nil || res.Failed != nil {
			return ErrStop
		}
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("wait: %w", err)
	}
	return res, nil
}

// readFailure reports whether err is lastEvent's own failure (not one of
// the handler's): lastEvent wraps each in readError.
func readFailure(err error) bool {
	var re *readError
	return errors.As(err, &re)
}

// readError is a failure to read an event, as opposed to an error of
// Follow's handler.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// resultOf is the Result of an ending event; an empty one for another.
func resultOf(ev kybflow.Event) Result {
	switch d := ev.Data.(type) {
	case kybflow.CompletedData:
		return Result{Event: ev, Completed: &d}
	case kybflow.FailedData:
		return Result{Event: ev, Failed: &d}
	}
	return Result{}
}

// marshalAsGiven is cmd's JSON as given, unvalidated and unnormalised, as
// EncodeCommand writes JSON (no HTML escaping).
func marshalAsGiven(cmd kybflow.LookupCommand) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(cmd); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
