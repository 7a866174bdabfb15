package kybflow

// Monitors: a lookup re-run on a schedule (ongoing due diligence). A
// platform sends MonitorCommands; each run is an ordinary lookup whose
// lookupId derives from the monitor and the run (RunLookupID), and whose
// events carry a MonitorRun linking it back. A run's JSON is compared with
// the previous run's, block by block: a changed event says which blocks
// changed, and the completed event whether anything did.

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MonitorAction is what a MonitorCommand does.
type MonitorAction string

// The monitor actions.
const (
	MonitorCreate MonitorAction = "create" // a new monitor; its first run is one period after
	MonitorUpdate MonitorAction = "update" // new lookup parameters, schedule or end
	MonitorPause  MonitorAction = "pause"  // no runs until resumed
	MonitorResume MonitorAction = "resume" // runs again, on its schedule
	MonitorDelete MonitorAction = "delete" // no more runs; its runs' lookups are kept (erase them apart)
)

func (a MonitorAction) valid() bool {
	switch a {
	case MonitorCreate, MonitorUpdate, MonitorPause, MonitorResume, MonitorDelete:
		return true
	}
	return false
}

// Limits of monitors.
const (
	// MaxMonitorIDLength is the longest monitorId: a run's lookupId is
	// the monitorId, "-r" and the run's Unix time (RunLookupID), within
	// MaxLookupIDLength.
	MaxMonitorIDLength = 96
	// MinMonitorInterval is the shortest interval between runs that
	// JetStream's schedules allow.
	MinMonitorInterval = time.Second
)

// Schedule is when a monitor runs: every Every (a Go duration, at least a
// second: "24h", "168h"), or on the 6-field Cron expression (seconds
// first: "0 0 6 * * MON" is 06:00:00 every Monday) in TimeZone (an IANA
// zone such as "Europe/Oslo"; UTC when empty). Exactly one of Every and
// Cron is set.
type Schedule struct {
	Every    string `json:"every,omitempty"`
	Cron     string `json:"cron,omitempty"`
	TimeZone string `json:"timeZone,omitempty"`
}

// Interval is Every as a duration (0 for a cron schedule).
func (s Schedule) Interval() time.Duration {
	d, _ := time.ParseDuration(s.Every)
	return d
}

// Validate checks the schedule; each problem names its field.
func (s Schedule) Validate() error {
	var errs []error
	switch {
	case s.Every == "" && s.Cron == "":
		errs = append(errs, fieldError("schedule", "schedule needs every (a duration such as 24h) or cron (6 fields, seconds first)"))
	case s.Every != "" && s.Cron != "":
		errs = append(errs, fieldError("schedule", "schedule takes every or cron, not both"))
	case s.Every != "":
		d, err := time.ParseDuration(s.Every)
		switch {
		case err != nil:
			errs = append(errs, fieldError("schedule.every", fmt.Sprintf("schedule.every %s is not a duration such as 24h", quote(s.Every))))
		case d < MinMonitorInterval || d%time.Second != 0: // a duration: safe to repeat
			errs = append(errs, fieldError("schedule.every", fmt.Sprintf("schedule.every %q must be whole seconds, at least 1s", s.Every)))
		}
		if s.TimeZone != "" {
			errs = append(errs, fieldError("schedule.timeZone", "schedule.timeZone applies to cron only"))
		}
	default:
		if e := checkCron(s.Cron); e != nil {
			errs = append(errs, e)
		}
		if s.TimeZone != "" {
			if _, err := time.LoadLocation(s.TimeZone); err != nil || s.TimeZone == "Local" {
				errs = append(errs, fieldError("schedule.timeZone", fmt.Sprintf("schedule.timeZone %s is not an IANA time zone such as Europe/Oslo", quote(s.TimeZone))))
			}
		}
	}
	return errors.Join(errs...)
}

// checkCron checks the shape of a 6-field cron expression; the server
// checks the values.
func checkCron(c string) *CommandError {
	fields := strings.Fields(c)
	if len(fields) != 6 {
		return fieldError("schedule.cron", fmt.Sprintf("schedule.cron %s must have 6 fields (seconds minutes hours day-of-month month day-of-week)", quote(c)))
	}
	for _, f := range fields {
		for _, r := range f {
			if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || strings.ContainsRune("*,-/?", r)) {
				return fieldError("schedule.cron", fmt.Sprintf("schedule.cron %s: %q is not a cron field", quote(c), f))
			}
		}
	}
	return nil
}

// MonitorCommand is a platform's command about a monitor, published on
// Subjects.CommandMonitorOf(tenant).
type MonitorCommand struct {
	Action    MonitorAction `json:"action"`
	MonitorID string        `json:"monitorId"`
	// Tenant is the subject's, never the body's (as for lookups).
	Tenant string `json:"-"`
	// Lookup is what each run looks up (create; update may change it):
	// the fields of a LookupCommand but lookupId, correlationId and
	// metadata, which are the monitor's.
	Lookup json.RawMessage `json:"lookup,omitempty"`
	// Schedule is when it runs (create; update may change it).
	Schedule *Schedule `json:"schedule,omitempty"`
	// Until, when set, ends the monitor: no run is made after it.
	Until *time.Time `json:"until,omitempty"`
	// CorrelationID and Metadata are echoed in the monitor's events and in
	// every run's (create; update may change them).
	CorrelationID string          `json:"correlationId,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
}

// Key is the monitor's key: <tenant>.<monitorId>, or its monitorId.
func (c MonitorCommand) Key() string { return LookupKey(c.Tenant, c.MonitorID) }

// MonitorDefinition is a valid monitor: what its runs look up, when, and
// what they echo.
type MonitorDefinition struct {
	// Lookup is a run's command but its lookupId (RunLookupID) and
	// Monitor link.
	Lookup   LookupCommand `json:"lookup"`
	Schedule Schedule      `json:"schedule"`
	Until    *time.Time    `json:"until,omitempty"`
}

// ParseMonitorCommand decodes and validates a monitor command. Its error
// is a *CommandError (invalid_command, or invalid_identifier for the
// lookup's identifier) naming the field, or several joined (errors.Join):
// every problem at once, a field of the wrong JSON type included. As for
// lookup commands, field names match exactly, unknown fields are ignored
// and null is the same as absent.
//
// On an error the command returned holds what could be read, for the
// monitor event that rejects it: its Action, MonitorID, CorrelationID and
// Metadata only when each is valid, so that the event can carry them (a
// command without a valid monitorId cannot be answered on its monitor's
// subject: a dead letter).
func ParseMonitorCommand(data []byte) (MonitorCommand, error) {
	if len(data) > MaxCommandSize {
		return MonitorCommand{}, &CommandError{Code: CodeInvalidCommand, Reason: fmt.Sprintf("command is %d bytes; the limit is %d", len(data), MaxCommandSize)}
	}
	if !utf8.Valid(data) {
		return MonitorCommand{}, &CommandError{Code: CodeInvalidCommand, Reason: "command is not valid UTF-8"}
	}
	c, decodeErrs := decodeMonitorCommand(data)
	if c == nil {
		return MonitorCommand{}, decodeErrs[0]
	}
	errs := append(decodeErrs, notReported(c.Validate(), decodeErrs)...)
	if len(errs) == 0 {
		return *c, nil
	}
	c.keepValid()
	return *c, errors.Join(errs...)
}

// Validate checks the command, every problem at once; each names its
// field. A create needs lookup and schedule; the other actions need only
// the monitorId (update: at least one field to change).
func (c MonitorCommand) Validate() error {
	var errs []error
	switch {
	case c.Action == "":
		errs = append(errs, fieldError("action", "action is required; want create, update, pause, resume or delete"))
	case !c.Action.valid():
		errs = append(errs, fieldError("action", fmt.Sprintf("action %s is unknown; want create, update, pause, resume or delete", quote(string(c.Action)))))
	}
	switch {
	case c.MonitorID == "":
		errs = append(errs, fieldError("monitorId", "monitorId is required"))
	case !ValidMonitorID(c.MonitorID):
		errs = append(errs, fieldError("monitorId", fmt.Sprintf("monitorId %s must match [A-Za-z0-9_-]{1,%d}", quote(c.MonitorID), MaxMonitorIDLength)))
	}
	if c.Tenant != "" && !ValidTenant(c.Tenant) {
		errs = append(errs, fieldError("tenant", fmt.Sprintf("tenant %s must match [A-Za-z0-9_-]{1,%d}", quote(c.Tenant), MaxTenantLength)))
	}
	if e := checkCorrelationID(c.CorrelationID); e != nil {
		errs = append(errs, e)
	}
	if len(c.Metadata) > 0 {
		if _, e := checkMetadata(c.Metadata); e != nil {
			errs = append(errs, e)
		}
	}
	switch c.Action {
	case MonitorCreate:
		if c.Lookup == nil {
			errs = append(errs, fieldError("lookup", "lookup is required to create a monitor: what each run looks up"))
		}
		if c.Schedule == nil {
			errs = append(errs, fieldError("schedule", "schedule is required to create a monitor"))
		}
	case MonitorUpdate:
		if c.Lookup == nil && c.Schedule == nil && c.Until == nil && c.CorrelationID == "" && c.Metadata == nil {
			errs = append(errs, fieldError("action", "update changes nothing: give lookup, schedule, until, correlationId or metadata"))
		}
	case MonitorPause, MonitorResume, MonitorDelete:
		if c.Lookup != nil || c.Schedule != nil || c.Until != nil {
			errs = append(errs, fieldError("action", fmt.Sprintf("%s takes only the monitorId", c.Action)))
		}
	}
	if c.Lookup != nil {
		if _, err := c.lookup(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Schedule != nil {
		if err := c.Schedule.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// lookup is the command of Lookup, checked as ParseCommand checks one.
func (c MonitorCommand) lookup() (LookupCommand, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(c.Lookup, &fields); err != nil || fields == nil {
		return LookupCommand{}, fieldError("lookup", "lookup must be a JSON object of a lookup command's fields")
	}
	for _, own := range []string{"lookupId", "correlationId", "metadata", "monitor"} {
		if fieldReader(fields).present(own) {
			return LookupCommand{}, fieldError("lookup."+own, fmt.Sprintf("lookup.%s is the monitor's own: set it on the monitor command, not its lookup", own))
		}
	}
	fields["lookupId"], _ = json.Marshal("monitor")
	b, _ := json.Marshal(fields)
	cmd, err := ParseCommand(b)
	if err != nil {
		var ce *CommandError
		if errors.As(err, &ce) && ce.Field != "" {
			ce.Field = "lookup." + ce.Field
			ce.Reason = ce.Field + ": " + ce.Reason
			ce.LookupID = ""
		}
		return LookupCommand{}, err
	}
	cmd.LookupID = ""
	return cmd, nil
}

// Definition is the monitor a valid create defines; for an update, d is
// the current definition and the result the new one.
func (c MonitorCommand) Definition(d MonitorDefinition) (MonitorDefinition, error) {
	if err := c.Validate(); err != nil {
		return MonitorDefinition{}, err
	}
	if c.Lookup != nil {
		cmd, err := c.lookup()
		if err != nil {
			return MonitorDefinition{}, err
		}
		// The monitor's own fields stay unless the command changes them
		// (below): a new lookup is not a new correlationId.
		cmd.CorrelationID, cmd.Metadata = d.Lookup.CorrelationID, d.Lookup.Metadata
		d.Lookup = cmd
	}
	if c.Schedule != nil {
		d.Schedule = *c.Schedule
	}
	if c.Until != nil {
		u := c.Until.UTC()
		d.Until = &u
	}
	d.Lookup.Tenant = c.Tenant
	if c.CorrelationID != "" || c.Action == MonitorCreate {
		d.Lookup.CorrelationID = c.CorrelationID
	}
	if c.Metadata != nil || c.Action == MonitorCreate {
		d.Lookup.Metadata = c.Metadata
	}
	return d, nil
}

// MonitorRun links a run's lookup to its monitor. It is set by the worker
// on the runs it makes, never read from a platform's command.
type MonitorRun struct {
	MonitorID string `json:"monitorId"`
	// At is when the run was due (its schedule's fire), in UTC.
	At time.Time `json:"at"`
	// PreviousLookupID is the run it was compared with (completed events;
	// absent on a monitor's first run).
	PreviousLookupID string `json:"previousLookupId,omitempty"`
	// Changed says whether the run's JSON differs from the previous run's
	// in any compared block (completed events; absent on a first run).
	Changed *bool `json:"changed,omitempty"`
}

// RunLookupID is the lookupId of a run of monitorID, named by fire: the
// time of the schedule's fire after this run's (its Nats-Schedule-Next,
// which the server sets on each fire), the same for a fire delivered
// twice or handled by two workers, so that a run opens one session at
// most. The run's own due time is in its events' monitor.at.
func RunLookupID(monitorID string, at time.Time) string {
	return monitorID + "-r" + strconv.FormatInt(at.Unix(), 10)
}
