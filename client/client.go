package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

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
