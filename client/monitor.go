package client

// Sending monitor commands: CreateMonitor, UpdateMonitor, PauseMonitor,
// ResumeMonitor and DeleteMonitor publish a monitor command on the
// client's monitor subject and wait for JetStream to store it.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
)

// MonitorOption adds to a monitor command, or sets how it is sent.
type MonitorOption func(*monitorOptions) error

type monitorOptions struct {
	cmd       kybflow.MonitorCommand
	commandID string
}

// SetLookup sets what each run looks up (UpdateMonitor): lookup's fields
// but its lookupId, tenant, correlationId and metadata, which must be
// empty (a run's lookupId is derived from the monitor, the others are the
// monitor's: WithCorrelationID, WithMetadata).
func SetLookup(lookup kybflow.LookupCommand) MonitorOption {
	return func(o *monitorOptions) error {
		if lookup.LookupID != "" || lookup.Tenant != "" || lookup.CorrelationID != "" || lookup.Metadata != nil || lookup.Monitor != nil {
			return errors.New("a monitor's lookup has no lookupId (each run's is derived from the monitor), tenant, monitor link, " +
				"correlationId or metadata (the monitor's: WithCorrelationID, WithMetadata)")
		}
		raw, err := kybflow.MonitorLookup(lookup)
		o.cmd.Lookup = raw
		return err
	}
}

// SetSchedule sets when the monitor runs (UpdateMonitor).
func SetSchedule(s kybflow.Schedule) MonitorOption {
	return func(o *monitorOptions) error {
		o.cmd.Schedule = &s
		return nil
	}
}

// Until ends the monitor at t: no run is made after it (CreateMonitor,
// UpdateMonitor).
func Until(t time.Time) MonitorOption {
	return func(o *monitorOptions) error {
		u := t.UTC()
		o.cmd.Until = &u
		return nil
	}
}

// WithCorrelationID sets the monitor's correlationId, echoed in its
// events and every run's (CreateMonitor, UpdateMonitor; with the other
// actions, only in the monitor event that answers the command).
func WithCorrelationID(id string) MonitorOption {
	return func(o *monitorOptions) error {
		o.cmd.CorrelationID = id
		return nil
	}
}

// WithMetadata sets the monitor's metadata, a JSON object echoed in its
// events and every run's (as WithCorrelationID).
func WithMetadata(m json.RawMessage) MonitorOption {
	return func(o *monitorOptions) error {
		o.cmd.Metadata = m
		return nil
	}
}

// WithCommandID makes the command's Nats-Msg-Id
// <monitorKey>.monitor.<action>.<id> instead of a random one: the way to
// retry a call whose outcome is unknown (a timeout, a crash) without
// applying the command twice. id is 1 to 64 of A-Z a-z 0-9 _ -, unique
// to the one command meant, e.g. a request id of the caller's.
func WithCommandID(id string) MonitorOption {
	return func(o *monitorOptions) error {
		if !kybflow.ValidTenant(id) { // the same rule: one token, at most 64
			return fmt.Errorf("command id %q must match [A-Za-z0-9_-]{1,64}", id)
		}
		o.commandID = id
		return nil
	}
}

// MonitorSubmission is a monitor command JetStream stored: what WaitMonitor
// needs to find the monitor event that answers it.
type MonitorSubmission struct {
	MonitorID string
	Action    kybflow.MonitorAction
	// Key is the monitor's key: <tenant>.<monitorId>, or the monitorId.
	Key string
	// MsgID is the command's Nats-Msg-Id.
	MsgID string
	// Sequence is the command's sequence in the commands stream; the
	// monitor event that answers it has the id
	// kybflow.MonitorEventID(Key, kybflow.MonitorCommandN(Sequence))
	// (EventID).
	Sequence uint64
	// Duplicate: JetStream already held a command with this MsgID (a
	// retry with the same WithCommandID within the duplicate window), so
	// it dropped this one; Sequence is the first one's.
	Duplicate bool
}

// EventID is the id of the monitor event that answers the command.
func (s MonitorSubmission) EventID() string {
	return kybflow.MonitorEventID(s.Key, kybflow.MonitorCommandN(s.Sequence))
}

// CreateMonitor creates the monitor monitorID, which looks lookup up on
// schedule (see SetLookup for what lookup must leave empty). Options:
// Until, WithCorrelationID, WithMetadata, WithCommandID.
func (c *Client) CreateMonitor(ctx context.Context, monitorID string, lookup kybflow.LookupCommand, schedule kybflow.Schedule, opts ...MonitorOption) (MonitorSubmission, error) {
	return c.sendMonitor(ctx, kybflow.MonitorCreate, monitorID, append([]MonitorOption{SetLookup(lookup), SetSchedule(schedule)}, opts...))
}

// UpdateMonitor changes what the options set: SetLookup, SetSchedule,
// Until, WithCorrelationID, WithMetadata (at least one).
func (c *Client) UpdateMonitor(ctx context.Context, monitorID string, opts ...MonitorOption) (MonitorSubmission, error) {
	return c.sendMonitor(ctx, kybflow.MonitorUpdate, monitorID, opts)
}

// PauseMonitor stops the monitor's runs until ResumeMonitor.
func (c *Client) PauseMonitor(ctx context.Context, monitorID string, opts ...MonitorOption) (MonitorSubmission, error) {
	return c.sendMonitor(ctx, kybflow.MonitorPause, monitorID, opts)
}

// ResumeMonitor makes a paused monitor run again, on its schedule.
func (c *Client) ResumeMonitor(ctx context.Context, monitorID string, opts ...MonitorOption) (MonitorSubmission, error) {
	return c.sendMonitor(ctx, kybflow.MonitorResume, monitorID, opts)
}

// DeleteMonitor ends the monitor: no more runs. Its runs' lookups are
// kept (erase them as lookups).
func (c *Client) DeleteMonitor(ctx context.Context, monitorID string, opts ...MonitorOption) (MonitorSubmission, error) {
	return c.sendMonitor(ctx, kybflow.MonitorDelete, monitorID, opts)
}

// sendMonitor builds the command, refuses one the worker would reject as
// malformed (the *CommandError of kybflow.ParseMonitorCommand, nothing
// published), and publishes it on the client's monitor subject with its
// Nats-Msg-Id, waiting for JetStream to store it. Whether it applies to
// the monitor as it is (a create of a monitorId that exists does not),
// the monitor event that answers it says: WaitMonitor.
//
// Idempotency: the Nats-Msg-Id is <monitorKey>.monitor.<action>.<id>, id
// random unless WithCommandID gives it. A publish retried inside this call
// (no responders during a leader election) keeps it, so JetStream stores
// the command once. A caller that does not know whether a call stored its
// command (a timeout) calls again with the same WithCommandID: within the
// duplicate window (DUPLICATE_WINDOW) JetStream drops the copy, and the
// submission, Duplicate, names the first one's sequence, whose answer
// WaitMonitor finds. Without WithCommandID such a retry is a second
// command, which the worker answers as such (a second create is
// rejected: the monitorId exists). Two different calls never share an id
// unless the caller gives one twice, so two pauses an hour apart are both
// stored.
func (c *Client) sendMonitor(ctx context.Context, action kybflow.MonitorAction, monitorID string, opts []MonitorOption) (MonitorSubmission, error) {
	o := monitorOptions{cmd: kybflow.MonitorCommand{Action: action, MonitorID: monitorID, Tenant: c.tenant}}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return MonitorSubmission{}, fmt.Errorf("%s monitor %s: %w", action, monitorID, err)
		}
	}
	data, err := kybflow.EncodeMonitorCommand(o.cmd)
	if err != nil {
		return MonitorSubmission{}, fmt.Errorf("%s monitor %s: %w", action, monitorID, err)
	}
	if o.commandID == "" {
		o.commandID = randomID()
	}
	s := MonitorSubmission{MonitorID: monitorID, Action: action, Key: o.cmd.Key()}
	s.MsgID = s.Key + "." + string(kybflow.KindMonitor) + "." + string(action) + "." + o.commandID
	ack, err := c.js.Publish(ctx, c.subjects.CommandMonitorOf(c.tenant), data, jetstream.WithMsgID(s.MsgID),
		jetstream.WithExpectStream(c.subjects.CommandsStream()))
	if err != nil {
		return MonitorSubmission{}, fmt.Errorf("%s monitor %s: publish: %w", action, monitorID, publishError(err, len(data)))
	}
	s.Sequence, s.Duplicate = ack.Sequence, ack.Duplicate
	return s, nil
}

// randomID is 16 random hex digits.
func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
