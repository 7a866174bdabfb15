package amlapi

// Owners (see document.go): the ownership block of an organization document,
// and the beneficial owners document, which share BeneficialOwner.

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math"
	"strconv"
)

// ---- Ownership block (organization document) ----

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
	// documents, only when expanded (citizenship, birthplace, and ssn or
	// the guide's identificationNumber) and only when our National Registry
	// access allows it; otherwise they are NotRequested (or nil).
	Citizenship Block[[]string]   `json:"citizenship,omitzero"` // ISO 3166 alpha-2 codes
	Birthplace  Block[Birthplace] `json:"birthplace,omitzero"`
	// SSN is the identity number, read from identificationNumber (the
	// guide's name; model spelling) or ssn (the older model), and written
	// as identificationNumber.
	SSN *SSN `json:"identificationNumber,omitzero"`
}

// UnmarshalJSON reads the owner in the guide's shape and in the older
// model's (ssn for identificationNumber).
func (o *BeneficialOwner) UnmarshalJSON(data []byte) error {
	type plain BeneficialOwner
	var w struct {
		plain
		OldSSN *SSN `json:"ssn"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*o = BeneficialOwner(w.plain)
	if o.SSN == nil {
		o.SSN = w.OldSSN
	}
	return nil
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

// Indicators flag ownership structures that call for a closer look. The
// organization guide gives them as "a set of numbers" (model names and
// meanings, see GuideNames); nil means not given. The older model's
// booleans are still read, true as 1 and false as 0.
type Indicators struct {
	// ComplexOwnership: how complex the ownership is (0: simple).
	ComplexOwnership *Indicator `json:"complexOwnership,omitzero"`
	// ForeignOwnership: the share of the ownership held from abroad, in
	// percent.
	ForeignOwnership *Indicator `json:"foreignOwnership,omitzero"`
	// PubliclyListed: 1 when the organization is listed, else 0.
	PubliclyListed *Indicator `json:"publiclyListed,omitzero"`
	// OwnershipLayers: the layers of ownership above the organization.
	OwnershipLayers *Indicator `json:"ownershipLayers,omitzero"`
	// BeneficialOwnersUnknown: the share of the ownership whose beneficial
	// owners are not known, in percent.
	BeneficialOwnersUnknown *Indicator `json:"beneficialOwnersUnknown,omitzero"`
	Metadata                Metadata   `json:"metadata,omitzero"`
}

// Indicator is one ownership indicator: a number. A JSON boolean (the
// older model) reads as 1 or 0, a string holding a number as that number;
// any other value as no value (0), never an error.
type Indicator float64

// UnmarshalJSON reads a number, a boolean or a numeric string.
func (n *Indicator) UnmarshalJSON(data []byte) error {
	*n = 0
	switch d := bytes.TrimSpace(data); {
	case string(d) == "true":
		*n = 1
	case len(d) > 0 && d[0] == '"':
		if f, err := strconv.ParseFloat(jsonString(d), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			*n = Indicator(f)
		}
	default:
		var f float64
		if json.Unmarshal(d, &f) == nil {
			*n = Indicator(f)
		}
	}
	return nil
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
