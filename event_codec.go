package kybflow

// Events on the wire: EncodeEvent and DecodeEvent (CloudEvents structured
// JSON).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"time"
	"unicode/utf8"
)

// EncodeEvent encodes e as CloudEvents structured JSON. Every time is
// written in UTC with at most millisecond precision (TimePrecision), and
// the data's metadata byte for byte, as the command had it (no
// compaction, no escaping of <, > and &).
func EncodeEvent(e Event) ([]byte, error) {
	if !e.Time.IsZero() {
		e.Time = msTime(e.Time)
	}
	e.Data = msData(e.Data)
	b, err := marshalKeeping(e, metadataOf(e.Data), "data", "metadata")
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	return b, nil
}

// metadataOf is the metadata of the data of an event, or nil.
func metadataOf(data any) json.RawMessage {
	switch d := deref(data).(type) {
	case AcceptedData:
		return d.Metadata
	case SessionOpenedData:
		return d.Metadata
	case CompletedData:
		return d.Metadata
	case FailedData:
		return d.Metadata
	case ChangedData:
		return d.Metadata
	case MonitorData:
		return d.Metadata
	}
	return nil
}

// wireEvent is what DecodeEvent reads.
type wireEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	DataSchema      string          `json:"dataschema"`
	TraceParent     string          `json:"traceparent"`
	TraceState      string          `json:"tracestate"`
	Data            json.RawMessage `json:"data"`
}

// DecodeEvent decodes a CloudEvents structured JSON event. It checks the
// envelope (specversion 1.0; id, source and type present) and, for the
// lookup event types of this package, that the subject is a lookupId, a
// dataschema is present (any URI) and the data an object of the kind's
// data type with the same lookupId. It is tolerant otherwise: it ignores unknown attributes and fields and accepts
// unknown enum values (failure codes, countries, ...), so that a consumer
// keeps working when the contract grows. The data of an unknown event type
// is returned as json.RawMessage (compacted). Times are returned in UTC at
// the precision they have (an event of an earlier version may carry
// nanoseconds), and metadata byte for byte as the event has it.
func DecodeEvent(data []byte) (Event, error) {
	invalid := func(format string, args ...any) (Event, error) {
		return Event{}, fmt.Errorf("%w: %s", ErrInvalidEvent, fmt.Sprintf(format, args...))
	}
	if len(data) > MaxEventSize {
		return invalid("%d bytes; the limit is %d", len(data), MaxEventSize)
	}
	if !utf8.Valid(data) {
		return invalid("not valid UTF-8")
	}
	if b := bytes.TrimLeft(data, " \t\r\n"); len(b) == 0 || b[0] != '{' {
		return invalid("not a JSON object")
	}
	var w wireEvent
	if err := json.Unmarshal(data, &w); err != nil {
		return invalid("%v", err)
	}
	switch {
	case w.SpecVersion != SpecVersion:
		return invalid("specversion %q, want %q", w.SpecVersion, SpecVersion)
	case w.ID == "":
		return invalid("no id")
	case w.Source == "":
		return invalid("no source")
	case w.Type == "":
		return invalid("no type")
	}
	e := Event{
		SpecVersion:     w.SpecVersion,
		ID:              w.ID,
		Source:          w.Source,
		Type:            w.Type,
		Subject:         w.Subject,
		Time:            w.Time.UTC(),
		DataContentType: w.DataContentType,
		DataSchema:      w.DataSchema,
		TraceParent:     w.TraceParent,
		TraceState:      w.TraceState,
	}
	if y := e.Time.Year(); y < 0 || y > 9999 {
		return invalid("time %s out of range", w.Time)
	}
	raw := w.Data
	if string(raw) == "null" {
		raw = nil
	}
	kind, ok := KindOfEventType(w.Type)
	if !ok {
		if raw != nil {
			var buf bytes.Buffer
			if err := json.Compact(&buf, raw); err != nil {
				return invalid("data: %v", err)
			}
			e.Data = json.RawMessage(buf.Bytes())
		}
		return e, nil
	}
	if !ValidLookupKey(w.Subject) {
		return invalid("%s: subject %q is not a lookup key (a lookupId, or tenant.lookupId)", w.Type, w.Subject)
	}
	if w.DataSchema == "" {
		// Any URI is taken (an event of an earlier version names the
		// schema by another); none is not.
		return invalid("%s: no dataschema", w.Type)
	}
	if w.DataContentType != "" {
		if mt, _, err := mime.ParseMediaType(w.DataContentType); err != nil || mt != ContentTypeJSON {
			return invalid("%s: datacontenttype %q, want %s", w.Type, w.DataContentType, ContentTypeJSON)
		}
	}
	if len(raw) == 0 || raw[0] != '{' {
		return invalid("%s: data is not a JSON object", w.Type)
	}
	var err error
	switch kind {
	case KindAccepted:
		e.Data, err = decodeData[AcceptedData](raw, w.Subject)
	case KindSessionOpened:
		e.Data, err = decodeData[SessionOpenedData](raw, w.Subject)
	case KindCompleted:
		var d CompletedData
		d, err = decodeData[CompletedData](raw, w.Subject)
		// Empty lists decode as none, as they encode (absent).
		if len(d.OmittedExpands) == 0 {
			d.OmittedExpands = nil
		}
		if d.Summary != nil {
			d.Summary.normalize()
		}
		e.Data = d
	case KindFailed:
		e.Data, err = decodeData[FailedData](raw, w.Subject)
	case KindErased:
		var d ErasedData
		d, err = decodeData[ErasedData](raw, w.Subject)
		d.ErasedAt = d.ErasedAt.UTC()
		e.Data = d
	case KindChanged:
		e.Data, err = decodeData[ChangedData](raw, w.Subject)
	case KindMonitor:
		var d MonitorData
		d, err = decodeData[MonitorData](raw, w.Subject)
		if d.Until != nil {
			u := d.Until.UTC()
			d.Until = &u
		}
		e.Data = d
	}
	if err != nil {
		return invalid("%s: %v", w.Type, err)
	}
	return e, nil
}

// lookupData is implemented by the pointers to the data types.
type lookupData[T any] interface {
	*T
	common() (tenant, lookupID string, metadata *json.RawMessage)
}

func (d *AcceptedData) common() (string, string, *json.RawMessage) {
	return d.Tenant, d.LookupID, &d.Metadata
}
func (d *SessionOpenedData) common() (string, string, *json.RawMessage) {
	return d.Tenant, d.LookupID, &d.Metadata
}
func (d *CompletedData) common() (string, string, *json.RawMessage) {
	return d.Tenant, d.LookupID, &d.Metadata
}
func (d *FailedData) common() (string, string, *json.RawMessage) {
	return d.Tenant, d.LookupID, &d.Metadata
}

// common of ErasedData: it has no metadata.
func (d *ErasedData) common() (string, string, *json.RawMessage) {
	var none json.RawMessage
	return d.Tenant, d.LookupID, &none
}

// decodeData decodes the data of a lookup event leniently: its lookupId
// must be the subject and its metadata an object; the rest is taken as is.
func decodeData[T any, P lookupData[T]](raw json.RawMessage, subject string) (T, error) {
	var d T
	if err := json.Unmarshal(raw, P(&d)); err != nil {
		return d, fmt.Errorf("data: %w", err)
	}
	tenant, id, metadata := P(&d).common()
	if wantTenant, wantID, _ := SplitLookupKey(subject); tenant != wantTenant || id != wantID {
		return d, fmt.Errorf("data lookupId %q of tenant %q is not the subject %q", id, tenant, subject)
	}
	return d, normalizeMetadata(metadata)
}
