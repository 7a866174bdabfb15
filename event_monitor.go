package kybflow

// The events of monitors (monitor_events.go) as events: NewMonitorEvent,
// the checks NewEvent applies to their data, their accessors and what is
// logged of them.

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
	"unicode/utf8"
)

// ErrMonitorEventID is wrapped by NewEvent's error for KindMonitor: a
// monitor event's id holds a number (MonitorEventID) that NewEvent does
// not take; NewMonitorEvent does.
var ErrMonitorEventID = errors.New("a monitor event is made by NewMonitorEvent")

// NewMonitorEvent builds the monitor event n (MonitorEventID) of the
// monitor named key (<tenant>.<monitorId>, or its monitorId), published by
// source at t, as NewEvent builds the other kinds: it checks data
// everything the schemas check, and sets Subject to key and ID to
// MonitorEventID(key, n). Publish it on Subjects.Event(key, KindMonitor)
// with its ID as Nats-Msg-Id.
func NewMonitorEvent(source, key string, n uint64, t time.Time, data MonitorData) (Event, error) {
	e, err := newEvent(source, KindMonitor, key, t, data)
	if err != nil {
		return Event{}, err
	}
	e.ID = MonitorEventID(key, n)
	return e, nil
}

// Changed is e's data when e is a changed event.
func (e Event) Changed() (ChangedData, bool) { return dataAs[ChangedData](e) }

// Monitor is e's data when e is a monitor event.
func (e Event) Monitor() (MonitorData, bool) { return dataAs[MonitorData](e) }

// checkChanged checks the data of a changed event of the run named key.
func checkChanged(key string, d ChangedData) (ChangedData, error) {
	errs := []error{checkCommon(key, d.Tenant, d.LookupID, d.CorrelationID, &d.Metadata)}
	if !ValidMonitorID(d.MonitorID) {
		errs = append(errs, fmt.Errorf("monitorId %q: want 1 to %d of A-Z a-z 0-9 _ -", d.MonitorID, MaxMonitorIDLength))
	}
	if !ValidLookupID(d.PreviousLookupID) {
		errs = append(errs, fmt.Errorf("previousLookupId %q is not a lookupId", d.PreviousLookupID))
	}
	if len(d.Blocks) == 0 {
		errs = append(errs, errors.New("no blocks: a changed event names what changed"))
	}
	seen := map[string]bool{}
	for _, b := range d.Blocks {
		switch {
		case b.Block == "":
			errs = append(errs, errors.New("a block without a name"))
		case seen[b.Block]:
			errs = append(errs, fmt.Errorf("block %q twice", b.Block))
		case b.Added < 0 || b.Removed < 0 || b.Modified < 0:
			errs = append(errs, fmt.Errorf("block %q: a negative count", b.Block))
		}
		seen[b.Block] = true
	}
	d.Blocks = slices.Clone(d.Blocks)
	if d.Diff.Name != ArtifactDiff {
		errs = append(errs, fmt.Errorf("diff artifact named %q, want %q", d.Diff.Name, ArtifactDiff))
	}
	errs = append(errs, d.Diff.check())
	return d, errors.Join(errs...)
}

// monitorCodes are the codes of a rejected monitor command.
var monitorCodes = []FailureCode{CodeInvalidCommand, CodeInvalidIdentifier, CodeRejected}

// checkMonitor checks the data of a monitor event of the monitor named
// key: applied (a status, no code), rejected (a code and a reason, no
// status) or the end (status ended).
func checkMonitor(key string, d MonitorData) (MonitorData, error) {
	errs := []error{checkCommon(key, d.Tenant, d.MonitorID, d.CorrelationID, &d.Metadata)}
	if !ValidMonitorID(d.MonitorID) {
		errs = append(errs, fmt.Errorf("monitorId %q: want 1 to %d of A-Z a-z 0-9 _ -", d.MonitorID, MaxMonitorIDLength))
	}
	rejected := d.Code != ""
	switch {
	case d.Action == MonitorEnd && (d.Status != MonitorEnded || rejected):
		errs = append(errs, fmt.Errorf("action end with status %q and code %q, want status ended and no code", d.Status, d.Code))
	case d.Action != MonitorEnd && !d.Action.valid() && !(rejected && d.Action == ""):
		errs = append(errs, fmt.Errorf("action %q: want a monitor action or end (or none when rejecting a command without one)", d.Action))
	}
	switch {
	case rejected && (d.Status != "" || !slices.Contains(monitorCodes, d.Code) || d.Reason == ""):
		errs = append(errs, fmt.Errorf("a rejection has code %q, reason %q and status %q; want one of %v, a reason and no status", d.Code, d.Reason, d.Status, monitorCodes))
	case !rejected && (!d.Status.valid() || d.Reason != ""):
		errs = append(errs, fmt.Errorf("applied with status %q and reason %q: want a known status and no reason", d.Status, d.Reason))
	}
	if utf8.RuneCountInString(d.Reason) > MaxReasonLength {
		d.Reason = string([]rune(d.Reason)[:MaxReasonLength-1]) + "…"
	}
	if d.Schedule != nil {
		s := *d.Schedule
		errs = append(errs, s.Validate())
		d.Schedule = &s
	}
	if d.Until != nil {
		u := d.Until.UTC()
		if y := u.Year(); y < 1 || y > 9999 {
			errs = append(errs, fmt.Errorf("until %s out of range", u))
		}
		d.Until = &u
	}
	return d, errors.Join(errs...)
}

func (s MonitorStatus) valid() bool {
	switch s {
	case MonitorActive, MonitorPaused, MonitorEnded, MonitorDeleted:
		return true
	}
	return false
}

func (d *ChangedData) common() (string, string, *json.RawMessage) {
	return d.Tenant, d.LookupID, &d.Metadata
}

// common of MonitorData: a monitor's key is its tenant and monitorId.
func (d *MonitorData) common() (string, string, *json.RawMessage) {
	return d.Tenant, d.MonitorID, &d.Metadata
}

// LogValue leaves out CorrelationID and Metadata; block names and counts
// are not personal.
func (d ChangedData) LogValue() slog.Value {
	blocks := make([]string, len(d.Blocks))
	for i, b := range d.Blocks {
		blocks[i] = b.Block
	}
	return slog.GroupValue(slog.String("lookupId", d.LookupID), slog.String("monitorId", d.MonitorID),
		slog.String("previousLookupId", d.PreviousLookupID), slog.Any("blocks", blocks))
}

// LogValue leaves out CorrelationID and Metadata, and the reason of an
// invalid_identifier rejection (it quotes the value).
func (d MonitorData) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("monitorId", d.MonitorID), slog.String("action", string(d.Action))}
	if d.Status != "" {
		attrs = append(attrs, slog.String("status", string(d.Status)))
	}
	if d.Code != "" {
		attrs = append(attrs, slog.String("code", string(d.Code)))
		if d.Code != CodeInvalidIdentifier {
			attrs = append(attrs, slog.String("reason", d.Reason))
		}
	}
	return slog.GroupValue(attrs...)
}
