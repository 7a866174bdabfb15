package amlapi

// This file is THE ONE PLACE for every wire detail of the BankID AML API that
// the public material does not confirm (see ../shared/aml-api.md, "Our
// model"). A user holding the real API reference corrects the client here, in
// one edit; the sandbox (internal/sandbox) implements exactly what is written
// here, so both move together.
//
// Confirmed facts (paths of the create calls, the OAuth2 flow, scopes, entity
// statuses NOT_STARTED/IN_PROGRESS/READY, webhook event names, the 2-hour
// lifetime) are marked "confirmed"; everything else is "model".

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ---- OAuth2 / OIDC (confirmed) ----

// WellKnownPath is appended to the issuer URL to discover the token endpoint.
const WellKnownPath = "/.well-known/openid-configuration"

// TokenPath is the token endpoint below a Keycloak-style issuer; used by the
// sandbox, and by the client only as documentation (it discovers the URL).
const TokenPath = "/protocol/openid-connect/token"

// DefaultTokenLifetime is the lifetime of the documented example token.
const DefaultTokenLifetime = 300 * time.Second

// Scopes (confirmed).
const (
	ScopeBasic            = "aml_organization/basic"
	ScopeOFAC             = "aml_organization/OFAC"
	ScopeFinancialsCredit = "aml_organization/financials.credit"
)

// Discovery is the part of the OpenID configuration document we read.
type Discovery struct {
	Issuer        string `json:"issuer"`
	TokenEndpoint string `json:"token_endpoint"`
}

// ---- Paths ----

// Country is an organization session country (confirmed: no, se, fi).
type Country string

// The countries with an organization session API.
const (
	NO Country = "NO"
	SE Country = "SE"
	FI Country = "FI"
)

// Valid reports whether c is one of NO, SE, FI.
func (c Country) Valid() bool { return c == NO || c == SE || c == FI }

// Kind is the kind of a session: organization or beneficial owners.
type Kind string

// The session kinds.
const (
	KindOrganization Kind = "organization"
	KindBeneficial   Kind = "beneficial"
)

// CreateOrganizationPath is the create path for an organization session in
// country c (confirmed): /organization/session/no, /se, /fi.
func CreateOrganizationPath(c Country) string {
	return "/organization/session/" + strings.ToLower(string(c))
}

// CreateBeneficialPath is the create path of a beneficial owners session
// (confirmed, with its trailing slash).
const CreateBeneficialPath = "/beneficial/session/"

// SessionPath is the GET session-information path of a session (model).
func SessionPath(k Kind, sessionID string) string {
	return "/" + string(k) + "/session/" + url.PathEscape(sessionID)
}

// JSONLinkPath and ReportLinkPath are where the sandbox's links point (model).
// The client never builds links: it follows the ones the session gives.
func JSONLinkPath(k Kind, sessionID string) string {
	return SessionPath(k, sessionID) + "/json"
}

// ReportLinkPath: see JSONLinkPath.
func ReportLinkPath(k Kind, sessionID string, r ReportType) string {
	return SessionPath(k, sessionID) + "/report/" + url.PathEscape(string(r))
}

// AccessRightsPath answers whether we have National Registry access (model).
const AccessRightsPath = "/accessrights"

// ---- Create session (model body; confirmed parameters) ----

// ReportType names a PDF report. Unknown values are tolerated.
type ReportType string

// Report types (confirmed names).
const (
	ReportAML                        ReportType = "aml"
	ReportCertificateOfIncorporation ReportType = "certificate_of_incorporation"
)

// BeneficialReport is the report type under which a beneficial owners
// session lists its PDF report (model). The guide gives the result as the
// JSON and "the PDF report", with no parameter to choose reports
// (confirmed): every beneficial owners session makes it, asked or not.
const BeneficialReport = ReportAML

// ReportExpand is the expand value that also requests report r (confirmed:
// links.reports.aml, links.reports.certificate_of_incorporation). The model
// sends reports in CreateSessionRequest.Reports; the sandbox honours both.
func ReportExpand(r ReportType) string { return "links.reports." + string(r) }

// CreateSessionRequest is the JSON body of a create call (model).
type CreateSessionRequest struct {
	Identifier string `json:"identifier"`
	// IdentifierType says the identifier is a DUNS number
	// (IdentifierTypeDUNS); absent means the organization number of the
	// endpoint's country. The API takes either (confirmed), and 9 digits
	// cannot tell them apart; how it is told is our model. The client sets
	// it from CreateOptions.IdentifierKind.
	IdentifierType string               `json:"identifierType,omitempty"`
	Expands        []string             `json:"expands,omitempty"`
	Reports        []ReportType         `json:"reports,omitempty"`
	Language       string               `json:"language,omitempty"` // en, no, nb, nn
	Webhook        *WebhookSubscription `json:"webhook,omitempty"`
}

// IdentifierTypeDUNS is CreateSessionRequest.IdentifierType for a DUNS
// number (model).
const IdentifierTypeDUNS = "DUNS"

// WebhookSubscription chooses where, and for which events, the API calls
// back for one session (model). No events means all of them.
type WebhookSubscription struct {
	URL    string         `json:"url"`
	Events []WebhookEvent `json:"events,omitempty"`
}

// Languages accepted in CreateSessionRequest.Language (model).
var Languages = []string{"en", "no", "nb", "nn"}

// SessionCreated is the 201 answer to a create call (model; also a Location
// header pointing at SessionPath).
type SessionCreated struct {
	SessionID string `json:"sessionId"`
}

// Organization expands (confirmed block names; model spelling). A parent
// expand includes its children, except those that need an extra scope.
var OrganizationExpands = []string{
	"address",
	"financials", "financials.accounting", "financials.keyFigures", "financials.auditor", "financials.accountant",
	"financials.credit",
	"ownership", "ownership.beneficials", "ownership.subsidiaries", "ownership.shareholders", "ownership.indicators",
	"authorities", "roles",
	"sanction", "sanction.ofac",
	"links.reports.aml", "links.reports.certificate_of_incorporation",
}

// Beneficial owners expands (confirmed): each needs National Registry access.
var BeneficialExpands = []string{"citizenship", "birthplace", "ssn"}

// RequiredScope is the scope an expand needs beyond ScopeBasic (model:
// sanction.ofac needs OFAC, financials.credit needs financials.credit), or
// "" when ScopeBasic suffices.
func RequiredScope(expand string) string {
	switch expand {
	case "sanction.ofac":
		return ScopeOFAC
	case "financials.credit":
		return ScopeFinancialsCredit
	}
	return ""
}

// ---- Session information (model shape; confirmed statuses) ----

// SessionStatus is the overall status of a session. Unknown values are
// tolerated: treat them as still in progress.
type SessionStatus string

// Session statuses (model).
const (
	SessionInProgress SessionStatus = "IN_PROGRESS"
	SessionDone       SessionStatus = "DONE"
	SessionFailed     SessionStatus = "FAILED"
)

// EntityStatus is the status of one result entity (the JSON or a report).
// Unknown values are tolerated: treat them as not ready.
type EntityStatus string

// Entity statuses: NOT_STARTED, IN_PROGRESS, READY are confirmed; FAILED and
// EXPIRED are model.
const (
	EntityNotStarted EntityStatus = "NOT_STARTED"
	EntityInProgress EntityStatus = "IN_PROGRESS"
	EntityReady      EntityStatus = "READY"
	EntityFailed     EntityStatus = "FAILED"
	EntityExpired    EntityStatus = "EXPIRED"
)

// Entity is one downloadable result of a session.
type Entity struct {
	Status  EntityStatus `json:"status"`
	Link    string       `json:"link,omitempty"`    // set when READY (model); else see ContentLink
	Expires *Time        `json:"expires,omitempty"` // set when READY: ready time + Lifetime (model)
}

// UnmarshalJSON reads an entity in either shape: an object with status,
// link and expires (model), or a plain status string, as in the guides'
// only example (confirmed: "jsonData": "IN_PROGRESS"). Anything else (null,
// a number) is an entity of unknown status, never an error.
func (e *Entity) UnmarshalJSON(b []byte) error {
	*e = Entity{}
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		var st string
		if err := json.Unmarshal(b, &st); err == nil {
			e.Status = EntityStatus(st)
		}
	case len(b) > 0 && b[0] == '{':
		var w struct {
			Status  json.RawMessage `json:"status"`
			Link    json.RawMessage `json:"link"`
			Expires *Time           `json:"expires"`
		}
		if err := json.Unmarshal(b, &w); err != nil {
			return err
		}
		e.Status = EntityStatus(jsonString(w.Status))
		e.Link = jsonString(w.Link)
		if w.Expires != nil && (!w.Expires.IsZero() || w.Expires.Raw != "") {
			e.Expires = w.Expires // an empty or null expiry is no expiry
		}
	}
	return nil
}

// jsonString is raw as a string when it is one, else "" (null, a number).
func jsonString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// Session is the answer to GET SessionPath. Its model shape is
//
//	{"sessionId", "status", "created", "jsonData": {entity}, "reports": {"<type>": {entity}}}
//
// and the guides' example shape (confirmed, as far as it goes) is
//
//	{"jsonData": "IN_PROGRESS", "aml-report": "NOT_STARTED"}
//
// Both are read, and mixtures: an entity may be a status string or an
// object (Entity), and a report may come under "reports" or as a top-level
// "<type>-report" key (GuideReportSuffix). Unknown keys are ignored. It is
// written in the model shape.
type Session struct {
	SessionID string                `json:"sessionId"`
	Status    SessionStatus         `json:"status"`
	Created   Time                  `json:"created"`
	JSONData  Entity                `json:"jsonData"`
	Reports   map[ReportType]Entity `json:"reports,omitempty"`
}

// GuideReportSuffix ends the top-level key of a report entity in the
// guides' example shape: "aml-report", "certificate_of_incorporation-report"
// (confirmed for aml-report; the rest by analogy).
const GuideReportSuffix = "-report"

// UnmarshalJSON reads either shape (see Session). Only a body that is not a
// JSON object is an error.
func (s *Session) UnmarshalJSON(b []byte) error {
	*s = Session{}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return err
	}
	s.SessionID = jsonString(keys["sessionId"])
	s.Status = SessionStatus(jsonString(keys["status"]))
	if raw, ok := keys["created"]; ok {
		_ = s.Created.UnmarshalJSON(raw) // never fails
	}
	if raw, ok := keys["jsonData"]; ok {
		if err := s.JSONData.UnmarshalJSON(raw); err != nil {
			return fmt.Errorf("jsonData: %w", err)
		}
	}
	add := func(t ReportType, raw json.RawMessage) error {
		var e Entity
		if err := e.UnmarshalJSON(raw); err != nil {
			return fmt.Errorf("report %s: %w", t, err)
		}
		if s.Reports == nil {
			s.Reports = map[ReportType]Entity{}
		}
		s.Reports[t] = e
		return nil
	}
	if raw, ok := keys["reports"]; ok && len(raw) > 0 && raw[0] == '{' {
		var reports map[string]json.RawMessage
		if err := json.Unmarshal(raw, &reports); err != nil {
			return fmt.Errorf("reports: %w", err)
		}
		for t, r := range reports {
			if err := add(ReportType(t), r); err != nil {
				return err
			}
		}
	}
	for k, raw := range keys {
		if t, ok := strings.CutSuffix(k, GuideReportSuffix); ok && t != "" {
			if _, dup := s.Reports[ReportType(t)]; dup {
				continue // both shapes at once: "reports" wins
			}
			if err := add(ReportType(t), raw); err != nil {
				return err
			}
		}
	}
	return nil
}

// ContentLink is where an entity's content is downloaded from when the
// session lists its status but no link, as the guides' example does (model:
// the sandbox's link paths). name is "json" or a ReportType.
func ContentLink(k Kind, sessionID string, report ReportType) string {
	if report == "" {
		return JSONLinkPath(k, sessionID)
	}
	return ReportLinkPath(k, sessionID, report)
}

// Lifetime is how long a result entity can be downloaded after it becomes
// available (confirmed: 2 hours).
const Lifetime = 2 * time.Hour

// Content types of the links (model).
const (
	ContentTypeJSON = "application/json"
	ContentTypePDF  = "application/pdf"
)

// ---- Webhooks (confirmed event names; model payload and signature) ----

// WebhookEvent names a webhook event (confirmed). Unknown values are tolerated.
type WebhookEvent string

// The webhook events (confirmed).
const (
	EventJSONDataReady WebhookEvent = "JsonDataReady"
	EventReportReady   WebhookEvent = "ReportReady"
	EventAllDone       WebhookEvent = "AllDone"
	EventFailed        WebhookEvent = "Failed"
)

// AllWebhookEvents lists every event, in the order a session emits them.
var AllWebhookEvents = []WebhookEvent{EventJSONDataReady, EventReportReady, EventAllDone, EventFailed}

// Webhook is the JSON body the API POSTs to a webhook URL (model).
type Webhook struct {
	SessionID string       `json:"sessionId"`
	Event     WebhookEvent `json:"event"`
	Report    ReportType   `json:"report,omitempty"` // ReportReady only
	Timestamp Time         `json:"timestamp"`
}

// Webhook signature headers (model: the Standard Webhooks scheme). See
// webhook.go for signing and verifying.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// ---- Errors (model) ----

// ErrorBody is the JSON body of every error answer of the AML API (model).
type ErrorBody struct {
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
	TraceID      string `json:"traceId"`
}

// Error codes in ErrorBody.ErrorCode (model). The client classifies by HTTP
// status, not by these, so unknown codes are harmless.
const (
	CodeInvalidIdentifier = "INVALID_IDENTIFIER"  // 400
	CodeInvalidExpand     = "INVALID_EXPAND"      // 400
	CodeInvalidRequest    = "INVALID_REQUEST"     // 400
	CodeUnauthorized      = "UNAUTHORIZED"        // 401
	CodeForbidden         = "MISSING_SCOPE"       // 403
	CodeNotFound          = "SESSION_NOT_FOUND"   // 404
	CodeNotReady          = "RESULT_NOT_READY"    // 409: content requested before READY
	CodeGone              = "RESULT_EXPIRED"      // 410
	CodeRateLimited       = "RATE_LIMITED"        // 429, with Retry-After
	CodeInternal          = "INTERNAL_ERROR"      // 500
	CodeUnavailable       = "SERVICE_UNAVAILABLE" // 503
)

// OmittedExpands reads, from a beneficial owners JSON document, the
// expands that were requested but left out for lack of access (model: the
// document's metadata.omittedFields, e.g. ["citizenship"]). A document
// without them gives none; one that is not JSON is an error.
func OmittedExpands(doc []byte) ([]string, error) {
	var d struct {
		Metadata struct {
			OmittedFields []string `json:"omittedFields"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("read omitted expands: %w", err)
	}
	return d.Metadata.OmittedFields, nil
}

// ---- Access rights (model) ----

// NationalRegistryAccess tells whether the customer has delegated access to
// the Norwegian National Registry. Unknown values are tolerated.
type NationalRegistryAccess string

// National Registry access values (model).
const (
	AccessGranted NationalRegistryAccess = "GRANTED"
	AccessPending NationalRegistryAccess = "PENDING"
	AccessMissing NationalRegistryAccess = "MISSING"
)

// AccessRights is the answer to GET AccessRightsPath (model).
type AccessRights struct {
	NationalRegistry NationalRegistryAccess `json:"nationalRegistry"`
}

// ---- Identifiers on the wire (model) ----

// The identifier is sent in the canonical form of internal/identifier
// (Normalize): 9 digits for a Norwegian organization number or a DUNS
// number, 10 digits without the dash for a Swedish organization number, and
// NNNNNNN-C for a Finnish business ID.

// ---- Timestamps (model) ----

// Time is a timestamp of the API. Its wire format is not confirmed, so it
// reads RFC 3339 (also without a zone, taken as UTC, and with a space for
// the T) and Unix seconds or milliseconds, and it never fails: a value it
// cannot read is kept in Raw with a zero Time. An unexpected format thus
// degrades to "time unknown", never to an undecodable session or webhook.
// It is written as RFC 3339.
type Time struct {
	time.Time
	Raw string // the value as received, when it could not be read
}

// NewTime wraps t.
func NewTime(t time.Time) Time { return Time{Time: t} }

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// UnmarshalJSON reads a string or a number. It never returns an error:
// anything else (an object, an array, an unknown format) is kept in Raw.
func (t *Time) UnmarshalJSON(b []byte) error {
	*t = Time{}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			t.Raw = strings.ToValidUTF8(string(b), "\uFFFD") // kept as text: valid UTF-8, so that it encodes the same twice
			return nil                                       //nolint:nilerr // an unreadable value is kept in Raw, not an error
		}
		for _, layout := range timeLayouts {
			if v, err := time.Parse(layout, s); err == nil {
				t.Time = v
				return nil
			}
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			t.Time = unixTime(n)
			return nil
		}
		t.Raw = s
		return nil
	}
	if n, err := strconv.ParseFloat(string(b), 64); err == nil {
		t.Time = unixTime(int64(n))
		return nil
	}
	t.Raw = strings.ToValidUTF8(string(b), "\uFFFD") // kept as text: valid UTF-8, so that it encodes the same twice
	return nil
}

// unixTime reads n as Unix seconds, or milliseconds when it is too large
// to be seconds of this era.
func unixTime(n int64) time.Time {
	if n > 1e11 || n < -1e11 {
		return time.UnixMilli(n).UTC()
	}
	return time.Unix(n, 0).UTC()
}

// MarshalJSON writes RFC 3339, the raw value when the time was unreadable,
// or null when there is neither.
func (t Time) MarshalJSON() ([]byte, error) {
	switch {
	case !t.IsZero():
		return json.Marshal(t.Format(time.RFC3339Nano))
	case t.Raw != "":
		return json.Marshal(t.Raw)
	}
	return []byte("null"), nil
}
