package cli

import "github.com/kybflow/kybflow"

// lookupFlags are the flags that describe what a monitor's runs look up,
// as amlctl lookup's do (lookup.go registers its own, with the same
// names and meanings).
type lookupFlags struct {
	typ, country, idType, language string
	expands, reports               []string
	beneficialOwners               bool
}

// lookupFlagNames are the flags of lookupFlags.
var lookupFlagNames = []string{"type", "beneficial-owners", "country", "identifier-type", "expand", "report", "language"}

func (l *lookupFlags) register(f *flags) {
	f.String(&l.typ, "type", string(kybflow.TypeOrganization), "`TYPE` of lookup: organization or beneficial_owners")
	f.Bool(&l.beneficialOwners, "beneficial-owners", false, "shorthand for --type beneficial_owners (Norwegian organizations only)")
	f.String(&l.country, "country", string(kybflow.CountryNO), "the organization's `COUNTRY`: NO, SE or FI")
	f.String(&l.idType, "identifier-type", "", "what IDENTIFIER is, a `KIND`: organization_number or duns (empty: the worker's default, organization_number)")
	f.List(&l.expands, "expand", "a result `BLOCK` to include (listed below); repeatable or comma-separated: --expand roles,ownership")
	f.List(&l.reports, "report", "a signed PDF `REPORT` to store: aml or certificate_of_incorporation (beneficial_owners: aml only); repeatable or comma-separated")
	f.String(&l.language, "language", "", "the reports' `LANGUAGE`: en, no, nb or nn (empty: the AML API's default)")
}

// anySet reports whether the command line set a lookup flag.
func (l *lookupFlags) anySet(f *flags) bool {
	for _, name := range lookupFlagNames {
		if f.fs.Lookup(name) != nil && f.isSet(name) {
			return true
		}
	}
	return false
}

// check resolves --beneficial-owners against --type.
func (l *lookupFlags) check(f *flags) error {
	if !l.beneficialOwners {
		return nil
	}
	if f.isSet("type") && l.typ != string(kybflow.TypeBeneficialOwners) {
		return usagef("--beneficial-owners contradicts --type %s", l.typ)
	}
	l.typ = string(kybflow.TypeBeneficialOwners)
	return nil
}

// command is the lookup of identifier the flags describe, without a
// lookupId.
func (l *lookupFlags) command(identifier string) kybflow.LookupCommand {
	c := kybflow.LookupCommand{Type: kybflow.LookupType(l.typ), Country: kybflow.Country(l.country),
		IdentifierType: kybflow.IdentifierType(l.idType), Identifier: identifier, Expands: l.expands, Language: l.language}
	for _, r := range l.reports {
		c.Reports = append(c.Reports, kybflow.ReportType(r))
	}
	return c
}
