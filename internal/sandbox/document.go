package sandbox

import (
	"encoding/json"

	"github.com/kybflow/kybflow/internal/amlapi"
)

// The JSON documents. Conventions (see docs/sandbox.md):
//   - only the requested blocks are present; keyInformation always is;
//   - a requested block that found nothing is an EMPTY NODE: {} for an
//     object block, [] for a list block (never null, never left out);
//   - object blocks carry metadata.sources; the top-level metadata.sources
//     lists the sources of every block, list blocks included;
//   - a few fields outside the client's model (schemaVersion, sandbox,
//     keyInformation.marketSegment, beneficialOwners[].ownedThrough) are
//     there on purpose: the real API adds fields without notice.

// schemaVersion is an extra top-level field (not in any model).
const schemaVersion = "sandbox-1"

// blocks are the leaf blocks an organization session requested.
type blocks struct {
	lei                                                          bool
	address, accounting, keyFigures, auditor, accountant, credit bool
	beneficials, subsidiaries, shareholders, indicators          bool
	authorities, roles, sanction, ofac                           bool
}

// blocksOf resolves expands: a parent includes its children except those
// needing an extra scope (financials.credit, sanction.ofac); a child alone
// brings its parent's container; sanction.ofac implies sanction.
func blocksOf(expands []string) blocks {
	var b blocks
	for _, e := range expands {
		switch e {
		case "keyInformation.lei":
			b.lei = true
		case "address":
			b.address = true
		case "financials":
			b.accounting, b.keyFigures, b.auditor, b.accountant = true, true, true, true
		case "financials.accounting":
			b.accounting = true
		case "financials.keyFigures":
			b.keyFigures = true
		case "financials.auditor":
			b.auditor = true
		case "financials.accountant":
			b.accountant = true
		case "financials.credit":
			b.credit = true
		case "ownership":
			b.beneficials, b.subsidiaries, b.shareholders, b.indicators = true, true, true, true
		case "ownership.beneficials":
			b.beneficials = true
		case "ownership.subsidiaries":
			b.subsidiaries = true
		case "ownership.shareholders":
			b.shareholders = true
		case "ownership.indicators":
			b.indicators = true
		case "authorities":
			b.authorities = true
		case "roles":
			b.roles = true
		case "sanction":
			b.sanction = true
		case "sanction.ofac":
			b.sanction, b.ofac = true, true
		}
	}
	return b
}

type source struct {
	Name      string `json:"name"`
	Authority string `json:"authority,omitempty"`
	Updated   string `json:"updated"`
}

type metadata struct {
	Sources []source `json:"sources"`
}

type codeDesc struct {
	Code        string `json:"code"`
	Description string `json:"description"`
}

type registryEntry struct {
	Name             string `json:"name"`
	Authority        string `json:"authority"`
	Registered       bool   `json:"registered"`
	RegistrationDate string `json:"registrationDate"`
}

type keyInformation struct {
	Name                string          `json:"name"`
	OrganizationNumber  string          `json:"organizationNumber"`
	DUNSNumber          string          `json:"dunsNumber"`
	LEI                 *optionalString `json:"lei,omitempty"` // only with the keyInformation.lei expand; null when none
	OrganizationType    codeDesc        `json:"organizationType"`
	Country             string          `json:"country"`
	RegistrationDate    string          `json:"registrationDate"`
	WebPage             string          `json:"webPage"`
	Employees           int             `json:"employees"`
	Registries          []registryEntry `json:"registries"`
	Status              string          `json:"status"`
	InstitutionalSector codeDesc        `json:"institutionalSector"`
	IndustrySector      codeDesc        `json:"industrySector"`
	Purpose             string          `json:"purpose"`
	Sources             []string        `json:"sources"`
	MarketSegment       string          `json:"marketSegment"` // extra
	Metadata            metadata        `json:"metadata"`
}

type addressBlock struct {
	PostalAddress   address  `json:"postalAddress"`
	VisitingAddress address  `json:"visitingAddress"`
	Metadata        metadata `json:"metadata"`
}

// optionalString is a string that is JSON null when empty.
type optionalString string

func (s optionalString) MarshalJSON() ([]byte, error) {
	if s == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(s))
}

type keyFigures struct {
	ShareCapital    int64            `json:"shareCapital"`
	Currency        string           `json:"currency"`
	AccountingYears []keyFiguresYear `json:"accountingYears"`
	Sources         []string         `json:"sources"`
	Metadata        metadata         `json:"metadata"`
}

type keyFiguresYear struct {
	Year            int    `json:"year"`
	Currency        string `json:"currency"`
	Turnover        int64  `json:"turnover"`
	OperatingProfit int64  `json:"operatingProfit"`
	Equity          int64  `json:"equity"`
	Earnings        int64  `json:"earnings"`
}

type orgBlock struct {
	Name               string   `json:"name"`
	OrganizationNumber string   `json:"organizationNumber"`
	Since              string   `json:"since"`
	Metadata           metadata `json:"metadata"`
}

type creditBlock struct {
	Score       int      `json:"score"`
	Rating      string   `json:"rating"`
	CreditLimit int64    `json:"creditLimit"`
	Currency    string   `json:"currency"`
	Provider    string   `json:"provider"`
	Metadata    metadata `json:"metadata"`
}

type financialsDoc struct {
	Accounting any `json:"accounting,omitempty"`
	KeyFigures any `json:"keyFigures,omitempty"`
	Auditor    any `json:"auditor,omitempty"`
	Accountant any `json:"accountant,omitempty"`
	Credit     any `json:"credit,omitempty"`
}

type personAddress struct {
	City    string `json:"city"`
	Country string `json:"country"`
}

type orgLink struct {
	Name               string `json:"name"`
	OrganizationNumber string `json:"organizationNumber"`
}

type beneficialJSON struct {
	Name                string        `json:"name"`
	BirthDate           string        `json:"birthDate"`
	Address             personAddress `json:"address"`
	Share               float64       `json:"share"`
	Roles               []string      `json:"roles"`
	Reason              string        `json:"reason"`
	ReasonPhrase        string        `json:"reasonPhrase"`
	IntegratedOwnership float64       `json:"integratedOwnership"`
	PercentageControl   *float64      `json:"percentageControl"`
	OwnedThrough        *orgLink      `json:"ownedThrough,omitempty"` // extra
	Citizenship         []string      `json:"citizenship,omitempty"`
	Birthplace          *birthplace   `json:"birthplace,omitempty"`
	SSN                 string        `json:"identificationNumber,omitempty"`
}

type birthplace struct {
	Place   string `json:"place"`
	Country string `json:"country"`
}

type shareholderJSON struct {
	Name               string  `json:"name"`
	Type               string  `json:"type"`
	OrganizationNumber string  `json:"organizationNumber,omitempty"`
	BirthDate          string  `json:"birthDate,omitempty"`
	Share              float64 `json:"share"`
	NumberOfShares     int64   `json:"numberOfShares"`
	Country            string  `json:"country,omitempty"`
}

type subsidiaryJSON struct {
	Name               string  `json:"name"`
	OrganizationNumber string  `json:"organizationNumber"`
	Country            string  `json:"country"`
	Share              float64 `json:"share"`
}

// indicators are numbers (the guide's "set of numbers"; see amlapi's
// Indicators for their meaning).
type indicators struct {
	ComplexOwnership   int      `json:"complexOwnership"`
	ForeignOwnership   float64  `json:"foreignOwnership"`
	PubliclyListed     int      `json:"publiclyListed"`
	OwnershipLayers    int      `json:"ownershipLayers"`
	BeneficialsUnknown float64  `json:"beneficialOwnersUnknown"`
	Metadata           metadata `json:"metadata"`
}

type ownershipDoc struct {
	Beneficials  any `json:"beneficials,omitempty"`
	Subsidiaries any `json:"subsidiaries,omitempty"`
	Shareholders any `json:"shareholders,omitempty"`
	Indicators   any `json:"indicators,omitempty"`
}

type namedRole struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

type authorityRule struct {
	Description string      `json:"description"`
	Persons     []namedRole `json:"persons"`
}

type authoritiesBlock struct {
	SignatureRights authorityRule `json:"signatureRights"`
	Procuration     any           `json:"procuration"`
	Metadata        metadata      `json:"metadata"`
}

type roleJSON struct {
	Type               string `json:"type"`
	Description        string `json:"description"`
	Name               string `json:"name"`
	BirthDate          string `json:"birthDate,omitempty"`
	OrganizationNumber string `json:"organizationNumber,omitempty"`
	Since              string `json:"since"`
}

type screenedList struct {
	Name   string `json:"name"`
	Source string `json:"source"`
}

type sanctionMatch struct {
	Name                      string   `json:"name"`
	MatchIndicator            int      `json:"matchIndicator"`
	MatchIndicatorDescription string   `json:"matchIndicatorDescription"`
	AliasList                 []string `json:"aliasList"`
	Address                   address  `json:"address"`
	EntityType                string   `json:"entityType"`
	ListName                  string   `json:"listName"`
	Source                    string   `json:"source"`
	Reference                 string   `json:"reference"`
	ListedDate                string   `json:"listedDate"`
	UpdatedDate               string   `json:"updatedDate"`
	URLs                      []string `json:"urls"`
}

type sanctionBlock struct {
	Status     string          `json:"status"`
	Message    string          `json:"message"`
	ScreenedAt string          `json:"screenedAt"`
	Lists      []screenedList  `json:"lists"`
	Matches    []sanctionMatch `json:"matches"`
	Metadata   metadata        `json:"metadata"`
}

type linksDoc struct {
	Reports map[amlapi.ReportType]string `json:"reports"`
	Expires string                       `json:"expires,omitempty"` // until when the data and reports can be read
}

type sandboxNote struct {
	Synthetic bool   `json:"synthetic"`
	Note      string `json:"note"`
}

type organizationDoc struct {
	SchemaVersion  string         `json:"schemaVersion"` // extra
	KeyInformation keyInformation `json:"keyInformation"`
	Address        any            `json:"address,omitempty"`
	Financials     *financialsDoc `json:"financials,omitempty"`
	Ownership      *ownershipDoc  `json:"ownership,omitempty"`
	Authorities    any            `json:"authorities,omitempty"`
	Roles          any            `json:"roles,omitempty"`
	Sanction       any            `json:"sanction,omitempty"`
	Links          *linksDoc      `json:"links,omitempty"`
	Metadata       metadata       `json:"metadata"`
	Sandbox        sandboxNote    `json:"sandbox"` // extra
}

type beneficialOrg struct {
	Name               string   `json:"name"`
	OrganizationNumber string   `json:"organizationNumber"`
	DUNSNumber         string   `json:"dunsNumber"`
	OrganizationType   codeDesc `json:"organizationType"`
	Country            string   `json:"country"`
	Metadata           metadata `json:"metadata"`
}

type beneficialMeta struct {
	Sources          []source                      `json:"sources"`
	NationalRegistry amlapi.NationalRegistryAccess `json:"nationalRegistry"`
	OmittedFields    []string                      `json:"omittedFields,omitempty"`
}

type beneficialDoc struct {
	SchemaVersion    string           `json:"schemaVersion"` // extra
	Organization     beneficialOrg    `json:"organization"`
	BeneficialOwners []beneficialJSON `json:"beneficialOwners"`
	Metadata         beneficialMeta   `json:"metadata"`
	Sandbox          sandboxNote      `json:"sandbox"` // extra
}
