package kybflow

// Reading a monitor command field by field (ParseMonitorCommand): a field
// of the wrong JSON type is named like any other problem, and never stops
// the others from being read and checked.

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"time"
)

// decodeMonitorCommand reads the fields of a monitor command. It returns
// nil and one error when data is not a JSON object; otherwise the command
// and an error for each field of the wrong type (that field left empty).
func decodeMonitorCommand(data []byte) (*MonitorCommand, []error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		reason := "command is not a JSON object"
		if !json.Valid(data) {
			reason = "command is not valid JSON: " + err.Error()
		}
		return nil, []error{&CommandError{Code: CodeInvalidCommand, Reason: reason}}
	}
	r := fieldReader(fields)
	c := &MonitorCommand{}
	var errs []error
	str := func(name string) string {
		s, ok := r.string(name)
		if !ok {
			errs = append(errs, r.typeError(name, "a string"))
		}
		return s
	}
	c.Action = MonitorAction(str("action"))
	c.MonitorID = str("monitorId")
	c.CorrelationID = str("correlationId")
	if raw, ok := r.get("metadata"); ok {
		m, e := checkMetadata(raw)
		if e != nil {
			errs = append(errs, e)
		}
		c.Metadata = m
	}
	if raw, ok := r.get("lookup"); ok {
		if m, err := compactObject(raw); err != nil {
			errs = append(errs, fieldError("lookup", "lookup must be a JSON object of a lookup command's fields"))
		} else {
			c.Lookup = m
		}
	}
	if raw, ok := r.get("schedule"); ok {
		s, e := decodeSchedule(raw)
		errs = append(errs, e...)
		c.Schedule = s
	}
	if _, ok := r.get("until"); ok {
		if u, ok := parseUntil(r.string("until")); ok {
			c.Until = &u
		} else {
			errs = append(errs, fieldError("until", "until must be an RFC 3339 time such as 2027-01-01T00:00:00Z"))
		}
	}
	return c, errs
}

// rfc3339 is the form of until: RFC 3339 as JSON Schema's date-time has
// it (time.Parse also takes a comma before the fraction).
var rfc3339 = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$`)

// parseUntil reads until, in UTC, within the years an event can carry.
func parseUntil(s string, isString bool) (time.Time, bool) {
	if !isString || !rfc3339.MatchString(s) {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	if y := t.UTC().Year(); err != nil || y < 1 || y > 9999 {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// decodeSchedule reads a schedule object; nil when it is not one.
func decodeSchedule(raw json.RawMessage) (*Schedule, []error) {
	var fields map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &fields) != nil {
		return nil, []error{fieldError("schedule", "schedule must be an object: {\"every\": \"24h\"}, or {\"cron\": \"0 0 6 * * MON\", \"timeZone\": \"Europe/Oslo\"}")}
	}
	r := fieldReader(fields)
	var s Schedule
	var errs []error
	for _, f := range []struct {
		name string
		p    *string
	}{{"every", &s.Every}, {"cron", &s.Cron}, {"timeZone", &s.TimeZone}} {
		v, ok := r.string(f.name)
		if !ok {
			errs = append(errs, fieldError("schedule."+f.name, "schedule."+f.name+" must be a string"))
		}
		*f.p = v
	}
	return &s, errs
}

// notReported is the problems of err (joined or single) but those of a
// field that reported already names, of a part of it, or of the whole it
// is part of: a field of the wrong type was left empty, and its emptiness
// is no second problem.
func notReported(err error, reported []error) []error {
	var out []error
	for _, e := range flatten(err) {
		var ce *CommandError
		if errors.As(e, &ce) && ce.Field != "" && covered(ce.Field, reported) {
			continue
		}
		out = append(out, e)
	}
	return out
}

func covered(field string, reported []error) bool {
	for _, r := range reported {
		var ce *CommandError
		if errors.As(r, &ce) && ce.Field != "" &&
			(field == ce.Field || strings.HasPrefix(field, ce.Field+".") || strings.HasPrefix(ce.Field, field+".")) {
			return true
		}
	}
	return false
}

// flatten is the errors joined in err (recursively), or err alone.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, flatten(e)...)
	}
	return out
}

// keepValid empties the fields a rejection must not echo: an action,
// monitorId, correlationId or metadata that is not valid (a monitor event
// could not carry it).
func (c *MonitorCommand) keepValid() {
	if !c.Action.valid() {
		c.Action = ""
	}
	if !ValidMonitorID(c.MonitorID) {
		c.MonitorID = ""
	}
	if checkCorrelationID(c.CorrelationID) != nil {
		c.CorrelationID = ""
	}
	if c.Metadata != nil {
		if _, e := checkMetadata(c.Metadata); e != nil {
			c.Metadata = nil
		}
	}
}
