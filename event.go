package kybflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
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
	// Every $id names the file's own path in the repository on its main
	// branch (SchemaFile maps one back), so it resolves where the code
	// is: docs/schemas holds the v1 schemas, which change only
	// compatibly; an incompatible change gets docs/schemas/v2/ (and .v2
	// event types), never new meanings under these URIs. The open variants
	// are under SchemaBaseURI + "open/".
	SchemaBaseURI = "https://raw.githubusercontent.com/kybflow/kybflow/main/" + SchemaDir + "/"
	// SchemaDir is where the schemas are in the repository.
	SchemaDir = "docs/schemas"
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
	KindChanged       Kind = "changed"        // a monitor's run found its JSON changed since the previous run; data: ChangedData
	KindMonitor       Kind = "monitor"        // a monitor command was applied or rejected, or the monitor ended; data: MonitorData
)

// Kinds returns every kind, in lifecycle order.
func Kinds() []Kind {
	return []Kind{KindAccepted, KindSessionOpened, KindChanged, KindCompleted, KindFailed, KindErased, KindMonitor}
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

// SchemaFile is the path in the repository (under SchemaDir, with '/'
// separators) of the schema whose $id is uri, and false when uri is not
// the $id of a schema of this repository (a $ref's fragment is ignored).
// The schemas' $ids and the events' dataschema are such URIs.
func SchemaFile(uri string) (string, bool) {
	uri, _, _ = strings.Cut(uri, "#")
	rel, ok := strings.CutPrefix(uri, SchemaBaseURI)
	if !ok || rel == "" || strings.Contains(rel, "..") || strings.HasPrefix(rel, "/") {
		return "", false
	}
	return SchemaDir + "/" + rel, true
}

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
	// Data is AcceptedData, SessionOpenedData, CompletedData, FailedData,
	// ErasedData, ChangedData or MonitorData for the kinds of this package
	// (a monitor event's Subject is the monitor's key); DecodeEvent leaves the
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
	case AcceptedData, SessionOpenedData, CompletedData, FailedData, ErasedData, ChangedData, MonitorData:
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
	Tenant         string          `json:"tenant,omitempty"`
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
	// Monitor links a monitor's run to its monitor (monitor.go).
	Monitor *MonitorRun `json:"monitor,omitempty"`
}

// SessionOpenedData is the data of a session_opened event.
type SessionOpenedData struct {
	LookupID       string          `json:"lookupId"`
	Tenant         string          `json:"tenant,omitempty"`
	CorrelationID  string          `json:"correlationId,omitempty"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
	SessionID      string          `json:"sessionId"`
	Type           LookupType      `json:"type"`
	Country        Country         `json:"country"`
	IdentifierType IdentifierType  `json:"identifierType"`
	Identifier     string          `json:"identifier"`
	// Monitor links a monitor's run to its monitor (monitor.go).
	Monitor *MonitorRun `json:"monitor,omitempty"`
}

// CompletedData is the data of a completed event: where each result was
// stored.
type CompletedData struct {
	LookupID       string          `json:"lookupId"`
	Tenant         string          `json:"tenant,omitempty"`
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
	// MissingReports are wanted reports (asked for, or listed by the
	// session) that did not appear while the results could be read: the
	// lookup completed without them. Sorted; absent when none.
	MissingReports []ReportType `json:"missingReports,omitempty"`
	// Summary is what the JSON result says, without personal data.
	Summary *Summary `json:"summary,omitempty"`
	// Monitor links a monitor's run to its monitor (monitor.go).
	Monitor *MonitorRun `json:"monitor,omitempty"`
}

// FailedData is the data of a failed event.
type FailedData struct {
	LookupID      string          `json:"lookupId"`
	Tenant        string          `json:"tenant,omitempty"`
	CorrelationID string          `json:"correlationId,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
	SessionID     string          `json:"sessionId,omitempty"` // when a session was opened
	Code          FailureCode     `json:"code"`
	Reason        string          `json:"reason"` // readable; at most MaxReasonLength characters
	// Retryable says whether sending the command again, with a new
	// lookupId, may succeed.
	Retryable bool `json:"retryable"`
	// Monitor links a monitor's run to its monitor (monitor.go).
	Monitor *MonitorRun `json:"monitor,omitempty"`
}

// ErasedData is the data of an erased event: the personal data of a
// lookup was erased (its stored objects, its other events, its state
// record), and downstream services that keep copies should erase theirs.
// It holds nothing about the lookup but its lookupId (and tenant): not the
// correlationId, which the caller chose and may be personal (a service
// that knows a lookup by its correlationId finds it by lookupId in its own
// copies), never the metadata, the identifier or results. An erased event
// published by an earlier version may carry a correlationId; it is not
// read.
type ErasedData struct {
	LookupID string `json:"lookupId"`
	Tenant   string `json:"tenant,omitempty"`
	// ErasedAt is when the erasure began (in UTC); the event's time too.
	ErasedAt time.Time `json:"erasedAt"`
}

// AcceptedData is the data of the accepted event of c.
func (c LookupCommand) AcceptedData() AcceptedData {
	return AcceptedData{
		LookupID: c.LookupID, Tenant: c.Tenant, CorrelationID: c.CorrelationID, Metadata: c.Metadata,
		Type: c.Type, Country: c.Country, IdentifierType: c.IdentifierType, Identifier: c.Identifier,
		Expands: c.Expands, Reports: c.Reports, Language: c.Language, Monitor: c.Monitor,
	}
}

// SessionOpenedData is the data of the session_opened event of c.
func (c LookupCommand) SessionOpenedData(sessionID string) SessionOpenedData {
	return SessionOpenedData{
		LookupID: c.LookupID, Tenant: c.Tenant, CorrelationID: c.CorrelationID, Metadata: c.Metadata, SessionID: sessionID,
		Type: c.Type, Country: c.Country, IdentifierType: c.IdentifierType, Identifier: c.Identifier, Monitor: c.Monitor,
	}
}

// CompletedData is the data of the completed event of c.
func (c LookupCommand) CompletedData(sessionID string, artifacts []Artifact) CompletedData {
	return CompletedData{
		LookupID: c.LookupID, Tenant: c.Tenant, CorrelationID: c.CorrelationID, Metadata: c.Metadata, SessionID: sessionID,
		Type: c.Type, Country: c.Country, IdentifierType: c.IdentifierType, Identifier: c.Identifier,
		Artifacts: artifacts, Monitor: c.Monitor,
	}
}

// FailedData is the data of a failed event of c, with code's default
// Retryable. Set SessionID when a session was opened.
func (c LookupCommand) FailedData(code FailureCode, reason string) FailedData {
	return FailedData{
		LookupID: c.LookupID, Tenant: c.Tenant, CorrelationID: c.CorrelationID, Metadata: c.Metadata,
		Code: code, Reason: reason, Retryable: code.Retryable(), Monitor: c.Monitor,
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

// LogValue logs the lookupId and erasedAt.
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
