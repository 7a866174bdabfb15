package changes_test

import (
	"testing"

	"github.com/kybflow/kybflow/internal/changes"
)

// Each block's additions, removals and modifications, one pair a case
// (and, by runPairs, the same pair the other way round).

func TestCompareObjectBlocks(t *testing.T) {
	runPairs(t, changes.Organization, []pair{
		{"keyInformation: a field modified",
			`{"keyInformation": {"name": "X AS", "status": "ACTIVE"}}`,
			`{"keyInformation": {"name": "X AS", "status": "BANKRUPT"}}`, "keyInformation ~1"},
		{"keyInformation: an unknown field added",
			`{"keyInformation": {"name": "X AS"}}`,
			`{"keyInformation": {"name": "X AS", "marketSegment": "MICRO", "lei": "5967007LIEEXZX4LPK21"}}`, "keyInformation +2"},
		{"keyInformation: nested fields count one by one",
			`{"keyInformation": {"organizationType": {"code": "AS", "description": "Aksjeselskap"}}}`,
			`{"keyInformation": {"organizationType": {"code": "ASA", "description": "Allmennaksjeselskap"}}}`, "keyInformation ~2"},
		{"keyInformation: a registry added, a bare one written as an object",
			`{"keyInformation": {"registries": ["Foretaksregisteret"]}}`,
			`{"keyInformation": {"registries": [{"name": "Foretaksregisteret", "registered": true}, "Merverdiavgiftsregisteret"]}}`,
			"keyInformation +1 ~1"},
		{"address: a city modified, an address removed",
			`{"address": {"postalAddress": {"city": "Oslo"}, "visitingAddress": {"city": "Oslo"}}}`,
			`{"address": {"postalAddress": {"city": "Bergen"}}}`, "address -1 ~1"},
		{"authorities: a procuration found, a signatory added",
			`{"authorities": {"signatureRights": {"description": "Styret.", "persons": [{"name": "A"}]}, "procuration": {}}}`,
			`{"authorities": {"signatureRights": {"description": "Styret.", "persons": [{"name": "A"}, {"name": "B"}]},
			  "procuration": {"description": "Daglig leder alene.", "persons": [{"name": "C"}]}}}`, "authorities +2"},
		{"authorities: a signatory's role modified",
			`{"authorities": {"signatureRights": {"persons": [{"name": "A", "birthDate": "1970-01-01", "role": "Styreleder"}]}}}`,
			`{"authorities": {"signatureRights": {"persons": [{"name": "A", "birthDate": "1970-01-01", "role": "Daglig leder"}]}}}`,
			"authorities ~1"},
		{"ownership.indicators",
			`{"ownership": {"indicators": {"complexOwnership": false, "ownershipLayers": 1}}}`,
			`{"ownership": {"indicators": {"complexOwnership": true, "ownershipLayers": 2, "foreignOwnership": true}}}`,
			"ownership.indicators +1 ~2"},
		{"financials: a year of accounts in, one out; a key figure; an auditor found",
			`{"financials": {"accounting": [{"year": 2023, "revenue": 90}, {"year": 2022, "revenue": 80}],
			  "keyFigures": {"equityRatio": 0.2}, "auditor": {}}}`,
			`{"financials": {"accounting": [{"year": 2024, "revenue": 100}, {"year": 2023, "revenue": 90}],
			  "keyFigures": {"equityRatio": 0.25}, "auditor": {"name": "Revisjon AS", "organizationNumber": "974760673"}}}`,
			"financials +2 -1 ~1"},
		{"financials: restated accounts are one modified year",
			`{"financials": {"accounting": [{"year": 2023, "revenue": 90, "netResult": 5}]}}`,
			`{"financials": {"accounting": [{"year": 2023, "revenue": 91, "netResult": 6}]}}`, "financials ~1"},
		{"sanction: a hit",
			`{"sanction": {"status": "NO_HIT", "lists": [{"name": "EU list", "source": "EU"}], "matches": []}}`,
			`{"sanction": {"status": "HIT", "lists": [{"name": "EU list", "source": "EU"}],
			  "matches": [{"name": "X", "source": "EU", "reference": "EU-1", "matchIndicator": 500}]}}`, "sanction +1 ~1"},
		{"sanction: a match's indicator and aliases",
			`{"sanction": {"matches": [{"source": "EU", "reference": "EU-1", "matchIndicator": 400, "aliases": ["A"]}]}}`,
			`{"sanction": {"matches": [{"source": "EU", "reference": "EU-1", "matchIndicator": 500, "aliases": ["A", "B"]}]}}`,
			"sanction ~1"},
		{"an unknown block",
			`{"keyInformation": {"name": "X"}, "esg": {"rating": "B"}}`,
			`{"keyInformation": {"name": "X"}, "esg": {"rating": "A"}}`, "esg ~1"},
		{"an unknown scalar block",
			`{"schemaVersion": "no-v3"}`, `{"schemaVersion": "no-v4"}`, "schemaVersion ~1"},
		{"a block that is not what the model says",
			`{"sanction": "NO_HIT"}`, `{"sanction": ["HIT"]}`, "sanction ~1"},
	})
}

func TestCompareListBlocks(t *testing.T) {
	runPairs(t, changes.Organization, []pair{
		{"roles: a board member joins",
			`{"roles": [{"type": "CEO", "name": "A", "birthDate": "1970-01-01"}]}`,
			`{"roles": [{"type": "BOARD_MEMBER", "name": "B", "birthDate": "1980-01-01", "since": "2025-06-30"},
			  {"type": "CEO", "name": "A", "birthDate": "1970-01-01"}]}`, "roles +1"},
		{"roles: a role's since modified, an auditor renamed",
			`{"roles": [{"type": "CEO", "name": "A", "birthDate": "1970-01-01", "since": "2019-01-01"},
			  {"type": "AUDITOR", "name": "Rev AS", "organizationNumber": "974760673"}]}`,
			`{"roles": [{"type": "CEO", "name": "A", "birthDate": "1970-01-01", "since": "2020-01-01"},
			  {"type": "AUDITOR", "name": "Rev Norge AS", "organizationNumber": "974760673"}]}`, "roles ~2"},
		{"roles: the CEO becomes chairman (a role is its type and holder)",
			`{"roles": [{"type": "CEO", "name": "A", "birthDate": "1970-01-01"}]}`,
			`{"roles": [{"type": "CHAIRMAN", "name": "A", "birthDate": "1970-01-01"}]}`, "roles +1 -1"},
		{"roles: two holders of one role, one leaves",
			`{"roles": [{"type": "BOARD_MEMBER", "name": "A"}, {"type": "BOARD_MEMBER", "name": "B"}]}`,
			`{"roles": [{"type": "BOARD_MEMBER", "name": "B"}]}`, "roles -1"},
		{"ownership.beneficials: one in, one changed, one out",
			`{"ownership": {"beneficials": [
			  {"name": "A", "birthDate": "1970-01-01", "share": 60, "reason": "OWNERSHIP"},
			  {"name": "B", "birthDate": "1980-01-01", "share": 40}]}}`,
			`{"ownership": {"beneficials": [
			  {"name": "A", "birthDate": "1970-01-01", "share": 50, "integratedOwnership": 50, "reason": "CONTROL"},
			  {"name": "C", "birthDate": "1990-01-01", "share": 50}]}}`, "ownership.beneficials +1 -1 ~1"},
		{"ownership.beneficials: found where there were none",
			`{"ownership": {"beneficials": []}}`,
			`{"ownership": {"beneficials": [{"name": "A"}, {"name": "B"}]}}`, "ownership.beneficials +2"},
		{"ownership.shareholders: an organization renamed, a person sells",
			`{"ownership": {"shareholders": [{"name": "H AS", "type": "ORGANIZATION", "organizationNumber": "988077917", "share": 60},
			  {"name": "P", "type": "PERSON", "birthDate": "1980-01-01", "share": 40}]}}`,
			`{"ownership": {"shareholders": [{"name": "H Holding AS", "type": "ORGANIZATION", "organizationNumber": "988077917", "share": 100}]}}`,
			"ownership.shareholders -1 ~1"},
		{"ownership.subsidiaries",
			`{"ownership": {"subsidiaries": [{"name": "S1 AS", "organizationNumber": "923609016", "share": 100}]}}`,
			`{"ownership": {"subsidiaries": [{"name": "S1 AS", "organizationNumber": "923609016", "share": 51},
			  {"name": "S2 AS", "organizationNumber": "974760673", "share": 100}]}}`, "ownership.subsidiaries +1 ~1"},
		{"ownership: an unknown list is a block of its own",
			`{"ownership": {"nominees": [{"name": "N"}]}}`,
			`{"ownership": {"nominees": [{"name": "N"}, {"name": "M"}]}}`, "ownership.nominees +1"},
		{"ownership: each list its own block, in order",
			`{"ownership": {"beneficials": [{"name": "A"}], "shareholders": [{"name": "A"}], "subsidiaries": []}}`,
			`{"ownership": {"beneficials": [{"name": "B"}], "shareholders": [{"name": "B"}], "subsidiaries": []}}`,
			"ownership.beneficials +1 -1; ownership.shareholders +1 -1"},
	})
}

func TestComparePresence(t *testing.T) {
	runPairs(t, changes.Organization, []pair{
		{"a list block requested", `{"keyInformation": {}}`,
			`{"keyInformation": {}, "roles": [{"type": "CEO", "name": "A"}, {"type": "CHAIRMAN", "name": "B"}]}`, "roles appeared +2"},
		{"a block requested, nothing found", `{}`, `{"roles": [], "sanction": {}}`, "roles appeared; sanction appeared"},
		{"not requested: null", `{"financials": null}`, `{"financials": {"accounting": [{"year": 2024}]}}`, "financials appeared +1"},
		{"an object block requested", `{}`, `{"sanction": {"status": "NO_HIT", "matches": []}}`, "sanction appeared +2"},
		{"ownership requested, nothing found", `{}`, `{"ownership": {}}`, "ownership appeared"},
		{"ownership lists requested", `{"ownership": {}}`, `{"ownership": {"beneficials": [], "shareholders": [{"name": "A"}]}}`,
			"ownership.beneficials appeared; ownership.shareholders appeared +1"},
		{"blocks in the fixed order, the unknown ones after",
			`{}`, `{"zeta": 1, "sanction": {}, "alpha": [], "keyInformation": {"name": "X"}, "ownership": {"indicators": {}}}`,
			"keyInformation appeared +1; ownership.indicators appeared; sanction appeared; alpha appeared; zeta appeared +1"},
	})
}

func TestCompareBeneficialOwners(t *testing.T) {
	runPairs(t, changes.BeneficialOwners, []pair{
		{"reordered owners",
			`{"beneficialOwners": [{"name": "A", "birthDate": "1970-01-01", "roles": ["CEO", "CHAIRMAN"]}, {"name": "B", "birthDate": "1980-01-01"}]}`,
			`{"beneficialOwners": [{"name": "B", "birthDate": "1980-01-01"}, {"name": "A", "birthDate": "1970-01-01", "roles": ["CHAIRMAN", {"code": "CEO"}]}]}`,
			""},
		{"an owner added",
			`{"beneficialOwners": [{"name": "A", "birthDate": "1970-01-01"}]}`,
			`{"beneficialOwners": [{"name": "A", "birthDate": "1970-01-01"}, {"name": "B", "birthDate": "1980-01-01"}]}`,
			"beneficialOwners +1"},
		{"an owner's national registry fields come with access: modified, same person",
			`{"beneficialOwners": [{"name": "A", "birthDate": "1970-01-01"}], "metadata": {"nationalRegistry": "MISSING", "omittedFields": ["citizenship", "ssn"]}}`,
			`{"beneficialOwners": [{"name": "A", "birthDate": "1970-01-01", "citizenship": ["NO"], "ssn": "01817012345"}],
			  "metadata": {"nationalRegistry": "GRANTED", "omittedFields": []}}`,
			"beneficialOwners ~1; metadata -2 ~1"},
		{"the organization renamed; sources read again",
			`{"organization": {"name": "X AS", "metadata": {"sources": [{"name": "Enhetsregisteret", "updated": "2025-05-01"}]}}}`,
			`{"organization": {"name": "X Holding AS", "metadata": {"sources": [{"name": "Enhetsregisteret", "updated": "2025-06-01"}]}}}`,
			"organization ~1"},
		{"no owners registered any more",
			`{"beneficialOwners": [{"name": "A"}]}`, `{"beneficialOwners": []}`, "beneficialOwners -1"},
		{"a block the model does not name", `{"sandbox": {"synthetic": true}}`, `{"sandbox": {"synthetic": false}}`, "sandbox ~1"},
	})
}
