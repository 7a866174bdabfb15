package amlapi

// This file holds the typed result documents (the JSON behind a session's
// jsonData link) and their tolerant decoders.
//
// The block names are confirmed (see ../shared/aml-api.md); the fields inside
// the blocks are our model, like everything in model.go. The decoders follow
// the API's compatibility promise: an unknown field or an unknown enum value
// never fails a decode, and a block that was requested but found nothing (an
// empty JSON node, {} or []) is kept apart from one that was not requested
// (absent or null). See Block.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strconv"
)

// Presence says whether a block of a document was requested and found.
type Presence uint8

// The presence states of a Block.
const (
	// NotRequested: the key is absent or null. The block was not expanded,
	// or (beneficial owners) our access does not cover it.
	NotRequested Presence = iota
	// Empty: the block is {} or []. It was requested and searched, and
	// nothing was found.
	Empty
	// Present: the block holds data.
	Present
)

// String returns "not requested", "empty" or "present".
func (p Presence) String() string {
	switch p {
	case NotRequested:
		return "not requested"
	case Empty:
		return "empty"
	case Present:
		return "present"
	}
	return "presence(" + strconv.Itoa(int(p)) + ")"
}

// Block is one block of a document, with its presence: Value is meaningful
// only when State is Present. The zero Block is NotRequested, and a
// NotRequested block is left out when encoded with the omitzero tag option.
type Block[T any] struct {
	State Presence
	Value T
}

// Found returns the value and true when the block is Present.
func (b Block[T]) Found() (T, bool) { return b.Value, b.State == Present }

// IsZero reports whether the block is NotRequested; encoding/json's
// omitzero uses it.
func (b Block[T]) IsZero() bool { return b.State == NotRequested }

// UnmarshalJSON decodes null as NotRequested, {} and [] as Empty, and any
// other value into Value as Present.
func (b *Block[T]) UnmarshalJSON(data []byte) error {
	switch emptyNode(data) {
	case "null":
		*b = Block[T]{}
		return nil
	case "{}", "[]":
		*b = Block[T]{State: Empty}
		return nil
	}
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*b = Block[T]{State: Present, Value: v}
	return nil
}

// MarshalJSON encodes NotRequested as null, Empty as [] when T is a slice
// and {} otherwise, and Present as Value.
func (b Block[T]) MarshalJSON() ([]byte, error) {
	switch b.State {
	case NotRequested:
		return []byte("null"), nil
	case Empty:
		if reflect.TypeFor[T]().Kind() == reflect.Slice {
			return []byte("[]"), nil
		}
		return []byte("{}"), nil
	}
	return json.Marshal(b.Value)
}

// emptyNode returns "null", "{}" or "[]" when data (one valid JSON value) is
// that, ignoring whitespace, and "" otherwise.
func emptyNode(data []byte) string {
	var b [4]byte
	n := 0
	for _, c := range data {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		if n == len(b) {
			return ""
		}
		b[n] = c
		n++
	}
	switch s := string(b[:n]); s {
	case "null", "{}", "[]":
		return s
	}
	return ""
}

// redacted replaces personal data in logs.
const redacted = "[redacted]"

// ---- Shared parts ----

// Metadata tells where the data of a block came from.
type Metadata struct {
	Sources []Source `json:"sources,omitzero"`
}

// Source is one data source of a block. A bare JSON string decodes as the
// Name.
type Source struct {
	Name      string `json:"name,omitzero"`
	Authority string `json:"authority,omitzero"`
	Updated   string `json:"updated,omitzero"` // date or time, as sent
}

// UnmarshalJSON accepts an object or a bare string (the name).
func (s *Source) UnmarshalJSON(data []byte) error {
	type plain Source
	return stringOrObject(data, &s.Name, (*plain)(s))
}

// Code is a coded value with its text, such as an organization type
// {"code": "AS", "description": "Aksjeselskap"}. A bare JSON string decodes
// as the Code. Unknown codes are tolerated.
type Code struct {
	Code        string `json:"code,omitzero"`
	Description string `json:"description,omitzero"`
}

// UnmarshalJSON accepts an object or a bare string (the code).
func (c *Code) UnmarshalJSON(data []byte) error {
	type plain Code
	return stringOrObject(data, &c.Code, (*plain)(c))
}

// stringOrObject decodes a JSON string into *s, and anything else into obj.
func stringOrObject(data []byte, s *string, obj any) error {
	if d := bytes.TrimLeft(data, " \t\r\n"); len(d) > 0 && d[0] == '"' {
		return json.Unmarshal(data, s)
	}
	return json.Unmarshal(data, obj)
}

// Address is a postal or visiting address. Addresses of persons are
// personal data: LogValue redacts everything but the country.
type Address struct {
	AddressLine  string `json:"addressLine,omitzero"`
	PostalCode   string `json:"postalCode,omitzero"`
	City         string `json:"city,omitzero"`
	Municipality string `json:"municipality,omitzero"`
	Country      string `json:"country,omitzero"` // ISO 3166 alpha-2, as sent
}

// LogValue redacts the address, keeping the country.
func (a Address) LogValue() slog.Value {
	return slog.GroupValue(slog.String("address", redacted), slog.String("country", a.Country))
}

// SSN is a national identity number (Norwegian fødselsnummer). It is
// redacted when logged or formatted with fmt; convert it to a string to use
// it.
type SSN string

// String returns "[redacted]" so that fmt never prints the number.
func (SSN) String() string { return redacted }

// GoString returns "[redacted]" so that %#v never prints the number.
func (SSN) GoString() string { return redacted }

// LogValue redacts the number.
func (SSN) LogValue() slog.Value { return slog.StringValue(redacted) }

// ---- Organization document ----

// OrganizationDocument is the JSON result of an organization session. One
// type serves Norway, Sweden and Finland: the blocks are the same, and the
// country-specific extras are ignored.
//
// LogValue logs a summary (names of the organization and which blocks are
// present), never the persons in it.
type OrganizationDocument struct {
	KeyInformation Block[KeyInformation] `json:"keyInformation,omitzero"`
	Address        Block[Addresses]      `json:"address,omitzero"`
	Financials     Block[Financials]     `json:"financials,omitzero"`
	Ownership      Block[Ownership]      `json:"ownership,omitzero"`
	Authorities    Block[Authorities]    `json:"authorities,omitzero"`
	Roles          Block[[]Role]         `json:"roles,omitzero"`
	Sanction       Block[Sanction]       `json:"sanction,omitzero"`
	Links          Block[Links]          `json:"links,omitzero"`
	// Metadata lists the sources of every block.
	Metadata Metadata `json:"metadata,omitzero"`
}

// OrganizationStatus is the registry status of an organization. Unknown
// values are tolerated.
type OrganizationStatus string

// Organization statuses (model).
const (
	OrganizationActive           OrganizationStatus = "ACTIVE"
	OrganizationUnderLiquidation OrganizationStatus = "UNDER_LIQUIDATION"
	OrganizationBankrupt         OrganizationStatus = "BANKRUPT"
	OrganizationDissolved        OrganizationStatus = "DISSOLVED"
)

// KeyInformation is the keyInformation block, the one block that comes
// back without any expand.
type KeyInformation struct {
	Name               string             `json:"name,omitzero"`
	OrganizationNumber string             `json:"organizationNumber,omitzero"`
	DUNSNumber         string             `json:"dunsNumber,omitzero"`
	LEI                string             `json:"lei,omitzero"`
	OrganizationType   Code               `json:"organizationType,omitzero"`
	Country            string             `json:"country,omitzero"`
	RegistrationDate   string             `json:"registrationDate,omitzero"` // as sent, e.g. 2001-03-01
	WebPage            string             `json:"webPage,omitzero"`
	Employees          *int               `json:"employees,omitzero"`
	Registries         []Registry         `json:"registries,omitzero"`
	Status             OrganizationStatus `json:"status,omitzero"`
	Sectors            []Code             `json:"sectors,omitzero"`
	Purpose            string             `json:"purpose,omitzero"`
	Sources            []Source           `json:"sources,omitzero"` // the registries the facts come from (confirmed)
	Metadata           Metadata           `json:"metadata,omitzero"`
}

// Registry is a public register the organization is entered in. A bare JSON
// string decodes as the Name.
type Registry struct {
	Name             string `json:"name,omitzero"`
	Authority        string `json:"authority,omitzero"`
	Registered       *bool  `json:"registered,omitzero"`
	RegistrationDate string `json:"registrationDate,omitzero"`
}

// UnmarshalJSON accepts an object or a bare string (the name).
func (r *Registry) UnmarshalJSON(data []byte) error {
	type plain Registry
	return stringOrObject(data, &r.Name, (*plain)(r))
}

// Addresses is the address block.
type Addresses struct {
	PostalAddress   *Address `json:"postalAddress,omitzero"`
	VisitingAddress *Address `json:"visitingAddress,omitzero"`
	Metadata        Metadata `json:"metadata,omitzero"`
}

// Financials is the financials block; each part is its own expand.
type Financials struct {
	Accounting Block[[]AccountingYear] `json:"accounting,omitzero"` // usually three years
	KeyFigures Block[KeyFigures]       `json:"keyFigures,omitzero"`
	Auditor    Block[Party]            `json:"auditor,omitzero"`
	Accountant Block[Party]            `json:"accountant,omitzero"`
	Credit     Block[Credit]           `json:"credit,omitzero"` // needs ScopeFinancialsCredit
}

// AccountingYear is one year of the annual accounts. Amounts are in
// Currency; nil means not reported.
type AccountingYear struct {
	Year            int      `json:"year,omitzero"`
	Currency        string   `json:"currency,omitzero"`
	Revenue         *float64 `json:"revenue,omitzero"`
	OperatingResult *float64 `json:"operatingResult,omitzero"`
	ResultBeforeTax *float64 `json:"resultBeforeTax,omitzero"`
	NetResult       *float64 `json:"netResult,omitzero"`
	Equity          *float64 `json:"equity,omitzero"`
	TotalAssets     *float64 `json:"totalAssets,omitzero"`
	Employees       *int     `json:"employees,omitzero"`
}

// KeyFigures holds key figures derived from the latest accounts, as
// fractions (0.25 is 25 %).
type KeyFigures struct {
	Year           int      `json:"year,omitzero"`
	Currency       string   `json:"currency,omitzero"`
	EquityRatio    *float64 `json:"equityRatio,omitzero"`
	ProfitMargin   *float64 `json:"profitMargin,omitzero"`
	ReturnOnAssets *float64 `json:"returnOnAssets,omitzero"`
	RevenueGrowth  *float64 `json:"revenueGrowth,omitzero"`
	Metadata       Metadata `json:"metadata,omitzero"`
}

// Party is an organization with a role towards the company: its auditor or
// accountant.
type Party struct {
	Name               string   `json:"name,omitzero"`
	OrganizationNumber string   `json:"organizationNumber,omitzero"`
	Since              string   `json:"since,omitzero"`
	Metadata           Metadata `json:"metadata,omitzero"`
}

// Credit is the credit assessment (financials.credit).
type Credit struct {
	Score       *int     `json:"score,omitzero"`
	Rating      string   `json:"rating,omitzero"`
	CreditLimit *float64 `json:"creditLimit,omitzero"`
	Currency    string   `json:"currency,omitzero"`
	Provider    string   `json:"provider,omitzero"`
	Metadata    Metadata `json:"metadata,omitzero"`
}

// Ownership is the ownership block; each part is its own expand.
type Ownership struct {
	Beneficials  Block[[]BeneficialOwner] `json:"beneficials,omitzero"`
	Subsidiaries Block[[]Subsidiary]      `json:"subsidiaries,omitzero"`
	Shareholders Block[[]Shareholder]     `json:"shareholders,omitzero"`
	Indicators   Block[Indicators]        `json:"indicators,omitzero"`
}

// BeneficialOwner is a beneficial owner, in ownership.beneficials of an
// organization document and in a beneficial owners document. It is
// personal data: LogValue redacts the person.
type BeneficialOwner struct {
	Name      string   `json:"name,omitzero"`
	BirthDate string   `json:"birthDate,omitzero"` // as sent, e.g. 1970-01-31
	Address   *Address `json:"address,omitzero"`
	// Share is the direct ownership share in percent; nil when not given.
	Share *float64 `json:"share,omitzero"`
	// Roles are the person's roles in the organization; a bare JSON string
	// decodes as the Code.
	Roles []Code `json:"roles,omitzero"`
	// Reason is why the person is a beneficial owner (a code such as
	// OWNERSHIP or CONTROL; unknown values are tolerated), ReasonPhrase the
	// same in words.
	Reason       string `json:"reason,omitzero"`
	ReasonPhrase string `json:"reasonPhrase,omitzero"`
	// IntegratedOwnership is the share in percent through all chains of
	// ownership; PercentageControl the share of votes, which may be null.
	IntegratedOwnership *float64 `json:"integratedOwnership,omitzero"`
	PercentageControl   *float64 `json:"percentageControl,omitzero"`

	// Citizenship, Birthplace and SSN come only in beneficial owners
	// documents, only when expanded (citizenship, birthplace, ssn) and only
	// when our National Registry access allows it; otherwise they are
	// NotRequested (or nil).
	Citizenship Block[[]string]   `json:"citizenship,omitzero"` // ISO 3166 alpha-2 codes
	Birthplace  Block[Birthplace] `json:"birthplace,omitzero"`
	SSN         *SSN              `json:"ssn,omitzero"`
}

// LogValue logs what is not personal: share, control, reason and which
// personal fields are present.
func (o BeneficialOwner) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("name", redacted),
		slog.String("reason", o.Reason),
	}
	if o.Share != nil {
		attrs = append(attrs, slog.Float64("share", *o.Share))
	}
	if o.PercentageControl != nil {
		attrs = append(attrs, slog.Float64("percentageControl", *o.PercentageControl))
	}
	attrs = append(attrs,
		slog.String("citizenship", o.Citizenship.State.String()),
		slog.String("birthplace", o.Birthplace.State.String()),
		slog.Bool("ssn", o.SSN != nil),
	)
	return slog.GroupValue(attrs...)
}

// Birthplace is where a beneficial owner was born. A bare JSON string
// decodes as the Place.
type Birthplace struct {
	Place   string `json:"place,omitzero"`
	Country string `json:"country,omitzero"`
}

// UnmarshalJSON accepts an object or a bare string (the place).
func (b *Birthplace) UnmarshalJSON(data []byte) error {
	type plain Birthplace
	return stringOrObject(data, &b.Place, (*plain)(b))
}

// Subsidiary is an organization the company owns shares in.
type Subsidiary struct {
	Name               string   `json:"name,omitzero"`
	OrganizationNumber string   `json:"organizationNumber,omitzero"`
	Country            string   `json:"country,omitzero"`
	Share              *float64 `json:"share,omitzero"`
}

// ShareholderPerson is the Shareholder.Type of a person.
const ShareholderPerson = "PERSON"

// Shareholder is an owner of shares: an organization or a person
// (Type ShareholderPerson, or no OrganizationNumber), whose name and birth
// date are personal data.
type Shareholder struct {
	Name               string   `json:"name,omitzero"`
	Type               string   `json:"type,omitzero"` // PERSON, ORGANIZATION; unknown values tolerated
	OrganizationNumber string   `json:"organizationNumber,omitzero"`
	BirthDate          string   `json:"birthDate,omitzero"`
	Country            string   `json:"country,omitzero"`
	Share              *float64 `json:"share,omitzero"`
	NumberOfShares     *int64   `json:"numberOfShares,omitzero"`
}

// LogValue logs an organization shareholder's name and number, and
// redacts a person.
func (s Shareholder) LogValue() slog.Value {
	if s.Type != ShareholderPerson && s.OrganizationNumber != "" {
		return slog.GroupValue(slog.String("name", s.Name), slog.String("organizationNumber", s.OrganizationNumber))
	}
	return slog.GroupValue(slog.String("name", redacted))
}

// Indicators flag ownership structures that call for a closer look. Nil
// means not assessed.
type Indicators struct {
	ComplexOwnership        *bool    `json:"complexOwnership,omitzero"`
	ForeignOwnership        *bool    `json:"foreignOwnership,omitzero"`
	PubliclyListed          *bool    `json:"publiclyListed,omitzero"`
	OwnershipLayers         *int     `json:"ownershipLayers,omitzero"`
	BeneficialOwnersUnknown *bool    `json:"beneficialOwnersUnknown,omitzero"`
	Metadata                Metadata `json:"metadata,omitzero"`
}

// Authorities is the authorities block: who may sign for the organization.
// A procuration that was looked for but does not exist is Empty.
type Authorities struct {
	SignatureRights Block[Authority] `json:"signatureRights,omitzero"`
	Procuration     Block[Authority] `json:"procuration,omitzero"`
	Metadata        Metadata         `json:"metadata,omitzero"`
}

// Authority is a signature right or procuration: the rule as registered
// and the persons it names.
type Authority struct {
	Description string   `json:"description,omitzero"` // e.g. "The chairman alone."
	Persons     []Person `json:"persons,omitzero"`
}

// Person is a person named in an authority. It is personal data: LogValue
// redacts it.
type Person struct {
	Name      string `json:"name,omitzero"`
	BirthDate string `json:"birthDate,omitzero"`
	Role      string `json:"role,omitzero"`
}

// LogValue redacts the person, keeping the role.
func (p Person) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", redacted), slog.String("role", p.Role))
}

// Role types (model). Unknown values are tolerated.
const (
	RoleCEO               = "CEO"
	RoleChairman          = "CHAIRMAN"
	RoleBoardMember       = "BOARD_MEMBER"
	RoleDeputyBoardMember = "DEPUTY_BOARD_MEMBER"
	RoleAuditor           = "AUDITOR"
	RoleAccountant        = "ACCOUNTANT"
	RoleOwner             = "OWNER"
)

// Role is a role in the organization (CEO, chairman, board member,
// auditor, ...), held by a person or, for some roles, an organization
// (OrganizationNumber set). A person holding it is personal data.
type Role struct {
	Type               string `json:"type,omitzero"`        // e.g. RoleCEO
	Description        string `json:"description,omitzero"` // the type in words
	Name               string `json:"name,omitzero"`
	BirthDate          string `json:"birthDate,omitzero"`
	OrganizationNumber string `json:"organizationNumber,omitzero"`
	Since              string `json:"since,omitzero"`
}

// LogValue logs the role type and an organization holding it, and redacts
// a person.
func (r Role) LogValue() slog.Value {
	if r.OrganizationNumber != "" {
		return slog.GroupValue(slog.String("type", r.Type), slog.String("name", r.Name), slog.String("organizationNumber", r.OrganizationNumber))
	}
	return slog.GroupValue(slog.String("type", r.Type), slog.String("name", redacted))
}

// SanctionStatus is the outcome of the sanction screening. Unknown values
// are tolerated.
type SanctionStatus string

// Sanction statuses (model).
const (
	SanctionNoHit SanctionStatus = "NO_HIT"
	SanctionHit   SanctionStatus = "HIT"
)

// MaxMatchIndicator is the strongest match indicator (confirmed: up to 500).
const MaxMatchIndicator = 500

// Sanction is the sanction block.
type Sanction struct {
	Status     SanctionStatus  `json:"status,omitzero"`
	ScreenedAt string          `json:"screenedAt,omitzero"`
	Lists      []SanctionList  `json:"lists,omitzero"` // the lists screened
	Matches    []SanctionMatch `json:"matches,omitzero"`
	Metadata   Metadata        `json:"metadata,omitzero"`
}

// SanctionList is a sanction list that was screened.
type SanctionList struct {
	Name   string `json:"name,omitzero"`
	Source string `json:"source,omitzero"` // e.g. EU, UN, OFAC
}

// SanctionMatch is one hit on a sanction list.
type SanctionMatch struct {
	Name string `json:"name,omitzero"`
	// MatchIndicator is how strong the match is, 0 to MaxMatchIndicator.
	MatchIndicator int      `json:"matchIndicator,omitzero"`
	Aliases        []string `json:"aliases,omitzero"`
	EntityType     string   `json:"entityType,omitzero"` // e.g. ORGANIZATION, PERSON
	ListName       string   `json:"listName,omitzero"`
	Source         string   `json:"source,omitzero"`
	Reference      string   `json:"reference,omitzero"`
	ListedDate     string   `json:"listedDate,omitzero"`
	UpdatedDate    string   `json:"updatedDate,omitzero"`
	URLs           []string `json:"urls,omitzero"`
}

// LogValue logs the list and the strength of the match, not who matched.
func (m SanctionMatch) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", redacted),
		slog.Int("matchIndicator", m.MatchIndicator),
		slog.String("listName", m.ListName),
	)
}

// Links is the links block.
type Links struct {
	// Reports maps a report type to its link, for the reports requested.
	Reports Block[map[ReportType]string] `json:"reports,omitzero"`
}

// LogValue summarizes the document: who it is about and the presence of
// each block. It never logs persons.
func (d OrganizationDocument) LogValue() slog.Value {
	ki := d.KeyInformation.Value
	attrs := []slog.Attr{
		slog.String("name", ki.Name),
		slog.String("organizationNumber", ki.OrganizationNumber),
		slog.String("country", ki.Country),
	}
	for _, p := range d.Presences() {
		attrs = append(attrs, slog.String(p.Path, p.State.String()))
	}
	if owners, ok := d.Ownership.Value.Beneficials.Found(); ok && d.Ownership.State == Present {
		attrs = append(attrs, slog.Int("beneficialOwners", len(owners)))
	}
	return slog.GroupValue(attrs...)
}

// BlockPresence is the presence of one block, by its expand path.
type BlockPresence struct {
	Path  string // e.g. "financials.keyFigures"
	State Presence
}

// Presences lists the presence of every block and sub-block, in document
// order. A sub-block of a block that is not Present is NotRequested.
func (d *OrganizationDocument) Presences() []BlockPresence {
	f, o := d.Financials.Value, d.Ownership.Value
	if d.Financials.State != Present {
		f = Financials{}
	}
	if d.Ownership.State != Present {
		o = Ownership{}
	}
	reports := d.Links.Value.Reports.State
	if d.Links.State != Present {
		reports = NotRequested
	}
	return []BlockPresence{
		{"keyInformation", d.KeyInformation.State},
		{"address", d.Address.State},
		{"financials", d.Financials.State},
		{"financials.accounting", f.Accounting.State},
		{"financials.keyFigures", f.KeyFigures.State},
		{"financials.auditor", f.Auditor.State},
		{"financials.accountant", f.Accountant.State},
		{"financials.credit", f.Credit.State},
		{"ownership", d.Ownership.State},
		{"ownership.beneficials", o.Beneficials.State},
		{"ownership.subsidiaries", o.Subsidiaries.State},
		{"ownership.shareholders", o.Shareholders.State},
		{"ownership.indicators", o.Indicators.State},
		{"authorities", d.Authorities.State},
		{"roles", d.Roles.State},
		{"sanction", d.Sanction.State},
		{"links", d.Links.State},
		{"links.reports", reports},
	}
}

// ---- Beneficial owners document ----

// BeneficialOwnersDocument is the JSON result of a beneficial owners
// session. LogValue logs the organization and the number of owners, and
// redacts the owners.
type BeneficialOwnersDocument struct {
	Organization Organization `json:"organization,omitzero"`
	// BeneficialOwners is Empty when the organization has none registered.
	BeneficialOwners Block[[]BeneficialOwner] `json:"beneficialOwners,omitzero"`
	Metadata         BeneficialMetadata       `json:"metadata,omitzero"`
}

// Organization is the organization a beneficial owners document is about.
type Organization struct {
	Name               string   `json:"name,omitzero"`
	OrganizationNumber string   `json:"organizationNumber,omitzero"`
	DUNSNumber         string   `json:"dunsNumber,omitzero"`
	OrganizationType   Code     `json:"organizationType,omitzero"`
	Country            string   `json:"country,omitzero"`
	Metadata           Metadata `json:"metadata,omitzero"`
}

// BeneficialMetadata is the metadata of a beneficial owners document: the
// sources, and what our National Registry access let through.
type BeneficialMetadata struct {
	Sources          []Source               `json:"sources,omitzero"`
	NationalRegistry NationalRegistryAccess `json:"nationalRegistry,omitzero"`
	// OmittedFields are expands that were requested but left out for lack
	// of access, e.g. ["ssn"].
	OmittedFields []string `json:"omittedFields,omitzero"`
}

// LogValue logs the organization, the presence of the owners and each owner
// redacted.
func (d BeneficialOwnersDocument) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("name", d.Organization.Name),
		slog.String("organizationNumber", d.Organization.OrganizationNumber),
		slog.String("beneficialOwners", d.BeneficialOwners.State.String()),
	}
	for i, o := range d.BeneficialOwners.Value {
		attrs = append(attrs, slog.Any("owner"+strconv.Itoa(i), o))
	}
	return slog.GroupValue(attrs...)
}

// ---- Decoders ----

// DecodeOrganization decodes an organization document. Unknown fields and
// enum values are ignored; data after the document is an error.
func DecodeOrganization(r io.Reader) (*OrganizationDocument, error) {
	var d OrganizationDocument
	if err := decodeJSON(r, &d); err != nil {
		return nil, fmt.Errorf("decode organization document: %w", err)
	}
	return &d, nil
}

// DecodeBeneficialOwners decodes a beneficial owners document. Unknown
// fields and enum values are ignored; data after the document is an error.
func DecodeBeneficialOwners(r io.Reader) (*BeneficialOwnersDocument, error) {
	var d BeneficialOwnersDocument
	if err := decodeJSON(r, &d); err != nil {
		return nil, fmt.Errorf("decode beneficial owners document: %w", err)
	}
	return &d, nil
}

// DecodeSession decodes a session-information answer (model.go's Session).
// Unknown fields, session statuses, entity statuses and report types are
// kept or ignored, never an error.
func DecodeSession(r io.Reader) (*Session, error) {
	var s Session
	if err := decodeJSON(r, &s); err != nil {
		return nil, fmt.Errorf("decode session: %w", err)
	}
	return &s, nil
}

// errTrailingData: a document is followed by more than whitespace.
var errTrailingData = errors.New("data after the JSON document")

// decodeJSON decodes exactly one JSON value from r into v.
func decodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF // an empty document is not a document
		}
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errTrailingData
	}
	return nil
}
