package kybflow

// Making events: NewEvent checks the data of each kind as the schemas do.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/kybflow/kybflow/identifier"
)

// sourcePattern is what NewEvent accepts as source: an absolute URI of
// printable ASCII (the same pattern as event.schema.json).
var sourcePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:[!-~]+$`)

// NewEvent builds the event of kind for a lookup, published by source (a
// URI such as DefaultSource) at t. data must be the data type of kind (a
// value or a pointer) for the same lookupId, valid and complete: NewEvent
// checks everything docs/schemas checks, so that what it returns always
// validates. It sets ID to EventID, Subject to lookupID, Time to t in UTC,
// DataSchema to kind.DataSchema, cuts every time to TimePrecision and a
// reason longer than MaxReasonLength, and keeps the metadata's bytes.
//
// A monitor event (KindMonitor) is made by NewMonitorEvent, which takes
// the number of its id; NewEvent refuses one with ErrMonitorEventID.
func NewEvent(source string, kind Kind, lookupID string, t time.Time, data any) (Event, error) {
	if kind == KindMonitor {
		return Event{}, fmt.Errorf("%w: %s %s: %w", ErrInvalidEvent, kind, lookupID, ErrMonitorEventID)
	}
	return newEvent(source, kind, lookupID, t, data)
}

// newEvent is NewEvent for every kind; a monitor event's id is then
// <key>.monitor, which NewMonitorEvent completes.
func newEvent(source string, kind Kind, lookupID string, t time.Time, data any) (Event, error) {
	invalid := func(format string, args ...any) (Event, error) {
		return Event{}, fmt.Errorf("%w: %s %s: %s", ErrInvalidEvent, kind, lookupID, fmt.Sprintf(format, args...))
	}
	if !kind.Known() {
		return invalid("unknown kind %q", kind)
	}
	if !sourcePattern.MatchString(source) {
		return invalid("source %q is not an absolute URI", source)
	}
	if !ValidLookupKey(lookupID) {
		return invalid("invalid lookup key")
	}
	if t.IsZero() {
		return invalid("no time")
	}
	t = msTime(t)
	if y := t.Year(); y < 1 || y > 9999 {
		return invalid("time %s out of range", t)
	}
	d, err := checkData(kind, lookupID, data)
	if err != nil {
		return invalid("%v", err)
	}
	return Event{
		SpecVersion:     SpecVersion,
		ID:              EventID(lookupID, kind),
		Source:          source,
		Type:            kind.EventType(),
		Subject:         lookupID,
		Time:            t,
		DataContentType: ContentTypeJSON,
		DataSchema:      kind.DataSchema(),
		Data:            msData(d),
	}, nil
}

// checkData checks data strictly for NewEvent and returns its normalised
// copy.
func checkData(kind Kind, lookupID string, data any) (any, error) {
	switch d := deref(data).(type) {
	case AcceptedData:
		if kind != KindAccepted {
			break
		}
		err := errors.Join(
			checkCommon(lookupID, d.Tenant, d.LookupID, d.CorrelationID, &d.Metadata),
			checkLookup(d.Type, d.Country, d.IdentifierType, d.Identifier))
		return d, err
	case SessionOpenedData:
		if kind != KindSessionOpened {
			break
		}
		err := errors.Join(
			checkCommon(lookupID, d.Tenant, d.LookupID, d.CorrelationID, &d.Metadata),
			checkSessionID(d.SessionID, true),
			checkLookup(d.Type, d.Country, d.IdentifierType, d.Identifier))
		return d, err
	case CompletedData:
		if kind != KindCompleted {
			break
		}
		errs := []error{
			checkCommon(lookupID, d.Tenant, d.LookupID, d.CorrelationID, &d.Metadata),
			checkSessionID(d.SessionID, true),
			checkLookup(d.Type, d.Country, d.IdentifierType, d.Identifier),
		}
		if len(d.Artifacts) == 0 {
			errs = append(errs, errors.New("no artifacts"))
		}
		for _, a := range d.Artifacts {
			errs = append(errs, a.check())
		}
		d.Artifacts = slices.Clone(d.Artifacts)
		if d.Summary != nil {
			errs = append(errs, d.Summary.Validate())
			d.Summary = d.Summary.Clone()
		}
		return d, errors.Join(errs...)
	case FailedData:
		if kind != KindFailed {
			break
		}
		errs := []error{
			checkCommon(lookupID, d.Tenant, d.LookupID, d.CorrelationID, &d.Metadata),
			checkSessionID(d.SessionID, false),
		}
		if !d.Code.Known() {
			errs = append(errs, fmt.Errorf("unknown failure code %q", d.Code))
		}
		if d.Reason == "" {
			errs = append(errs, errors.New("no reason"))
		}
		if utf8.RuneCountInString(d.Reason) > MaxReasonLength {
			d.Reason = string([]rune(d.Reason)[:MaxReasonLength-1]) + "…"
		}
		return d, errors.Join(errs...)
	case ErasedData:
		if kind != KindErased {
			break
		}
		var noMetadata json.RawMessage
		errs := []error{checkCommon(lookupID, d.Tenant, d.LookupID, "", &noMetadata)}
		d.ErasedAt = d.ErasedAt.UTC()
		if d.ErasedAt.IsZero() {
			errs = append(errs, errors.New("no erasedAt"))
		} else if y := d.ErasedAt.Year(); y < 1 || y > 9999 {
			errs = append(errs, fmt.Errorf("erasedAt %s out of range", d.ErasedAt))
		}
		return d, errors.Join(errs...)
	case ChangedData:
		if kind == KindChanged {
			return checkChanged(lookupID, d)
		}
	case MonitorData:
		if kind == KindMonitor {
			return checkMonitor(lookupID, d)
		}
	}
	return nil, fmt.Errorf("data is %T, not the data of a %s event", data, kind)
}

// deref turns a pointer to a data type into the value.
func deref(data any) any {
	switch d := data.(type) {
	case *AcceptedData:
		if d != nil {
			return *d
		}
	case *SessionOpenedData:
		if d != nil {
			return *d
		}
	case *CompletedData:
		if d != nil {
			return *d
		}
	case *FailedData:
		if d != nil {
			return *d
		}
	case *ErasedData:
		if d != nil {
			return *d
		}
	case *ChangedData:
		if d != nil {
			return *d
		}
	case *MonitorData:
		if d != nil {
			return *d
		}
	default:
		return data
	}
	return nil
}

func checkCommon(want, tenant, lookupID, correlationID string, metadata *json.RawMessage) error {
	var errs []error
	// Compared token by token: the key "acme.x" is tenant acme's lookup x,
	// never the untenanted lookup "acme.x" (no lookupId has a dot).
	if wantTenant, wantID, _ := SplitLookupKey(want); tenant != wantTenant || lookupID != wantID {
		errs = append(errs, fmt.Errorf("data lookupId %q of tenant %q is not the event's", lookupID, tenant))
	}
	if n := utf8.RuneCountInString(correlationID); n > MaxCorrelationIDLength {
		errs = append(errs, fmt.Errorf("correlationId is %d characters; the limit is %d", n, MaxCorrelationIDLength))
	}
	if err := normalizeMetadata(metadata); err != nil {
		errs = append(errs, err)
	} else if len(*metadata) > MaxMetadataSize {
		errs = append(errs, fmt.Errorf("metadata is %d bytes; the limit is %d", len(*metadata), MaxMetadataSize))
	}
	return errors.Join(errs...)
}

// normalizeMetadata makes *m nil for absent or null, and fails when it is
// not a JSON object. It keeps the object's bytes (only the whitespace
// around it dropped): metadata is echoed byte for byte.
func normalizeMetadata(m *json.RawMessage) error {
	if len(*m) == 0 || string(bytes.TrimSpace(*m)) == "null" {
		*m = nil
		return nil
	}
	c, err := metadataObject(*m)
	if err != nil {
		return errors.New("metadata must be a JSON object")
	}
	*m = c
	return nil
}

func checkSessionID(id string, required bool) error {
	switch n := utf8.RuneCountInString(id); {
	case n == 0 && required:
		return errors.New("no sessionId")
	case n > MaxSessionIDLength:
		return fmt.Errorf("sessionId is %d characters; the limit is %d", n, MaxSessionIDLength)
	}
	return nil
}

// checkLookup checks the fields that describe the lookup, as ParseCommand
// leaves them: known values, and the identifier in canonical form.
func checkLookup(t LookupType, c Country, it IdentifierType, id string) error {
	switch {
	case !t.valid():
		return fmt.Errorf("unknown type %q", t)
	case !c.valid():
		return fmt.Errorf("unknown country %q", c)
	case t == TypeBeneficialOwners && c != CountryNO:
		return fmt.Errorf("country %q for beneficial_owners", c)
	case !it.valid():
		return fmt.Errorf("unknown identifierType %q", it)
	}
	k, _ := it.Kind(c)
	if norm, err := identifier.Normalize(k, id); err != nil {
		return err
	} else if norm != id {
		return fmt.Errorf("identifier %q is not in canonical form %q", id, norm)
	}
	return nil
}
