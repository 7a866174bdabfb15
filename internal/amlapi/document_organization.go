package amlapi

// The organization document (see document.go) and its blocks, but for
// ownership (document_owners.go) and sanction (document_sanction.go).

import (
	"bytes"
	"encoding/json"
	"log/slog"
)

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
	// InstitutionalSector and IndustrySector are the organization guide's
	// two sectors (model names, see GuideNames): the institutional sector
	// code (e.g. 2100, private limited companies) and the industry code
	// (NACE, e.g. 62.010).
	InstitutionalSector *Code `json:"institutionalSector,omitzero"`
	IndustrySector      *Code `json:"industrySector,omitzero"`
	// Sectors is the older model's one list of sectors, still read: when
	// the document has no industrySector, the first of them is taken as
	// the industry sector. It is never written by the sandbox.
	Sectors  []Code   `json:"sectors,omitzero"`
	Purpose  string   `json:"purpose,omitzero"`
	Sources  []Source `json:"sources,omitzero"` // the registries the facts come from (confirmed)
	Metadata Metadata `json:"metadata,omitzero"`
}

// UnmarshalJSON reads the block in the guide's shape and in the older
// model's (sectors: see KeyInformation.Sectors).
func (k *KeyInformation) UnmarshalJSON(data []byte) error {
	type plain KeyInformation
	if err := json.Unmarshal(data, (*plain)(k)); err != nil {
		return err
	}
	if k.IndustrySector == nil && len(k.Sectors) > 0 {
		c := k.Sectors[0]
		k.IndustrySector = &c
	}
	return nil
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

// KeyFigures is financials.keyFigures as the organization guide lists it:
// share capital, turnover, operating profit, equity, earnings, sources and
// accounting years (model names and shape, see GuideNames): the share
// capital once, and the other figures per accounting year, newest first.
// Amounts are in Currency; nil means not reported.
type KeyFigures struct {
	ShareCapital    *float64         `json:"shareCapital,omitzero"`
	Currency        string           `json:"currency,omitzero"`
	AccountingYears []KeyFiguresYear `json:"accountingYears,omitzero"`
	Sources         []Source         `json:"sources,omitzero"`
	Metadata        Metadata         `json:"metadata,omitzero"`

	// The older model's ratios of the latest year (fractions: 0.25 is
	// 25 %), still read; the sandbox no longer writes them.
	Year           int      `json:"year,omitzero"`
	EquityRatio    *float64 `json:"equityRatio,omitzero"`
	ProfitMargin   *float64 `json:"profitMargin,omitzero"`
	ReturnOnAssets *float64 `json:"returnOnAssets,omitzero"`
	RevenueGrowth  *float64 `json:"revenueGrowth,omitzero"`
}

// KeyFiguresYear is the key figures of one accounting year (model).
type KeyFiguresYear struct {
	Year            int      `json:"year,omitzero"`
	Currency        string   `json:"currency,omitzero"`
	Turnover        *float64 `json:"turnover,omitzero"`
	OperatingProfit *float64 `json:"operatingProfit,omitzero"`
	Equity          *float64 `json:"equity,omitzero"`
	Earnings        *float64 `json:"earnings,omitzero"`
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

// Role types (model codes for the organization guide's roles; see
// GuideNames). Unknown values are tolerated.
const (
	RoleCEO                         = "CEO"
	RoleChairman                    = "CHAIRMAN"
	RoleDeputyChairman              = "DEPUTY_CHAIRMAN"
	RoleBoardMember                 = "BOARD_MEMBER"
	RoleDeputyBoardMember           = "DEPUTY_BOARD_MEMBER"
	RoleAuditor                     = "AUDITOR"
	RoleAccountant                  = "ACCOUNTANT"
	RoleCompanySecretary            = "COMPANY_SECRETARY"
	RoleRepresentativeForeignEntity = "REPRESENTATIVE_FOREIGN_ENTITY"
	RoleTrustee                     = "TRUSTEE"
	// RoleOwner is a sole proprietor's role: not among the guide's ten.
	RoleOwner = "OWNER"
)

// GuideRoles are the ten roles of the organization guide, by their model
// codes.
var GuideRoles = []string{
	RoleCEO, RoleChairman, RoleDeputyChairman, RoleBoardMember, RoleDeputyBoardMember,
	RoleAuditor, RoleAccountant, RoleCompanySecretary, RoleRepresentativeForeignEntity, RoleTrustee,
}

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

// Links is the links block.
type Links struct {
	// Reports maps a report type to its link, for the reports requested
	// (confirmed: links.reports.<type>). A value that is an object (a
	// status, link and expiry, as an Entity) is read too (ReportLinks).
	Reports Block[ReportLinks] `json:"reports,omitzero"`
	// Expires is until when the data and the reports behind the links can
	// be downloaded (model name; the confirmed fact is that every result
	// lives Lifetime after it becomes available). Nil when not given.
	Expires *Time `json:"expires,omitzero"`
}

// ReportLinks maps a report type to its link. Each value is read as a
// link string, or as an object with a link (Entity's shape); anything
// else is no link (""), never an error, and its type is kept.
type ReportLinks map[ReportType]string

// UnmarshalJSON reads the map tolerantly (see ReportLinks).
func (l *ReportLinks) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	out := make(ReportLinks, len(raw))
	for t, v := range raw {
		link := jsonString(v)
		if v = bytes.TrimSpace(v); len(v) > 0 && v[0] == '{' {
			var e Entity
			if e.UnmarshalJSON(v) == nil {
				link = e.Link
			}
		}
		out[ReportType(t)] = link
	}
	*l = out
	return nil
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
