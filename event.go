package kybflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kybflow/kybflow/identifier"
)

// CloudEvents constants.
const (
	// SpecVersion is the CloudEvents version of every event.
	SpecVersion = "1.0"
	// DefaultSource is the event source when none is configured.
	DefaultSource = "urn:kybflow:worker"
	// ContentTypeJSON is the datacontenttype of every event.
	ContentTypeJSON = "application/json"
	// ContentTypeCloudEvents is the Content-Type header of a published
	// event (CloudEvents structured mode).
	ContentTypeCloudEvents = "application/cloudevents+json"
	// HeaderTraceparent and HeaderTracestate are the W3C Trace Context
	// NATS headers: on a command, the worker continues its trace; on an
	// event, they are its traceparent and tracestate attributes.
	HeaderTraceparent = "traceparent"
	HeaderTracestate  = "tracestate"
	// EventTypePrefix and EventTypeSuffix frame the kind in an event
	// type: io.kybflow.aml.lookup.<kind>.v1. The suffix is the version of
	// the data's schema; an incompatible change gets a new one.
	EventTypePrefix = "io.kybflow.aml.lookup."
	EventTypeSuffix = ".v1"
	// SchemaBaseURI is the base of the $id of the schemas in docs/schemas;
	// an event's dataschema is SchemaBaseURI + "<kind>.data.schema.json".
	// It names the tag schemas-v1, not a branch, so that the URIs do not
	// move with main: the tag is moved only for compatible changes of the
	// v1 schemas, and an incompatible change gets schemas-v2 (and .v2
	// event types). The open variants are under SchemaBaseURI + "open/".
	SchemaBaseURI = "https://raw.githubusercontent.com/kybflow/kybflow/schemas-v1/docs/schemas/"
)

// More limits (see also command.go).
const (
	// MaxEventSize is the largest event DecodeEvent accepts (the default
	// NATS max_payload).
	MaxEventSize = 1 << 20
	// MaxReasonLength is the longest FailedData.Reason; NewEvent cuts a
	// longer one.
	MaxReasonLength = 1024
	// MaxSessionIDLength is the longest session id.
	MaxSessionIDLength = 256
)

// ErrInvalidEvent is wrapped by every error of NewEvent and DecodeEvent.
var ErrInvalidEvent = errors.New("invalid event")

// Kind is the kind of a lookup event, the last token of its subject.
type Kind string

// The kinds, in the order a lookup goes through them. Every lookup ends
// with exactly one terminal event: completed or failed. Erased is not a
// terminal event: an operator publishes it (amlctl erase) after the
// lookup's personal data was erased, usually long after its terminal
// event, and instead of one for a lookup erased while it was in flight.
const (
	KindAccepted      Kind = "accepted"       // the command is valid; data: AcceptedData
	KindSessionOpened Kind = "session_opened" // the AML session exists; data: SessionOpenedData
	KindCompleted     Kind = "completed"      // every artifact is stored; data: CompletedData
	KindFailed        Kind = "failed"         // the lookup ended without results; data: FailedData
	KindErased        Kind = "erased"         // the lookup's personal data was erased; data: ErasedData
)

// Kinds returns every kind, in lifecycle order.
func Kinds() []Kind {
	return []Kind{KindAccepted, KindSessionOpened, KindCompleted, KindFailed, KindErased}
}

// Known reports whether k is one of Kinds.
func (k Kind) Known() bool { return slices.Contains(Kinds(), k) }

// Terminal reports whether k ends a lookup: completed or failed (not
// erased, which comes after the ending).
func (k Kind) Terminal() bool { return k == KindCompleted || k == KindFailed }

// EventType is the CloudEvents type of kind k, e.g.
// io.kybflow.aml.lookup.completed.v1.
func (k Kind) EventType() string { return EventTypePrefix + string(k) + EventTypeSuffix }

// DataSchema is the dataschema URI of kind k, the $id of
// docs/schemas/<kind>.data.schema.json.
func (k Kind) DataSchema() string { return SchemaBaseURI + string(k) + ".data.schema.json" }

// KindOfEventType returns the kind of a CloudEvents type, and false when
// the type is not a (known) lookup event type.
func KindOfEventType(t string) (Kind, bool) {
	s, ok := strings.CutPrefix(t, EventTypePrefix)
	if !ok {
		return "", false
	}
	s, ok = strings.CutSuffix(s, EventTypeSuffix)
	if k := Kind(s); ok && k.Known() {
		return k, true
	}
	return "", false
}

// EventID is the id of the event of kind for a lookup: "<lookupId>.<kind>".
// It is stable, so a worker that publishes the same event twice (after a
// crash or redelivery) publishes the same id, and JetStream drops the copy
// when it is also the Nats-Msg-Id. Consumers treat ids as opaque.
func EventID(lookupID string, kind Kind) string { return lookupID + "." + string(kind) }

// Event is a CloudEvents 1.0 event in structured JSON mode.
type Event struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Subject         string    `json:"subject,omitempty"` // the lookupId
	Time            time.Time `json:"time,omitzero"`
	DataContentType string    `json:"datacontenttype,omitempty"`
	DataSchema      string    `json:"dataschema,omitempty"`
	// TraceParent and TraceState are the CloudEvents distributed tracing
	// extension: the W3C Trace Context of the lookup's trace where the
	// event was published (the same traceparent is the message's NATS
	// header). Absent when the worker does not trace.
	TraceParent string `json:"traceparent,omitempty"`
	TraceState  string `json:"tracestate,omitempty"`
	// Data is AcceptedData, SessionOpenedData, CompletedData, FailedData
	// or ErasedData for the kinds of this package; DecodeEvent leaves the
	// data of other types as json.RawMessage.
	Data any `json:"data,omitempty"`
}

// Kind is the kind of e, and "" when e is not a known lookup event.
func (e Event) Kind() Kind {
	k, _ := KindOfEventType(e.Type)
	return k
}

// LogValue logs the envelope and the data's own LogValue, which leaves out
// correlationId and metadata.
func (e Event) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("id", e.ID),
		slog.String("type", e.Type),
		slog.String("subject", e.Subject),
		slog.Time("time", e.Time),
	}
	switch d := e.Data.(type) {
	case nil:
	case AcceptedData, SessionOpenedData, CompletedData, FailedData, ErasedData:
		attrs = append(attrs, slog.Any("data", d))
	case json.RawMessage:
		attrs = append(attrs, slog.Int("dataBytes", len(d)))
	default:
		attrs = append(attrs, slog.String("dataType", fmt.Sprintf("%T", d)))
	}
	return slog.GroupValue(attrs...)
}

// AcceptedData is the data of an accepted event: the lookup as the worker
// understood it (normalised identifier, defaults filled in).
type AcceptedData struct {
	LookupID       string          `json:"lookupId"`
	CorrelationID  string          `json:"correlationId,omitempty"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
	Type           LookupType      `json:"type"`
	Country        Country         `json:"country"`
	IdentifierType IdentifierType  `json:"identifierType"`
	Identifier     string          `json:"identifier"`
	// Expands, Reports and Language are the command's, normalised (absent
	// when it had none), so that the accepted event describes the whole
	// lookup: a resubmission is compared with it (Client.Submit).
	Expands  []string     `json:"expands,omitempty"`
	Reports  []ReportType `json:"reports,omitempty"`
	Language string       `json:"language,omitempty"`
}

// SessionOpenedData is the data of a session_opened event.
type SessionOpenedData struct {
	LookupID       string          `json:"lookupId"`
	CorrelationID  string          `json:"correlationId,omitempty"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
	SessionID      string          `json:"sessionId"`
	Type           LookupType      `json:"type"`
	Country        Country         `json:"country"`
	IdentifierType IdentifierType  `json:"identifierType"`
	Identifier     string          `json:"identifier"`
}

// CompletedData is the data of a completed event: where each result was
// stored.
type CompletedData struct {
	LookupID       string          `json:"lookupId"`
	CorrelationID  string          `json:"correlationId,omitempty"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
	SessionID      string          `json:"sessionId"`
	Type           LookupType      `json:"type"`
	Country        Country         `json:"country"`
	IdentifierType IdentifierType  `json:"identifierType"`
	Identifier     string          `json:"identifier"`
	Artifacts      []Artifact      `json:"artifacts"`
	// OmittedExpands are requested expands the API left out of the result
	// for lack of access (beneficial owners lookups without National
	// Registry access: citizenship, birthplace, ssn). Absent when none.
	OmittedExpands []string `json:"omittedExpands,omitempty"`
}

// FailedData is the data of a failed event.
type FailedData struct {
	LookupID      string          `json:"lookupId"`
	CorrelationID string          `json:"correlationId,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
	SessionID     string          `json:"sessionId,omitempty"` // when a session was opened
	Code          FailureCode     `json:"code"`
	Reason        string          `json:"reason"` // readable; at most MaxReasonLength characters
	// Retryable says whether sending the command again, with a new
	// lookupId, may succeed.
	Retryable bool `json:"retryable"`
}

// ErasedData is the data of an erased event: the personal data of a
// lookup was erased (its stored objects, its other events, its state
// record), and downstream services that keep copies should erase theirs.
// It holds nothing about the lookup but its lookupId and the caller's
// correlationId (the key the caller may know the lookup by), never the
// metadata, the identifier or results.
type ErasedData struct {
	LookupID      string `json:"lookupId"`
	CorrelationID string `json:"correlationId,omitempty"`
	// ErasedAt is when the erasure began (in UTC); the event's time too.
	ErasedAt time.Time `json:"erasedAt"`
}

// AcceptedData is the data of the accepted event of c.
func (c LookupCommand) AcceptedData() AcceptedData {
	return AcceptedData{
		LookupID: c.LookupID, CorrelationID: c.CorrelationID, Metadata: c.Metadata,
		Type: c.Type, Country: c.Country, IdentifierType: c.IdentifierType, Identifier: c.Identifier,
		Expands: c.Expands, Reports: c.Reports, Language: c.Language,
	}
}

// SessionOpenedData is the data of the session_opened event of c.
func (c LookupCommand) SessionOpenedData(sessionID string) SessionOpenedData {
	return SessionOpenedData{
		LookupID: c.LookupID, CorrelationID: c.CorrelationID, Metadata: c.Metadata, SessionID: sessionID,
		Type: c.Type, Country: c.Country, IdentifierType: c.IdentifierType, Identifier: c.Identifier,
	}
}

// CompletedData is the data of the completed event of c.
func (c LookupCommand) CompletedData(sessionID string, artifacts []Artifact) CompletedData {
	return CompletedData{
		LookupID: c.LookupID, CorrelationID: c.CorrelationID, Metadata: c.Metadata, SessionID: sessionID,
		Type: c.Type, Country: c.Country, IdentifierType: c.IdentifierType, Identifier: c.Identifier,
		Artifacts: artifacts,
	}
}

// FailedData is the data of a failed event of c, with code's default
// Retryable. Set SessionID when a session was opened.
func (c LookupCommand) FailedData(code FailureCode, reason string) FailedData {
	return FailedData{
		LookupID: c.LookupID, CorrelationID: c.CorrelationID, Metadata: c.Metadata,
		Code: code, Reason: reason, Retryable: code.Retryable(),
	}
}

// LogValue leaves out CorrelationID and Metadata.
func (d AcceptedData) LogValue() slog.Value {
	return slog.GroupValue(lookupAttrs(d.LookupID, "", d.Type, d.Country, d.IdentifierType, d.Identifier)...)
}

// LogValue leaves out CorrelationID and Metadata.
func (d SessionOpenedData) LogValue() slog.Value {
	return slog.GroupValue(lookupAttrs(d.LookupID, d.SessionID, d.Type, d.Country, d.IdentifierType, d.Identifier)...)
}

// LogValue leaves out CorrelationID and Metadata, and logs artifact names.
func (d CompletedData) LogValue() slog.Value {
	names := make([]string, len(d.Artifacts))
	for i, a := range d.Artifacts {
		names[i] = a.Name
	}
	attrs := lookupAttrs(d.LookupID, d.SessionID, d.Type, d.Country, d.IdentifierType, d.Identifier)
	return slog.GroupValue(append(attrs, slog.Any("artifacts", names))...)
}

// LogValue leaves out CorrelationID and Metadata, and the reason of an
// invalid_identifier failure (it quotes the value, which might be a
// personal number typed by mistake).
func (d FailedData) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("lookupId", d.LookupID)}
	if d.SessionID != "" {
		attrs = append(attrs, slog.String("sessionId", d.SessionID))
	}
	attrs = append(attrs, slog.String("code", string(d.Code)), slog.Bool("retryable", d.Retryable))
	if d.Code != CodeInvalidIdentifier {
		attrs = append(attrs, slog.String("reason", d.Reason))
	}
	return slog.GroupValue(attrs...)
}

// LogValue leaves out CorrelationID.
func (d ErasedData) LogValue() slog.Value {
	return slog.GroupValue(slog.String("lookupId", d.LookupID), slog.Time("erasedAt", d.ErasedAt))
}

func lookupAttrs(lookupID, sessionID string, t LookupType, c Country, it IdentifierType, id string) []slog.Attr {
	attrs := []slog.Attr{slog.String("lookupId", lookupID)}
	if sessionID != "" {
		attrs = append(attrs, slog.String("sessionId", sessionID))
	}
	return append(attrs,
		slog.String("type", string(t)), slog.String("country", string(c)),
		slog.String("identifierType", string(it)), slog.String("identifier", id))
}

// sourcePattern is what NewEvent accepts as source: an absolute URI of
// printable ASCII (the same pattern as event.schema.json).
var sourcePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:[!-~]+$`)

// NewEvent builds the event of kind for a lookup, published by source (a
// URI such as DefaultSource) at t. data must be the data type of kind (a
// value or a pointer) for the same lookupId, valid and complete: NewEvent
// checks everything docs/schemas checks, so that what it returns always
// validates. It sets ID to EventID, Subject to lookupID, Time to t in UTC,
// DataSchema to kind.DataSchema, compacts the metadata and cuts a reason
// longer than MaxReasonLength.
func NewEvent(source string, kind Kind, lookupID string, t time.Time, data any) (Event, error) {
	invalid := func(format string, args ...any) (Event, error) {
		return Event{}, fmt.Errorf("%w: %s %s: %s", ErrInvalidEvent, kind, lookupID, fmt.Sprintf(format, args...))
	}
	if !kind.Known() {
		return invalid("unknown kind %q", kind)
	}
	if !sourcePattern.MatchString(source) {
		return invalid("source %q is not an absolute URI", source)
	}
	if !ValidLookupID(lookupID) {
		return invalid("invalid lookupId")
	}
	if t.IsZero() {
		return invalid("no time")
	}
	t = t.UTC()
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
		Data:            d,
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
			checkCommon(lookupID, d.LookupID, d.CorrelationID, &d.Metadata),
			checkLookup(d.Type, d.Country, d.IdentifierType, d.Identifier))
		return d, err
	case SessionOpenedData:
		if kind != KindSessionOpened {
			break
		}
		err := errors.Join(
			checkCommon(lookupID, d.LookupID, d.CorrelationID, &d.Metadata),
			checkSessionID(d.SessionID, true),
			checkLookup(d.Type, d.Country, d.IdentifierType, d.Identifier))
		return d, err
	case CompletedData:
		if kind != KindCompleted {
			break
		}
		errs := []error{
			checkCommon(lookupID, d.LookupID, d.CorrelationID, &d.Metadata),
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
		return d, errors.Join(errs...)
	case FailedData:
		if kind != KindFailed {
			break
		}
		errs := []error{
			checkCommon(lookupID, d.LookupID, d.CorrelationID, &d.Metadata),
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
		errs := []error{checkCommon(lookupID, d.LookupID, d.CorrelationID, &noMetadata)}
		d.ErasedAt = d.ErasedAt.UTC()
		if d.ErasedAt.IsZero() {
			errs = append(errs, errors.New("no erasedAt"))
		} else if y := d.ErasedAt.Year(); y < 1 || y > 9999 {
			errs = append(errs, fmt.Errorf("erasedAt %s out of range", d.ErasedAt))
		}
		return d, errors.Join(errs...)
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
	default:
		return data
	}
	return nil
}

func checkCommon(want, lookupID, correlationID string, metadata *json.RawMessage) error {
	var errs []error
	if lookupID != want {
		errs = append(errs, fmt.Errorf("data lookupId %q is not the event's", lookupID))
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

// normalizeMetadata makes *m compact JSON, or nil for absent or null, and
// fails when it is not a JSON object.
func normalizeMetadata(m *json.RawMessage) error {
	if len(*m) == 0 || string(bytes.TrimSpace(*m)) == "null" {
		*m = nil
		return nil
	}
	c, err := compactObject(*m)
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

// EncodeEvent encodes e as CloudEvents structured JSON, without escaping
// <, > and &, so metadata is echoed byte for byte.
func EncodeEvent(e Event) ([]byte, error) {
	b, err := marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	return b, nil
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
// lookup event types of this package, that the subject is a lookupId and
// the data an object of the kind's data type with the same lookupId. It is
// tolerant otherwise: it ignores unknown attributes and fields and accepts
// unknown enum values (failure codes, countries, ...), so that a consumer
// keeps working when the contract grows. The data of an unknown event type
// is returned as json.RawMessage. Times are returned in UTC and metadata
// compacted.
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
	if !ValidLookupID(w.Subject) {
		return invalid("%s: subject %q is not a lookupId", w.Type, w.Subject)
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
		e.Data, err = decodeData[CompletedData](raw, w.Subject)
	case KindFailed:
		e.Data, err = decodeData[FailedData](raw, w.Subject)
	case KindErased:
		var d ErasedData
		d, err = decodeData[ErasedData](raw, w.Subject)
		d.ErasedAt = d.ErasedAt.UTC()
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
	common() (lookupID string, metadata *json.RawMessage)
}

func (d *AcceptedData) common() (string, *json.RawMessage)      { return d.LookupID, &d.Metadata }
func (d *SessionOpenedData) common() (string, *json.RawMessage) { return d.LookupID, &d.Metadata }
func (d *CompletedData) common() (string, *json.RawMessage)     { return d.LookupID, &d.Metadata }
func (d *FailedData) common() (string, *json.RawMessage)        { return d.LookupID, &d.Metadata }

// common of ErasedData: it has no metadata.
func (d *ErasedData) common() (string, *json.RawMessage) {
	var none json.RawMessage
	return d.LookupID, &none
}

// decodeData decodes the data of a lookup event leniently: its lookupId
// must be the subject and its metadata an object; the rest is taken as is.
func decodeData[T any, P lookupData[T]](raw json.RawMessage, subject string) (T, error) {
	var d T
	if err := json.Unmarshal(raw, P(&d)); err != nil {
		return d, fmt.Errorf("data: %w", err)
	}
	id, metadata := P(&d).common()
	if id != subject {
		return d, fmt.Errorf("data lookupId %q is not the subject %q", id, subject)
	}
	return d, normalizeMetadata(metadata)
}
