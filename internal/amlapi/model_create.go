package amlapi

// The create-session call (see model.go): its body, report types and expands
// (model body; confirmed parameters).

import "strings"

// ReportType names a PDF report. Unknown values are tolerated.
type ReportType string

// Report types (confirmed names).
const (
	ReportAML                        ReportType = "aml"
	ReportCertificateOfIncorporation ReportType = "certificate_of_incorporation"
)

// Canonical is r in lower case with every character other than a-z, 0-9
// and _ made _ (model): the guides spell report types both ways
// (aml-report is a key, certificate_of_incorporation a type), so
// "Certificate-Of-Incorporation" and certificate_of_incorporation are one
// report. Types are compared, and reports stored, in this form.
func (r ReportType) Canonical() ReportType {
	b := []byte(r)
	for i, c := range b {
		switch {
		case 'A' <= c && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '_':
		default:
			b[i] = '_'
		}
	}
	return ReportType(b)
}

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
	"keyInformation.lei",
	"address",
	"financials", "financials.accounting", "financials.keyFigures", "financials.auditor", "financials.accountant",
	"financials.credit",
	"ownership", "ownership.beneficials", "ownership.subsidiaries", "ownership.shareholders", "ownership.indicators",
	"authorities", "roles",
	"sanction", "sanction.ofac",
	"links.reports.aml", "links.reports.certificate_of_incorporation",
}

// Beneficial owners expands (confirmed): each needs National Registry access.
// identificationNumber is the guide's name of the identity number, ssn the
// older one (both sent as given; the result carries the number as
// identificationNumber either way: see BeneficialOwner.SSN).
var BeneficialExpands = []string{"citizenship", "birthplace", "ssn", "identificationNumber"}

// IdentityNumberExpands are the two names of the identity-number expand.
var IdentityNumberExpands = []string{"ssn", "identificationNumber"}

// organizationBlocks are the blocks of an organization document that an
// expand can request, by their paths in OrganizationDocument.Presences and
// in its order: keyInformation (which always comes back) and the leaves
// of the expands above. A parent (financials, ownership, links) is not a
// block of its own here: its children are.
var organizationBlocks = []string{
	"keyInformation", "address",
	"financials.accounting", "financials.keyFigures", "financials.auditor", "financials.accountant", "financials.credit",
	"ownership.beneficials", "ownership.subsidiaries", "ownership.shareholders", "ownership.indicators",
	"authorities", "roles", "sanction", "links.reports",
}

// RequestedBlocks are the blocks of an organization document (see
// organizationBlocks) that a session created with expands asks for, in
// document order (model): keyInformation always; an expand naming a block,
// that block; a parent expand (financials, ownership), its children except
// those that need an extra scope (financials.credit, RequiredScope); an
// expand below a block (sanction.ofac, links.reports.<type>), that block.
// An expand this model does not know asks for nothing.
func RequestedBlocks(expands []string) []string {
	var out []string
	for _, b := range organizationBlocks {
		asked := b == "keyInformation"
		for _, e := range expands {
			switch {
			case e == b, strings.HasPrefix(e, b+"."):
				asked = true
			case strings.HasPrefix(b, e+".") && RequiredScope(b) == "":
				asked = true
			}
		}
		if asked {
			out = append(out, b)
		}
	}
	return out
}

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

// ---- Identifiers on the wire (model) ----

// The identifier is sent in the canonical form of internal/identifier
// (Normalize): 9 digits for a Norwegian organization number or a DUNS
// number, 10 digits without the dash for a Swedish organization number, and
// NNNNNNN-C for a Finnish business ID.
