package amlapi

// This file, with the model_*.go files beside it, is THE ONE PLACE for every
// wire detail of the BankID AML API that the public material does not confirm
// (see ../shared/aml-api.md, "Our model"). A user holding the real API
// reference corrects the client here, in one edit; the sandbox
// (internal/sandbox) implements exactly what is written here, so both move
// together. This file holds the paths and the session model; the create call
// is in model_create.go, OAuth2 and access rights in model_access.go, and the
// webhooks, error bodies and timestamps in model_webhook.go, model_errors.go
// and model_time.go.
//
// Confirmed facts (paths of the create calls, the OAuth2 flow, scopes, entity
// statuses NOT_STARTED/IN_PROGRESS/READY, webhook event names, the 2-hour
// lifetime) are marked "confirmed"; everything else is "model".

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

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
	// Guessed: the answer listed it READY without a link, and Link is our
	// ContentLink (the model's guess of the path), not the API's.
	Guessed bool `json:"-"`
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

// ---- Result documents: the guide's fields, our names (model) ----
//
// The organization guide lists the fields of each block in words; the JSON
// names below are our guesses for them, and the types in document_*.go use
// exactly these (a user holding the reference corrects the tag there and
// the name here). "guide" marks a name the guide spells this way; every
// other name is the guide's words in camel case, or our choice where the
// guide gives none. Each older name stays readable, so that a document in
// the older model's shape still decodes.
//
//	keyInformation.lei                          guide (an expand: keyInformation.lei)
//	keyInformation.institutionalSector          {code, description}; older: sectors (a list)
//	keyInformation.industrySector               {code, description} (NACE); older: sectors[0]
//	financials.keyFigures.shareCapital          number
//	financials.keyFigures.currency              our choice
//	financials.keyFigures.accountingYears       [{year, currency, turnover, operatingProfit, equity, earnings}]
//	financials.keyFigures.sources               [source] (name or {name, ...})
//	                                            older: year, equityRatio, profitMargin, returnOnAssets, revenueGrowth
//	ownership.indicators.*                      numbers: complexOwnership, foreignOwnership (percent),
//	                                            publiclyListed (1/0), ownershipLayers,
//	                                            beneficialOwnersUnknown (percent); older: booleans (1/0)
//	roles[].type                                CEO, CHAIRMAN, DEPUTY_CHAIRMAN, BOARD_MEMBER, DEPUTY_BOARD_MEMBER,
//	                                            AUDITOR, ACCOUNTANT, COMPANY_SECRETARY,
//	                                            REPRESENTATIVE_FOREIGN_ENTITY, TRUSTEE (GuideRoles); OWNER extra
//	sanction.message                            guide; on a hit and on no hit
//	sanction.matches[].aliasList                guide; older: aliases
//	sanction.matches[].matchIndicatorDescription guide
//	sanction.matches[].address                  guide; an Address
//	links.reports.<type>                        guide; a link, or an object with a link
//	links.expires                               our choice: until when the data and reports can be read
//	beneficialOwners[].identificationNumber     guide (expand identificationNumber, or ssn); older: ssn

// Content types of the links (model).
const (
	ContentTypeJSON = "application/json"
	ContentTypePDF  = "application/pdf"
)
