package changes

// The identity of a list's entries: what makes an entry of one run the same
// entry in the next run, so that a reordered list is no change and an entry
// whose other fields changed is modified, not removed and added.
//
// Each list has a rule, chosen by its path (object keys from the root, list
// indices left out). A rule is a list of alternatives, each a set of
// fields: the first alternative whose fields the entry all has (and not
// as "", {} or []) is its identity, the canonical JSON of those fields. An entry without any of
// them, or that is not an object, is identified by its whole value, so
// that a change to it is a removal and an addition. A bare string entry
// is an object by then where the model says what it stands for (decode.go,
// bareFields: a registry "Foretaksregisteret" is {"name": "Foretaksregisteret"}).
//
// The rules (the same in both kinds of document):
//
//	roles                                   type + organizationNumber | type + name + birthDate | type + name
//	ownership.beneficials, beneficialOwners party
//	ownership.shareholders, .subsidiaries   party
//	authorities.signatureRights.persons,
//	authorities.procuration.persons         party
//	ownership.beneficials.roles,
//	beneficialOwners.roles, keyInformation.sectors   code
//	keyInformation.registries, *.sources    name
//	financials.accounting,
//	financials.keyFigures.accountingYears   year
//	sanction.lists                          source + name | name
//	sanction.matches                        source + reference | reference | listName + name | name
//	any other list                          id | identifier | organizationNumber | dunsNumber |
//	                                        reference | code | year | name + birthDate | name
//
// where party is organizationNumber | name + birthDate | name: an
// organization by its number, a person by name and birth date (never by a
// national identity number, which comes only with some access and so may
// be there in one run and not the next). A list of strings or numbers
// (aliasList, citizenship) is a set of values. Entries that share an identity
// are matched equal ones first, then in order (see listChanges).

import "strings"

// rule is the identity rule of a list: its alternatives, in order.
type rule [][]string

var (
	partyRule  = rule{{"organizationNumber"}, {"name", "birthDate"}, {"name"}}
	codeRule   = rule{{"code"}}
	nameRule   = rule{{"name"}}
	otherLists = rule{
		{"id"}, {"identifier"}, {"organizationNumber"}, {"dunsNumber"}, {"reference"}, {"code"}, {"year"},
		{"name", "birthDate"}, {"name"},
	}
)

// rules are the identity rules of the lists the model knows, by path.
var rules = map[string]rule{
	"roles":                                 {{"type", "organizationNumber"}, {"type", "name", "birthDate"}, {"type", "name"}},
	"ownership.beneficials":                 partyRule,
	"beneficialOwners":                      partyRule,
	"ownership.shareholders":                partyRule,
	"ownership.subsidiaries":                partyRule,
	"authorities.signatureRights.persons":   partyRule,
	"authorities.procuration.persons":       partyRule,
	"ownership.beneficials.roles":           codeRule,
	"beneficialOwners.roles":                codeRule,
	"keyInformation.sectors":                codeRule,
	"keyInformation.registries":             nameRule,
	"financials.accounting":                 {{"year"}},
	"financials.keyFigures.accountingYears": {{"year"}},
	"sanction.lists":                        {{"source", "name"}, {"name"}},
	"sanction.matches":                      {{"source", "reference"}, {"reference"}, {"listName", "name"}, {"name"}},
}

// sources is the last key of every list of sources (metadata.sources in
// any block, keyInformation.sources): nameRule, and a bare string is the
// name (bareFields).
const sources = "sources"

// ruleFor is the identity rule of the list at path.
func ruleFor(path []string) rule {
	if r, ok := rules[strings.Join(path, ".")]; ok {
		return r
	}
	if len(path) > 0 && path[len(path)-1] == sources {
		return nameRule
	}
	return otherLists
}

// identity is the identity of entry v of the list at path.
func identity(path []string, v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return canonical(v)
	}
alternatives:
	for _, alt := range ruleFor(path) {
		id := make(map[string]any, len(alt))
		for _, f := range alt {
			x, ok := m[f]
			if !ok || isEmpty(x) || x == "" {
				continue alternatives
			}
			id[f] = x
		}
		return canonical(id)
	}
	return canonical(v)
}
