package amlapi

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// The blocks read as the organization guide lists them (model.go, "Result
// documents"), and a document in the older model's shape still decodes
// into the same fields.
func TestGuideNamesAndOlderNames(t *testing.T) {
	guide := decodeFile(t, "testdata/organization_guide.json", DecodeOrganization)
	older := decodeFile(t, "testdata/organization_no.json", DecodeOrganization)

	ki := guide.KeyInformation.Value
	if ki.InstitutionalSector == nil || ki.InstitutionalSector.Code != "2100" || ki.IndustrySector == nil || ki.IndustrySector.Code != "35.119" {
		t.Errorf("sectors %+v, %+v", ki.InstitutionalSector, ki.IndustrySector)
	}
	if s := older.KeyInformation.Value.IndustrySector; s == nil || s.Code != "2100" {
		t.Errorf("the older sectors list is not read as the industry sector: %+v", s)
	}

	kf := guide.Financials.Value.KeyFigures.Value
	if kf.ShareCapital == nil || *kf.ShareCapital != 30000 || len(kf.AccountingYears) != 2 || len(kf.Sources) != 2 {
		t.Fatalf("key figures %+v", kf)
	}
	y := kf.AccountingYears[0]
	if y.Year != 2024 || *y.Turnover != 1250000 || *y.OperatingProfit != 98000 || *y.Equity != 410000 || *y.Earnings != 71000 {
		t.Errorf("accounting year %+v", y)
	}
	if kf.AccountingYears[1].Earnings != nil {
		t.Error("a null figure is not reported")
	}
	if okf := older.Financials.Value.KeyFigures.Value; okf.EquityRatio == nil || *okf.EquityRatio != 0.22 || okf.Year != 2024 {
		t.Errorf("the older ratios are not read: %+v", okf)
	}

	ind := guide.Ownership.Value.Indicators.Value
	if *ind.ComplexOwnership != 2 || *ind.ForeignOwnership != 12.5 || *ind.PubliclyListed != 0 || *ind.OwnershipLayers != 3 || *ind.BeneficialOwnersUnknown != 25 {
		t.Errorf("indicators %+v", ind)
	}
	if oi := older.Ownership.Value.Indicators.Value; *oi.ComplexOwnership != 1 || *oi.ForeignOwnership != 0 || *oi.OwnershipLayers != 2 {
		t.Errorf("the older booleans are not read as 1 and 0: %+v", oi)
	}

	var types []string
	for _, r := range guide.Roles.Value {
		types = append(types, r.Type)
	}
	if !slices.Equal(types, GuideRoles) {
		t.Errorf("roles %q, want the guide's ten %q", types, GuideRoles)
	}

	s := guide.Sanction.Value
	m := s.Matches[0]
	if s.Message == "" || m.MatchIndicatorDescription != "Strong match" || !slices.Equal(m.AliasList, []string{"FJORDLYS ENERGI AS"}) || m.Address == nil || m.Address.City != "Oslo" {
		t.Errorf("sanction %+v, match %+v", s, m)
	}
	if om := older.Sanction.Value.Matches[0]; !slices.Equal(om.AliasList, []string{"Nordlys Trading", "NE Trading"}) {
		t.Errorf("the older aliases are not read: %q", om.AliasList)
	}

	links, until := ResultLinks(mustRead(t, "testdata/organization_guide.json"))
	if links["aml"] == "" || !strings.HasSuffix(links["certificate-of-incorporation"], "/certificate-of-incorporation") || !until.Equal(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("links %v until %v", links, until)
	}
}

func TestOlderIdentityNumberName(t *testing.T) {
	for _, doc := range []string{
		`{"beneficialOwners": [{"name": "A", "identificationNumber": "01017012345"}]}`,
		`{"beneficialOwners": [{"name": "A", "ssn": "01017012345"}]}`,
	} {
		d, err := DecodeBeneficialOwners(strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		if o := d.BeneficialOwners.Value[0]; o.SSN == nil || string(*o.SSN) != "01017012345" {
			t.Errorf("%s: no identity number", doc)
		}
	}
	// Without access, either name of the expand is withheld alike.
	d, _ := DecodeBeneficialOwners(strings.NewReader(`{"beneficialOwners": [{"name": "A"}], "metadata": {"nationalRegistry": "MISSING"}}`))
	if got := d.Summary([]string{"identificationNumber"}).Omitted; !slices.Equal(got, []string{"identificationNumber"}) {
		t.Errorf("omitted %q", got)
	}
}

func TestIndicatorValues(t *testing.T) {
	for in, want := range map[string]Indicator{
		`3`: 3, `12.5`: 12.5, `true`: 1, `false`: 0, `"7"`: 7, `"NaN"`: 0, `"Inf"`: 0, `"many"`: 0, `[1]`: 0, `{}`: 0, `null`: 0,
	} {
		var n Indicator
		if err := n.UnmarshalJSON([]byte(in)); err != nil || n != want {
			t.Errorf("%s: %v, %v; want %v", in, n, err, want)
		}
	}
}

func TestResultLinks(t *testing.T) {
	for _, tc := range []struct {
		doc   string
		links ReportLinks
		until bool
	}{
		{`{}`, nil, false},
		{`not json`, nil, false},
		{`{"links": {}}`, nil, false},
		{`{"links": {"reports": {}}}`, nil, false},
		{`{"links": {"reports": {"aml": "/a", "x": 5, "y": {"status": "READY"}}}}`, ReportLinks{"aml": "/a"}, false},
		{`{"links": {"reports": {"aml-report": {"link": "/a"}}, "expires": "2025-06-01T12:00:00Z"}}`, ReportLinks{"aml-report": "/a"}, true},
		{`{"links": {"reports": ["aml"]}}`, nil, false},
	} {
		links, until := ResultLinks([]byte(tc.doc))
		if len(links) != len(tc.links) || until.IsZero() == tc.until {
			t.Errorf("%s: %v %v", tc.doc, links, until)
		}
		for k, v := range tc.links {
			if links[k] != v {
				t.Errorf("%s: %s = %q, want %q", tc.doc, k, links[k], v)
			}
		}
	}
}

func TestReportTypeCanonical(t *testing.T) {
	for in, want := range map[ReportType]ReportType{
		"aml": "aml", "certificate_of_incorporation": "certificate_of_incorporation",
		"certificate-of-incorporation": "certificate_of_incorporation", "AML": "aml", "Beneficial Owners.v2": "beneficial_owners_v2", "": "",
	} {
		if got := in.Canonical(); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	s, err := DecodeSession(strings.NewReader(`{"jsonData": "READY", "certificate-of-incorporation-report": "READY"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Reports["certificate-of-incorporation"]; !ok {
		t.Errorf("reports %v", s.Reports)
	}
}

func mustRead(t *testing.T, file string) []byte {
	t.Helper()
	f := decodeFile(t, file, func(r io.Reader) (*[]byte, error) {
		b, err := io.ReadAll(r)
		return &b, err
	})
	return *f
}
