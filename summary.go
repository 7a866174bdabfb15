package kybflow

// The summary of a lookup's result in its completed event.

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
)

// Summary is what a completed event says about the lookup's JSON result:
// counts, enumerations and block names, never personal data (no names,
// identifiers, dates or addresses). The worker reads it from the JSON while
// it stores it (docs/contract.md, "The summary"). When it could not,
// Unavailable says why and nothing else is set.
//
// A completed event has none when a worker older than the summary stored
// the lookup's JSON or ended it.
type Summary struct {
	// Unavailable says why the result has no summary: SummaryTooLarge or
	// SummaryUnreadable. Empty when it has one.
	Unavailable SummaryUnavailable `json:"unavailable,omitempty"`
	// Organization summarises an organization lookup's result.
	Organization *OrganizationSummary `json:"organization,omitempty"`
	// BeneficialOwners summarises a beneficial owners lookup's result.
	BeneficialOwners *BeneficialOwnersSummary `json:"beneficialOwners,omitempty"`
	// Empty names the requested blocks that came back empty: searched,
	// nothing found (e.g. ownership.subsidiaries, beneficialOwners).
	Empty []string `json:"empty,omitempty"`
	// Omitted names the requested blocks the API left out, and, for a
	// beneficial owners lookup, the requested expands it left out for lack
	// of National Registry access (citizenship, birthplace, ssn: what
	// CompletedData.OmittedExpands says too).
	Omitted []string `json:"omitted,omitempty"`
}

// SummaryUnavailable says why a result has no summary.
type SummaryUnavailable string

// Why a result has no summary.
const (
	// SummaryTooLarge: the JSON is larger than the worker reads (4 MiB).
	SummaryTooLarge SummaryUnavailable = "too_large"
	// SummaryUnreadable: the JSON is not the document the worker knows
	// (invalid JSON, or a field of an unexpected type).
	SummaryUnreadable SummaryUnavailable = "unreadable"
)

// OrganizationSummary summarises an organization result. A count is absent
// when its block was not requested or was left out, and 0 when it came back
// empty.
type OrganizationSummary struct {
	// Status is the organization's registry status as the JSON gives it,
	// in lower snake case (StatusActive, StatusBankrupt, ... or any other
	// value the API sends), or StatusUnknown.
	Status OrganizationStatus `json:"status"`
	// Sanction is the outcome of the sanction screening.
	Sanction SanctionOutcome `json:"sanction"`
	// Roles counts the roles (CEO, chairman, board members, auditor, ...).
	Roles *int `json:"roles,omitempty"`
	// SignatureRights counts the signature-right rules.
	SignatureRights  *int `json:"signatureRights,omitempty"`
	BeneficialOwners *int `json:"beneficialOwners,omitempty"`
	Shareholders     *int `json:"shareholders,omitempty"`
	Subsidiaries     *int `json:"subsidiaries,omitempty"`
}

// BeneficialOwnersSummary summarises a beneficial owners result.
type BeneficialOwnersSummary struct {
	// Owners counts the beneficial owners; absent when the API left the
	// list out.
	Owners *int `json:"owners,omitempty"`
	// DetailsWithheld: an owner's requested National Registry details
	// (citizenship, birthplace, ssn) were left out for lack of access.
	DetailsWithheld bool `json:"detailsWithheld"`
}

// OrganizationStatus is an organization's registry status in lower snake
// case. Values other than the constants are the API's own.
type OrganizationStatus string

// Organization statuses. StatusUnknown: the JSON gives none that reads as
// a code.
const (
	StatusActive           OrganizationStatus = "active"
	StatusUnderLiquidation OrganizationStatus = "under_liquidation"
	StatusBankrupt         OrganizationStatus = "bankrupt"
	StatusDissolved        OrganizationStatus = "dissolved"
	StatusUnknown          OrganizationStatus = "unknown"
)

// SanctionOutcome is the outcome of a sanction screening.
type SanctionOutcome string

// Sanction outcomes. An uncertain match (a possible hit) is a hit.
const (
	SanctionHit          SanctionOutcome = "hit"
	SanctionNoHit        SanctionOutcome = "no_hit"
	SanctionNotRequested SanctionOutcome = "not_requested"
)

// Limits of a summary (the schema's too).
const (
	maxSummaryName  = 64 // a status or a block name, in bytes
	maxSummaryNames = 32 // block names in Empty or Omitted
)

var (
	statusPattern    = regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)*$`)
	blockNamePattern = regexp.MustCompile(`^[A-Za-z]+(\.[A-Za-z]+)*$`)
)

// Validate reports whether s may be in a completed event: known
// enumerations, a status and block names of the schema's patterns,
// distinct block names, no negative count. NewEvent checks it.
func (s *Summary) Validate() error {
	var errs []error
	switch s.Unavailable {
	case "", SummaryTooLarge, SummaryUnreadable:
	default:
		errs = append(errs, fmt.Errorf("unknown unavailable %q", s.Unavailable))
	}
	if o := s.Organization; o != nil {
		if len(o.Status) > maxSummaryName || !statusPattern.MatchString(string(o.Status)) {
			errs = append(errs, fmt.Errorf("status %q is not lower snake case", o.Status))
		}
		if !slices.Contains([]SanctionOutcome{SanctionHit, SanctionNoHit, SanctionNotRequested}, o.Sanction) {
			errs = append(errs, fmt.Errorf("unknown sanction outcome %q", o.Sanction))
		}
		errs = append(errs, checkCounts(o.Roles, o.SignatureRights, o.BeneficialOwners, o.Shareholders, o.Subsidiaries))
	}
	if b := s.BeneficialOwners; b != nil {
		errs = append(errs, checkCounts(b.Owners))
	}
	errs = append(errs, checkBlockNames("empty", s.Empty), checkBlockNames("omitted", s.Omitted))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	return nil
}

func checkCounts(counts ...*int) error {
	for _, n := range counts {
		if n != nil && *n < 0 {
			return fmt.Errorf("negative count %d", *n)
		}
	}
	return nil
}

func checkBlockNames(field string, names []string) error {
	if len(names) > maxSummaryNames {
		return fmt.Errorf("%s: %d block names; the limit is %d", field, len(names), maxSummaryNames)
	}
	for i, n := range names {
		if len(n) > maxSummaryName || !blockNamePattern.MatchString(n) {
			return fmt.Errorf("%s: %q is not a block name", field, n)
		}
		if slices.Contains(names[:i], n) {
			return fmt.Errorf("%s: %q twice", field, n)
		}
	}
	return nil
}

// Clone returns a copy of s that shares nothing with it (nil for nil).
func (s *Summary) Clone() *Summary {
	if s == nil {
		return nil
	}
	c := *s
	if s.Organization != nil {
		o := *s.Organization
		o.Roles, o.SignatureRights, o.BeneficialOwners = cloneCount(o.Roles), cloneCount(o.SignatureRights), cloneCount(o.BeneficialOwners)
		o.Shareholders, o.Subsidiaries = cloneCount(o.Shareholders), cloneCount(o.Subsidiaries)
		c.Organization = &o
	}
	if s.BeneficialOwners != nil {
		b := *s.BeneficialOwners
		b.Owners = cloneCount(b.Owners)
		c.BeneficialOwners = &b
	}
	c.Empty, c.Omitted = slices.Clone(s.Empty), slices.Clone(s.Omitted)
	return &c
}

func cloneCount(n *int) *int {
	if n == nil {
		return nil
	}
	v := *n
	return &v
}

// normalize makes empty lists nil, as they are encoded (absent), so that a
// decoded summary re-encodes and re-decodes to itself.
func (s *Summary) normalize() {
	if len(s.Empty) == 0 {
		s.Empty = nil
	}
	if len(s.Omitted) == 0 {
		s.Omitted = nil
	}
}
