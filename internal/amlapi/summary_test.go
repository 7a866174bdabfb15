package amlapi

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func n(v int) *int { return &v }

// allOrganizationExpands are the expands a client with the basic scope
// and the credit scope may send.
var allOrganizationExpands = []string{"address", "financials", "financials.credit", "ownership", "authorities", "roles", "sanction", "links.reports.aml"}

// TestSummarizeGuideDocuments summarises the guide-shaped documents of
// testdata, field by field.
func TestSummarizeGuideDocuments(t *testing.T) {
	for _, tc := range []struct {
		file      string
		requested []string
		want      Summary
	}{
		{"organization_no.json", allOrganizationExpands, Summary{
			Organization: &OrganizationSummary{
				Status: "under_reorganisation", Sanction: OutcomeHit, // POSSIBLE_HIT with a match
				Roles: n(4), SignatureRights: n(1), BeneficialOwners: n(2), Shareholders: n(2), Subsidiaries: n(0),
			},
			Empty:   []string{"financials.accountant", "ownership.subsidiaries"},
			Omitted: []string{"financials.credit"}, // null
		}},
		{"organization_se.json", []string{"address", "ownership", "roles", "sanction", "links.reports.aml"}, Summary{
			Organization: &OrganizationSummary{
				Status: "active", Sanction: OutcomeNoHit, Roles: n(2), BeneficialOwners: n(0),
			},
			Empty:   []string{"ownership.beneficials", "links.reports"}, // links: {}
			Omitted: []string{"ownership.subsidiaries", "ownership.shareholders", "ownership.indicators"},
		}},
		{"organization_fi.json", []string{"financials", "ownership", "authorities", "roles", "sanction"}, Summary{
			Organization: &OrganizationSummary{
				// sanction {} is searched, nothing found; ownership {} empties its children.
				Status: "dissolved", Sanction: OutcomeNoHit, SignatureRights: n(1),
				BeneficialOwners: n(0), Shareholders: n(0), Subsidiaries: n(0),
			},
			Empty: []string{"financials.accounting", "financials.keyFigures",
				"ownership.beneficials", "ownership.subsidiaries", "ownership.shareholders", "ownership.indicators", "sanction"},
			Omitted: []string{"financials.auditor", "financials.accountant", "roles"},
		}},
		{"organization_fi.json", nil, Summary{ // nothing requested: nothing empty or left out
			Organization: &OrganizationSummary{Status: "dissolved", Sanction: OutcomeNoHit, SignatureRights: n(1),
				BeneficialOwners: n(0), Shareholders: n(0), Subsidiaries: n(0)},
		}},
		{"beneficial_owners.json", []string{"citizenship", "birthplace", "ssn"}, Summary{
			BeneficialOwners: &BeneficialOwnersSummary{Owners: n(3)},
		}},
		{"beneficial_owners_none.json", []string{"ssn", "citizenship", "birthplace"}, Summary{
			// No owners: nothing withheld from one. Access MISSING:
			// birthplace, not in omittedFields, is left out too.
			BeneficialOwners: &BeneficialOwnersSummary{Owners: n(0)},
			Empty:            []string{"beneficialOwners"},
			Omitted:          []string{"ssn", "citizenship", "birthplace"},
		}},
		{"beneficial_owners_none.json", nil, Summary{
			BeneficialOwners: &BeneficialOwnersSummary{Owners: n(0)},
			Empty:            []string{"beneficialOwners"},
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			doc, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			kind := KindOrganization
			if strings.HasPrefix(tc.file, "beneficial") {
				kind = KindBeneficial
			}
			got, err := Summarize(kind, doc, tc.requested)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("requested %q:\n got  %s\n want %s", tc.requested, must(json.Marshal(got)), must(json.Marshal(tc.want)))
			}
			checkSummary(t, got, doc)
		})
	}
}

// checkSummary: every string of a summary is a block name, an outcome or
// the status, and nothing else of the document (no name, number, date,
// address) is repeated.
func checkSummary(t *testing.T, s *Summary, doc []byte) {
	t.Helper()
	names := append(slices.Clone(organizationBlocks), "beneficialOwners")
	names = append(names, BeneficialExpands...)
	for _, x := range slices.Concat(s.Empty, s.Omitted) {
		if !slices.Contains(names, x) {
			t.Errorf("block name %q is no block", x)
		}
	}
	if slices.ContainsFunc(s.Empty, func(x string) bool { return slices.Contains(s.Omitted, x) }) {
		t.Errorf("a block both empty and left out: %q, %q", s.Empty, s.Omitted)
	}
	if o := s.Organization; o != nil {
		if !slices.Contains([]SanctionOutcome{OutcomeHit, OutcomeNoHit, OutcomeNotRequested}, o.Sanction) {
			t.Errorf("sanction %q", o.Sanction)
		}
		if o.Status != StatusUnknown && o.Status != lowerSnake(o.Status) || o.Status == "" {
			t.Errorf("status %q is not lower snake case", o.Status)
		}
	}
	enc := string(must(json.Marshal(s)))
	var values map[string]any
	if json.Unmarshal(doc, &values) == nil {
		for _, v := range stringsOf(values) {
			if len(v) >= 4 && !slices.Contains(names, v) && strings.Contains(enc, `"`+v+`"`) {
				t.Errorf("the summary repeats %q of the document: %s", v, enc)
			}
		}
	}
}

// stringsOf is every string value (not key) in a decoded JSON value.
func stringsOf(v any) []string {
	var out []string
	switch v := v.(type) {
	case string:
		out = append(out, v)
	case map[string]any:
		for _, x := range v {
			out = append(out, stringsOf(x)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, stringsOf(x)...)
		}
	}
	return out
}

func TestSummarizeSanctionOutcome(t *testing.T) {
	for in, want := range map[string]SanctionOutcome{
		`{}`:                                   OutcomeNotRequested,
		`{"sanction": null}`:                   OutcomeNotRequested,
		`{"sanction": {}}`:                     OutcomeNoHit,
		`{"sanction": {"status": "NO_HIT"}}`:   OutcomeNoHit,
		`{"sanction": {"screenedAt": "2025"}}`: OutcomeNoHit,
		`{"sanction": {"status": "NO_HIT", "matches": []}}`:              OutcomeNoHit,
		`{"sanction": {"status": "HIT"}}`:                                OutcomeHit,
		`{"sanction": {"status": "POSSIBLE_HIT"}}`:                       OutcomeHit,
		`{"sanction": {"status": "NEW_VALUE"}}`:                          OutcomeHit,
		`{"sanction": {"status": "NO_HIT", "matches": [{"name": "x"}]}}`: OutcomeHit,
		`{"sanction": {"matches": [{}]}}`:                                OutcomeHit,
	} {
		s, err := Summarize(KindOrganization, []byte(in), []string{"sanction"})
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := s.Organization.Sanction; got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

func TestSummarizeStatus(t *testing.T) {
	for in, want := range map[string]string{
		`{}`:                                 StatusUnknown,
		`{"keyInformation": {}}`:             StatusUnknown,
		`{"keyInformation": {"status": ""}}`: StatusUnknown,
		`{"keyInformation": {"status": "ACTIVE"}}`:                                         "active",
		`{"keyInformation": {"status": "UNDER_LIQUIDATION"}}`:                              "under_liquidation",
		`{"keyInformation": {"status": "Under liquidation"}}`:                              "under_liquidation",
		`{"keyInformation": {"status": "underLiquidation"}}`:                               "under_liquidation",
		`{"keyInformation": {"status": " under--liquidation. "}}`:                          "under_liquidation",
		`{"keyInformation": {"status": "Chapter11"}}`:                                      "chapter11",
		`{"keyInformation": {"status": "Tvangsoppløst"}}`:                                  StatusUnknown, // not a code
		`{"keyInformation": {"status": "a, b"}}`:                                           StatusUnknown,
		`{"keyInformation": {"status": "` + strings.Repeat("X", maxStatusLength+1) + `"}}`: StatusUnknown,
	} {
		s, err := Summarize(KindOrganization, []byte(in), nil)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := s.Organization.Status; got != want {
			t.Errorf("%s: status %q, want %q", in, got, want)
		}
	}
}

// Signature rights, roles and owners are counted as their blocks say:
// absent when not there, 0 when empty.
func TestSummarizeCounts(t *testing.T) {
	for in, want := range map[string]OrganizationSummary{
		`{}`:                  {},
		`{"authorities": {}}`: {SignatureRights: n(0)},
		`{"authorities": {"procuration": {"description": "x"}}}`:     {},
		`{"authorities": {"signatureRights": {}}}`:                   {SignatureRights: n(0)},
		`{"authorities": {"signatureRights": {"description": "x"}}}`: {SignatureRights: n(1)},
		`{"roles": [], "ownership": {"shareholders": [{}, {}, {}]}}`: {Roles: n(0), Shareholders: n(3)},
		`{"ownership": {}}`: {BeneficialOwners: n(0), Shareholders: n(0), Subsidiaries: n(0)},
	} {
		s, err := Summarize(KindOrganization, []byte(in), nil)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		got := *s.Organization
		got.Status, got.Sanction = "", ""
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %s, want %s", in, must(json.Marshal(got)), must(json.Marshal(want)))
		}
	}
}

// Owners' details are withheld when the document says so (omittedFields),
// or says our access is missing or pending and no owner has the field.
func TestSummarizeWithheldOwnerDetails(t *testing.T) {
	for _, tc := range []struct {
		doc       string
		requested []string
		omitted   []string
		withheld  bool
	}{
		{`{"beneficialOwners": [{}], "metadata": {"omittedFields": ["ssn"]}}`, []string{"citizenship", "ssn"}, []string{"ssn"}, true},
		{`{"beneficialOwners": [{}], "metadata": {"omittedFields": ["ssn"]}}`, []string{"citizenship"}, nil, false}, // not requested
		{`{"beneficialOwners": [{}], "metadata": {"nationalRegistry": "MISSING"}}`, []string{"birthplace"}, []string{"birthplace"}, true},
		{`{"beneficialOwners": [{}], "metadata": {"nationalRegistry": "PENDING"}}`, []string{"ssn"}, []string{"ssn"}, true},
		{`{"beneficialOwners": [{"citizenship": []}], "metadata": {"nationalRegistry": "MISSING"}}`, []string{"citizenship"}, nil, false},
		{`{"beneficialOwners": [{}], "metadata": {"nationalRegistry": "GRANTED"}}`, []string{"citizenship"}, nil, false},
		{`{"beneficialOwners": [{}], "metadata": {"nationalRegistry": "SOMETHING_NEW"}}`, []string{"citizenship"}, nil, false},
		{`{"beneficialOwners": [{}], "metadata": {"omittedFields": ["ssn"]}}`, []string{"ssn", "ssn"}, []string{"ssn"}, true},
		{`{"metadata": {"omittedFields": ["ssn"]}}`, []string{"ssn"}, []string{"beneficialOwners", "ssn"}, false},
	} {
		s, err := Summarize(KindBeneficial, []byte(tc.doc), tc.requested)
		if err != nil {
			t.Fatalf("%s: %v", tc.doc, err)
		}
		if !slices.Equal(s.Omitted, tc.omitted) || s.BeneficialOwners.DetailsWithheld != tc.withheld {
			t.Errorf("%s, requested %q: omitted %q, withheld %t; want %q, %t", tc.doc, tc.requested, s.Omitted, s.BeneficialOwners.DetailsWithheld, tc.omitted, tc.withheld)
		}
	}
}

func TestRequestedBlocks(t *testing.T) {
	for _, tc := range []struct {
		expands []string
		want    []string
	}{
		{nil, []string{"keyInformation"}},
		{[]string{"horoscope", "citizenship"}, []string{"keyInformation"}},
		{[]string{"financials"}, []string{"keyInformation", "financials.accounting", "financials.keyFigures", "financials.auditor", "financials.accountant"}},
		{[]string{"financials.credit", "financials"}, []string{"keyInformation", "financials.accounting", "financials.keyFigures", "financials.auditor", "financials.accountant", "financials.credit"}},
		{[]string{"roles", "ownership.shareholders", "address"}, []string{"keyInformation", "address", "ownership.shareholders", "roles"}},
		{[]string{"sanction.ofac", "links.reports.certificate_of_incorporation"}, []string{"keyInformation", "sanction", "links.reports"}},
	} {
		if got := RequestedBlocks(tc.expands); !slices.Equal(got, tc.want) {
			t.Errorf("RequestedBlocks(%q) = %q, want %q", tc.expands, got, tc.want)
		}
	}
	// Every block is a path of Presences; every expand asks for a block.
	var paths []string
	for _, p := range (&OrganizationDocument{}).Presences() {
		paths = append(paths, p.Path)
	}
	for _, b := range organizationBlocks {
		if !slices.Contains(paths, b) {
			t.Errorf("block %s is not a path of Presences", b)
		}
	}
	for _, e := range OrganizationExpands {
		if e == "keyInformation.lei" { // a field of keyInformation, which always comes
			if got := RequestedBlocks([]string{e}); !slices.Equal(got, []string{"keyInformation"}) {
				t.Errorf("expand %s asks for %q", e, got)
			}
			continue
		}
		if len(RequestedBlocks([]string{e})) < 2 {
			t.Errorf("expand %s asks for no block", e)
		}
	}
}

func TestSummarizeErrors(t *testing.T) {
	for _, tc := range []struct {
		kind Kind
		doc  string
	}{
		{KindOrganization, `not json`},
		{KindOrganization, `{"keyInformation": {"status": 7}}`},
		{KindOrganization, `{} {}`},
		{KindBeneficial, `{"beneficialOwners": "none"}`},
		{"report", `{}`},
	} {
		if s, err := Summarize(tc.kind, []byte(tc.doc), nil); err == nil {
			t.Errorf("Summarize(%s, %s) = %+v, want an error", tc.kind, tc.doc, s)
		}
	}
}
