package kybflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/kybflow/kybflow/identifier"
)

// Limits of the contract. Lengths count characters (Unicode code points),
// sizes count bytes.
const (
	// MaxCommandSize is the largest command ParseCommand accepts.
	MaxCommandSize = 64 << 10
	// MaxMetadataSize is the largest metadata object, in bytes as sent
	// (which events echo byte for byte).
	MaxMetadataSize = 16 << 10
	// MaxLookupIDLength is the longest lookupId.
	MaxLookupIDLength = 128
	// MaxCorrelationIDLength is the longest correlationId.
	MaxCorrelationIDLength = 256
	// MaxIdentifierLength is the longest identifier, as written.
	MaxIdentifierLength = 64
)

// LookupType is what a lookup asks for.
type LookupType string

// The lookup types.
const (
	TypeOrganization     LookupType = "organization"
	TypeBeneficialOwners LookupType = "beneficial_owners"
)

// Country is the country of an organization lookup (ISO 3166 alpha-2).
type Country string

// The countries. Beneficial owner lookups are always NO.
const (
	CountryNO Country = "NO"
	CountrySE Country = "SE"
	CountryFI Country = "FI"
)

// IdentifierType says which kind of number LookupCommand.Identifier is. A
// 9-digit value can be a Norwegian organization number or a DUNS number and
// the digits cannot tell, so the caller says (see docs/identifiers.md).
type IdentifierType string

// The identifier types.
const (
	// IdentifierOrganizationNumber (the default) is the organization
	// number of the lookup's country, validated with its check digit.
	IdentifierOrganizationNumber IdentifierType = "organization_number"
	// IdentifierDUNS is a 9-digit D-U-N-S number, of any country.
	IdentifierDUNS IdentifierType = "duns"
)

// Kind returns the identifier kind that value is checked as in country c,
// and false when t or c is unknown.
func (t IdentifierType) Kind(c Country) (identifier.Kind, bool) {
	switch t {
	case IdentifierDUNS:
		return identifier.DUNS, true
	case IdentifierOrganizationNumber:
		if !c.valid() {
			return "", false
		}
		return identifier.ForCountry(string(c))
	}
	return "", false
}

// ReportType names a PDF report a lookup can store.
type ReportType string

// The report types (the same names as amlapi.ReportType).
const (
	ReportAML                        ReportType = "aml"
	ReportCertificateOfIncorporation ReportType = "certificate_of_incorporation"
)

// The enumerations duplicated from internal/amlapi (TestEnumsMatchAMLAPI
// keeps them equal). Unexported so nobody can change them; the exported
// functions below return copies.
var (
	organizationExpands = []string{
		"keyInformation.lei",
		"address",
		"financials", "financials.accounting", "financials.keyFigures", "financials.auditor", "financials.accountant",
		"financials.credit",
		"ownership", "ownership.beneficials", "ownership.subsidiaries", "ownership.shareholders", "ownership.indicators",
		"authorities", "roles",
		"sanction", "sanction.ofac",
		"links.reports.aml", "links.reports.certificate_of_incorporation",
	}
	beneficialOwnerExpands = []string{"citizenship", "birthplace", "ssn", "identificationNumber"}
	languages              = []string{"en", "no", "nb", "nn"}
)

// OrganizationExpands returns the expands an organization lookup accepts.
func OrganizationExpands() []string { return slices.Clone(organizationExpands) }

// BeneficialOwnerExpands returns the expands a beneficial owners lookup
// accepts. Each needs National Registry access; without it the lookup still
// succeeds and leaves those fields out.
func BeneficialOwnerExpands() []string { return slices.Clone(beneficialOwnerExpands) }

// Languages returns the languages a command accepts.
func Languages() []string { return slices.Clone(languages) }

// ReportTypes returns the reports a lookup of type t accepts: aml and
// certificate_of_incorporation for organizations, aml for beneficial owners.
func ReportTypes(t LookupType) []ReportType {
	if t == TypeBeneficialOwners {
		return []ReportType{ReportAML}
	}
	return []ReportType{ReportAML, ReportCertificateOfIncorporation}
}

// Expands returns the expands a lookup of type t accepts.
func Expands(t LookupType) []string {
	if t == TypeBeneficialOwners {
		return BeneficialOwnerExpands()
	}
	return OrganizationExpands()
}

func (t LookupType) valid() bool { return t == TypeOrganization || t == TypeBeneficialOwners }
func (c Country) valid() bool    { return c == CountryNO || c == CountrySE || c == CountryFI }
func (t IdentifierType) valid() bool {
	return t == IdentifierOrganizationNumber || t == IdentifierDUNS
}

// LookupCommand asks the worker to look up an organization or its
// beneficial owners. Publish it to Subjects.CommandLookup with EncodeCommand,
// with the Nats-Msg-Id header set to LookupID.
//
// A command returned by ParseCommand is valid and normalised: Country and
// IdentifierType are set (NO and organization_number by default),
// Identifier is in canonical form (identifier.Normalize), duplicate expands
// and reports are dropped, empty lists are nil, and Metadata is the
// command's object byte for byte (without the whitespace around it) or nil.
type LookupCommand struct {
	// LookupID is the caller's idempotency key, [A-Za-z0-9_-]{1,128}: one
	// lookupId is one lookup. It names the events' subjects and the
	// artifacts' keys. Required.
	LookupID string `json:"lookupId"`
	// Tenant is the platform's tenant (tenant.go), when the deployment
	// keeps platforms apart: not a field platforms send (ParseCommand
	// ignores it in a body), but where the command was published
	// (Subjects.CommandTenant), set by the worker, and by Client from
	// WithTenant. The lookup is then named Key(): <tenant>.<lookupId>.
	Tenant string `json:"tenant,omitempty"`
	// Type is organization or beneficial_owners. Required.
	Type LookupType `json:"type"`
	// Country is NO, SE or FI; NO when absent. Beneficial owner lookups
	// are Norwegian: absent or NO.
	Country Country `json:"country,omitempty"`
	// IdentifierType is organization_number (default) or duns.
	IdentifierType IdentifierType `json:"identifierType,omitempty"`
	// Identifier is the organization number (of Country) or DUNS number.
	// Required.
	Identifier string `json:"identifier"`
	// Expands selects the blocks of the result (see Expands).
	Expands []string `json:"expands,omitempty"`
	// Reports selects PDF reports (see ReportTypes).
	Reports []ReportType `json:"reports,omitempty"`
	// Language of the reports: en, no, nb or nn.
	Language string `json:"language,omitempty"`
	// CorrelationID is the caller's own reference, echoed in every event.
	// It may be personal: it is never logged.
	CorrelationID string `json:"correlationId,omitempty"`
	// Metadata is a JSON object echoed byte for byte in every event (its
	// whitespace, escapes and member order kept). It may be personal: it is
	// never logged and never stored with the artifacts.
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// Monitor links a monitor's run to its monitor. The worker sets it on
	// the runs it makes; ParseCommand never reads it from a platform.
	Monitor *MonitorRun `json:"monitor,omitempty"`
}

// CommandError says why a command was rejected. ParseCommand returns it as
// error; get it with errors.As.
type CommandError struct {
	// Code is CodeInvalidCommand or CodeInvalidIdentifier.
	Code FailureCode
	// Field is the JSON name of the offending field, or "" when the
	// command as a whole is wrong (not JSON, too large).
	Field string
	// Reason is a readable, self-contained explanation.
	Reason string
	// LookupID is the command's lookupId when it could be read, so that
	// the worker can publish a failed event instead of a dead letter.
	LookupID string
	// CorrelationID and Metadata are the command's, when they could be
	// read and are valid, to echo in the failed event.
	CorrelationID string
	Metadata      json.RawMessage

	err error // the identifier error, for errors.Is(err, identifier.ErrInvalid)
}

func (e *CommandError) Error() string { return string(e.Code) + ": " + e.Reason }

// Unwrap returns the identifier error of an invalid_identifier error.
func (e *CommandError) Unwrap() error { return e.err }

// LogValue logs the error without the correlationId and metadata, and
// without the identifier's value (a mistyped organization number may be a
// personal identification number).
func (e *CommandError) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("code", string(e.Code))}
	if e.Field != "" {
		attrs = append(attrs, slog.String("field", e.Field))
	}
	if e.LookupID != "" {
		attrs = append(attrs, slog.String("lookupId", e.LookupID))
	}
	var idErr *identifier.Error
	if errors.As(e.err, &idErr) {
		attrs = append(attrs, slog.String("kind", string(idErr.Kind)), slog.String("reason", idErr.Reason))
	} else if e.Code == CodeInvalidIdentifier {
		attrs = append(attrs, slog.String("reason", "identifier too long"))
	} else {
		attrs = append(attrs, slog.String("reason", e.Reason))
	}
	return slog.GroupValue(attrs...)
}

// FailedData is the data of the failed event for the rejected command, and
// false when its lookupId could not be read (the command is a dead letter).
func (e *CommandError) FailedData() (FailedData, bool) {
	if e.LookupID == "" {
		return FailedData{}, false
	}
	return FailedData{
		LookupID:      e.LookupID,
		CorrelationID: e.CorrelationID,
		Metadata:      e.Metadata,
		Code:          e.Code,
		Reason:        e.Reason,
		Retryable:     e.Code.Retryable(),
	}, true
}

// ValidLookupID reports whether s is a valid lookupId: 1 to 128 of
// A-Z a-z 0-9 _ -. Such an id is a single NATS subject token and a safe
// object key segment.
func ValidLookupID(s string) bool {
	if len(s) == 0 || len(s) > MaxLookupIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenByte(s[i]) {
			return false
		}
	}
	return true
}

func tokenByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '_' || b == '-'
}

// EncodeCommand encodes c as JSON, after checking that ParseCommand accepts
// the result, so that a publisher never sends a command the worker rejects.
// The error is then ParseCommand's.
func EncodeCommand(c LookupCommand) ([]byte, error) {
	b, err := marshalKeeping(c, c.Metadata, "metadata")
	if err != nil {
		return nil, fmt.Errorf("encode command: %w", err)
	}
	if _, err := ParseCommand(b); err != nil {
		return nil, err
	}
	return b, nil
}

// LogValue logs the command without CorrelationID and Metadata, which are
// the caller's and may be personal; the identifier of an organization is
// not, but a value that is not a valid identifier of its kind might be (a
// personal number typed by mistake), so only a valid one is logged.
func (c LookupCommand) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("lookupId", c.LookupID),
		slog.String("type", string(c.Type)),
		slog.String("country", string(c.Country)),
	}
	if c.Tenant != "" {
		attrs = append(attrs, slog.String("tenant", c.Tenant))
	}
	if c.IdentifierType != "" {
		attrs = append(attrs, slog.String("identifierType", string(c.IdentifierType)))
	}
	if c.Identifier != "" {
		t := c.IdentifierType
		if t == "" {
			t = IdentifierOrganizationNumber
		}
		country := c.Country
		if country == "" {
			country = CountryNO
		}
		if k, ok := t.Kind(country); ok && identifier.Valid(k, c.Identifier) {
			attrs = append(attrs, slog.String("identifier", c.Identifier))
		} else {
			attrs = append(attrs, slog.String("identifier", "(invalid, not logged)"))
		}
	}
	if len(c.Expands) > 0 {
		attrs = append(attrs, slog.Any("expands", c.Expands))
	}
	if len(c.Reports) > 0 {
		attrs = append(attrs, slog.Any("reports", c.Reports))
	}
	if c.Language != "" {
		attrs = append(attrs, slog.String("language", c.Language))
	}
	if len(c.Metadata) > 0 {
		attrs = append(attrs, slog.Int("metadataBytes", len(c.Metadata)))
	}
	return slog.GroupValue(attrs...)
}

// String describes c without CorrelationID and Metadata, so that printing a
// command with %v does not leak them either.
func (c LookupCommand) String() string {
	return "LookupCommand" + c.LogValue().String()
}
