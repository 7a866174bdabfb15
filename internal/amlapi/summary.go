package amlapi

// The summary of a result document (see document.go): what the completed
// event says about a result, with no personal data in it: counts,
// enumerations and block names. It is read through the typed decoders, so
// it follows their tolerance: unknown fields and enum values never fail
// it, and a block that came back empty is told from one left out.
//
// The contract's kybflow.Summary has the same JSON shape (the handler
// converts one into the other); docs/contract.md ("The summary") documents
// it, with the mappings below.

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// Summary is what can be said of a result document without personal data.
// Exactly one of Organization and BeneficialOwners is set, by the kind of
// the document.
type Summary struct {
	Organization     *OrganizationSummary     `json:"organization,omitempty"`
	BeneficialOwners *BeneficialOwnersSummary `json:"beneficialOwners,omitempty"`
	// Empty names the requested blocks that came back as empty nodes
	// (searched, nothing found), in document order.
	Empty []string `json:"empty,omitempty"`
	// Omitted names the requested blocks the API left out (absent or
	// null), in document order; for a beneficial owners document, also the
	// requested expands left out for lack of National Registry access, in
	// the order requested.
	Omitted []string `json:"omitted,omitempty"`
}

// OrganizationSummary summarises an organization document. A count is nil
// when its block is neither present nor empty (not requested, or left
// out), and 0 when it came back empty.
type OrganizationSummary struct {
	// Status is keyInformation.status in lower snake case (ACTIVE is
	// active, UNDER_LIQUIDATION under_liquidation), or StatusUnknown when
	// there is none or it is not a code (see lowerSnake).
	Status   string          `json:"status"`
	Sanction SanctionOutcome `json:"sanction"`
	Roles    *int            `json:"roles,omitempty"`
	// SignatureRights counts the signature-right rules. The model holds
	// one rule (a description and its persons) in
	// authorities.signatureRights, so it is 1 when that is present and 0
	// when it or authorities came back empty.
	SignatureRights  *int `json:"signatureRights,omitempty"`
	BeneficialOwners *int `json:"beneficialOwners,omitempty"`
	Shareholders     *int `json:"shareholders,omitempty"`
	Subsidiaries     *int `json:"subsidiaries,omitempty"`
}

// BeneficialOwnersSummary summarises a beneficial owners document.
type BeneficialOwnersSummary struct {
	// Owners is the number of beneficial owners; nil when the document
	// has no beneficialOwners list.
	Owners *int `json:"owners,omitempty"`
	// DetailsWithheld: there are owners, and a requested National Registry
	// field (citizenship, birthplace, ssn) was left out for lack of access.
	DetailsWithheld bool `json:"detailsWithheld"`
}

// SanctionOutcome is the outcome of the sanction screening.
type SanctionOutcome string

// The sanction outcomes. A sanction block whose status is HIT, or any
// status but NO_HIT (POSSIBLE_HIT, a value this model does not know), or
// which lists a match, is a hit: a screening the summary cannot read is
// looked at, never passed. NO_HIT without matches, no status without
// matches, and an empty block ({}: screened, nothing found) are no hit. No
// sanction block is not requested (when it was requested and left out,
// Omitted names it too).
const (
	OutcomeHit          SanctionOutcome = "hit"
	OutcomeNoHit        SanctionOutcome = "no_hit"
	OutcomeNotRequested SanctionOutcome = "not_requested"
)

// StatusUnknown is OrganizationSummary.Status when the document gives none
// that reads as a code.
const StatusUnknown = "unknown"

// Summarize summarises a result document of kind (the JSON behind a
// session's jsonData link) for a session created with requested expands
// (the expands sent, links.reports.<type> included). It fails only when
// the typed decoder does.
func Summarize(kind Kind, doc []byte, requested []string) (*Summary, error) {
	switch kind {
	case KindOrganization:
		d, err := DecodeOrganization(bytes.NewReader(doc))
		if err != nil {
			return nil, err
		}
		return d.Summary(requested), nil
	case KindBeneficial:
		d, err := DecodeBeneficialOwners(bytes.NewReader(doc))
		if err != nil {
			return nil, err
		}
		return d.Summary(requested), nil
	}
	return nil, fmt.Errorf("summarize a document of kind %q: unknown kind", kind)
}

// Summary summarises the document for a session created with requested
// expands (see Summarize).
func (d *OrganizationDocument) Summary(requested []string) *Summary {
	blocks := d.blockStates()
	o := d.Ownership.Value
	s := &Summary{Organization: &OrganizationSummary{
		Status:           d.status(),
		Sanction:         d.sanctionOutcome(),
		Roles:            count(blocks["roles"], len(d.Roles.Value)),
		SignatureRights:  count(d.signatureRights(), 1),
		BeneficialOwners: count(blocks["ownership.beneficials"], len(o.Beneficials.Value)),
		Shareholders:     count(blocks["ownership.shareholders"], len(o.Shareholders.Value)),
		Subsidiaries:     count(blocks["ownership.subsidiaries"], len(o.Subsidiaries.Value)),
	}}
	for _, b := range RequestedBlocks(requested) {
		switch blocks[b] {
		case Empty:
			s.Empty = append(s.Empty, b)
		case NotRequested:
			s.Omitted = append(s.Omitted, b)
		}
	}
	return s
}

// blockStates is the presence of each of organizationBlocks. A block
// inside a parent that came back empty ({}: searched, nothing found) is
// empty too, not "not requested" as Presences has it.
func (d *OrganizationDocument) blockStates() map[string]Presence {
	all := map[string]Presence{}
	for _, p := range d.Presences() {
		all[p.Path] = p.State
	}
	out := map[string]Presence{}
	for _, b := range organizationBlocks {
		out[b] = all[b]
		if parent, _, ok := strings.Cut(b, "."); ok && all[parent] == Empty {
			out[b] = Empty
		}
	}
	return out
}

// status is keyInformation.status as OrganizationSummary.Status says.
func (d *OrganizationDocument) status() string {
	if d.KeyInformation.State != Present {
		return StatusUnknown
	}
	if s := lowerSnake(string(d.KeyInformation.Value.Status)); s != "" {
		return s
	}
	return StatusUnknown
}

// sanctionOutcome maps the sanction block as SanctionOutcome says.
func (d *OrganizationDocument) sanctionOutcome() SanctionOutcome {
	switch d.Sanction.State {
	case NotRequested:
		return OutcomeNotRequested
	case Empty:
		return OutcomeNoHit
	}
	s := d.Sanction.Value
	if len(s.Matches) > 0 || (s.Status != "" && s.Status != SanctionNoHit) {
		return OutcomeHit
	}
	return OutcomeNoHit
}

// signatureRights is the presence of the signature-right rule: that of
// authorities.signatureRights, or Empty when authorities came back empty.
func (d *OrganizationDocument) signatureRights() Presence {
	if d.Authorities.State != Present {
		return d.Authorities.State
	}
	return d.Authorities.Value.SignatureRights.State
}

// Summary summarises the document for a session created with requested
// expands (see Summarize).
func (d *BeneficialOwnersDocument) Summary(requested []string) *Summary {
	owners := d.BeneficialOwners
	s := &Summary{BeneficialOwners: &BeneficialOwnersSummary{Owners: count(owners.State, len(owners.Value))}}
	switch owners.State {
	case Empty:
		s.Empty = []string{"beneficialOwners"}
	case NotRequested:
		s.Omitted = []string{"beneficialOwners"}
	}
	withheld := d.withheld(requested)
	s.Omitted = append(s.Omitted, withheld...)
	s.BeneficialOwners.DetailsWithheld = owners.State == Present && len(withheld) > 0
	return s
}

// withheld are the requested National Registry expands that the document
// left out for lack of access, in the order requested (model): those its
// metadata.omittedFields names and, when its metadata.nationalRegistry
// says the access is MISSING or PENDING, those that no owner carries
// (without the access the API leaves them out: confirmed).
func (d *BeneficialOwnersDocument) withheld(requested []string) []string {
	noAccess := d.Metadata.NationalRegistry == AccessMissing || d.Metadata.NationalRegistry == AccessPending
	var out []string
	for _, e := range requested {
		if !slices.Contains(BeneficialExpands, e) || slices.Contains(out, e) {
			continue
		}
		if slices.Contains(d.Metadata.OmittedFields, e) || noAccess && !d.anyOwnerHas(e) {
			out = append(out, e)
		}
	}
	return out
}

// anyOwnerHas reports whether an owner carries the National Registry
// field of expand e (even as an empty node).
func (d *BeneficialOwnersDocument) anyOwnerHas(e string) bool {
	return slices.ContainsFunc(d.BeneficialOwners.Value, func(o BeneficialOwner) bool {
		switch e {
		case "citizenship":
			return o.Citizenship.State != NotRequested
		case "birthplace":
			return o.Birthplace.State != NotRequested
		case "ssn", "identificationNumber":
			return o.SSN != nil
		}
		return false
	})
}

// count is n for a Present block, 0 for an Empty one and nil otherwise.
func count(p Presence, n int) *int {
	switch p {
	case Present:
		return &n
	case Empty:
		zero := 0
		return &zero
	}
	return nil
}

// maxStatusLength bounds OrganizationSummary.Status.
const maxStatusLength = 64

// lowerSnake is a status code in lower snake case: ACTIVE is active,
// UNDER_LIQUIDATION, "Under liquidation", under-liquidation and
// underLiquidation are under_liquidation. It is "" when s has a character
// other than an ASCII letter, digit, space, _, -, . or / (it is then no
// code but text, which the summary does not repeat), or when the result
// would be longer than maxStatusLength.
func lowerSnake(s string) string {
	var b []byte
	gap, afterLower := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			if gap && len(b) > 0 {
				b = append(b, '_')
			}
			b = append(b, c)
			gap, afterLower = false, true
		case 'A' <= c && c <= 'Z':
			if (gap || afterLower) && len(b) > 0 {
				b = append(b, '_')
			}
			b = append(b, c+'a'-'A')
			gap, afterLower = false, false
		case c == ' ' || c == '_' || c == '-' || c == '.' || c == '/':
			gap, afterLower = true, false
		default:
			return ""
		}
		if len(b) > maxStatusLength {
			return ""
		}
	}
	return string(b)
}
