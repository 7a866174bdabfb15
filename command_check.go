package kybflow

// Checking a command's fields: one check per field, on typed values, which
// ParseCommand applies in order (stopping at the first problem, with the
// JSON's own type errors before them) and Validate applies all at once.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/kybflow/kybflow/identifier"
)

func checkLookupID(id string, present bool) *CommandError {
	switch {
	case id == "" && !present:
		return fieldError("lookupId", "lookupId is required")
	case !ValidLookupID(id):
		return fieldError("lookupId", fmt.Sprintf("lookupId %s must match [A-Za-z0-9_-]{1,128}", quote(id)))
	}
	return nil
}

func checkCorrelationID(s string) *CommandError {
	if n := utf8.RuneCountInString(s); n > MaxCorrelationIDLength {
		return fieldError("correlationId", fmt.Sprintf("correlationId is %d characters; the limit is %d", n, MaxCorrelationIDLength))
	}
	return nil
}

// checkMetadata returns the metadata as it was sent, byte for byte (only
// the whitespace around the object dropped), when it is a JSON object of
// at most MaxMetadataSize bytes as sent: events echo those bytes.
func checkMetadata(raw []byte) ([]byte, *CommandError) {
	m, err := metadataObject(raw)
	if err != nil {
		return nil, fieldError("metadata", "metadata must be a JSON object")
	}
	if len(m) > MaxMetadataSize {
		return nil, fieldError("metadata", fmt.Sprintf("metadata is %d bytes; the limit is %d", len(m), MaxMetadataSize))
	}
	return m, nil
}

func checkType(t LookupType, present bool) *CommandError {
	switch {
	case !present:
		return fieldError("type", "type is required; want organization or beneficial_owners")
	case !t.valid():
		return fieldError("type", fmt.Sprintf("type %s is unknown; want organization or beneficial_owners", quote(string(t))))
	}
	return nil
}

// checkCountry checks a present country against the (valid) type.
func checkCountry(c Country, t LookupType) *CommandError {
	switch {
	case !c.valid():
		return fieldError("country", fmt.Sprintf("country %s is unknown; want NO, SE or FI", quote(string(c))))
	case t == TypeBeneficialOwners && c != CountryNO:
		return fieldError("country", fmt.Sprintf("country %s is not available for beneficial_owners lookups, which are Norwegian; want NO or no country", quote(string(c))))
	}
	return nil
}

// checkIdentifierType checks a present identifierType.
func checkIdentifierType(it IdentifierType) *CommandError {
	if !it.valid() {
		return fieldError("identifierType", fmt.Sprintf("identifierType %s is unknown; want organization_number or duns", quote(string(it))))
	}
	return nil
}

// checkIdentifier returns the identifier in canonical form; it and c are
// valid.
func checkIdentifier(s string, present bool, it IdentifierType, c Country) (string, *CommandError) {
	if !present || strings.TrimSpace(s) == "" {
		// Missing, null or empty is a malformed command, not an identifier
		// that failed its rules.
		return "", fieldError("identifier", "identifier is required")
	}
	kind, _ := it.Kind(c)
	if n := utf8.RuneCountInString(s); n > MaxIdentifierLength {
		e := fieldError("identifier", fmt.Sprintf("invalid %s: %d characters; the limit is %d", kind.Description(), n, MaxIdentifierLength))
		e.Code, e.err = CodeInvalidIdentifier, fmt.Errorf("%w: %d characters", identifier.ErrInvalid, n)
		return "", e
	}
	norm, err := identifier.Normalize(kind, s)
	if err != nil {
		e := fieldError("identifier", err.Error())
		e.Code, e.err = CodeInvalidIdentifier, err
		return "", e
	}
	return norm, nil
}

// checkExpands checks the expands against the (valid) type.
func checkExpands(expands []string, t LookupType) *CommandError {
	allowed := Expands(t)
	for _, x := range expands {
		if !slices.Contains(allowed, x) {
			return fieldError("expands", fmt.Sprintf("expand %s is not available for %s lookups; want one of %s", quote(x), t, strings.Join(allowed, ", ")))
		}
	}
	return nil
}

// checkReports checks the reports against the (valid) type.
func checkReports(reports []ReportType, t LookupType) *CommandError {
	for _, x := range reports {
		if !slices.Contains(ReportTypes(t), x) {
			return fieldError("reports", fmt.Sprintf("report %s is not available for %s lookups; want %s", quote(string(x)), t, joinReports(ReportTypes(t))))
		}
	}
	return nil
}

// checkLanguage checks a present language.
func checkLanguage(l string) *CommandError {
	if !slices.Contains(languages, l) {
		return fieldError("language", fmt.Sprintf("language %s is unknown; want one of %s", quote(l), strings.Join(languages, ", ")))
	}
	return nil
}

// Validate reports every problem of c at once, joined (errors.Join), each a
// *CommandError naming its field with the reason ParseCommand would give;
// nil when ParseCommand would accept c's JSON. An absent Country or
// IdentifierType is the default, as in a command; a check that depends on
// an invalid field (the expands of an unknown type) is left out. A tenant,
// when set, must be valid too.
func (c LookupCommand) Validate() error {
	var errs []error
	add := func(e *CommandError) {
		if e != nil {
			errs = append(errs, e)
		}
	}
	add(checkLookupID(c.LookupID, c.LookupID != ""))
	if c.Tenant != "" && !ValidTenant(c.Tenant) {
		add(fieldError("tenant", fmt.Sprintf("tenant %s must match [A-Za-z0-9_-]{1,%d}", quote(c.Tenant), MaxTenantLength)))
	}
	add(checkCorrelationID(c.CorrelationID))
	if len(c.Metadata) > 0 {
		_, e := checkMetadata(c.Metadata)
		add(e)
	}
	typeErr := checkType(c.Type, c.Type != "")
	add(typeErr)
	country, it := c.Country, c.IdentifierType
	if country == "" {
		country = CountryNO // absent: the default
	}
	if it == "" {
		it = IdentifierOrganizationNumber
	}
	if !country.valid() || typeErr == nil {
		add(checkCountry(country, c.Type)) // with an unknown type, only whether it is a country
	}
	add(checkIdentifierType(it))
	if country.valid() && it.valid() {
		_, e := checkIdentifier(c.Identifier, c.Identifier != "", it, country)
		add(e)
	} else if strings.TrimSpace(c.Identifier) == "" {
		add(fieldError("identifier", "identifier is required"))
	}
	if typeErr == nil {
		add(checkExpands(c.Expands, c.Type))
		add(checkReports(c.Reports, c.Type))
	}
	if c.Language != "" {
		add(checkLanguage(c.Language))
	}
	return errors.Join(errs...)
}
