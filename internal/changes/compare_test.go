package changes_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/changes"
)

// outline writes the blocks of a report as "block [presence] +added
// -removed ~modified; …", leaving out zero counts.
func outline(r changes.Report) string {
	var parts []string
	for _, b := range r.Blocks {
		s := b.Block
		if b.Presence != changes.Kept {
			s += " " + string(b.Presence)
		}
		for _, c := range []struct {
			sign string
			n    int
		}{{"+", b.Added}, {"-", b.Removed}, {"~", b.Modified}} {
			if c.n != 0 {
				s += fmt.Sprintf(" %s%d", c.sign, c.n)
			}
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// compare calls Compare and checks what holds for every report: Changed
// says whether there are blocks, the diff has the same blocks and counts.
func compare(t *testing.T, k changes.Kind, prev, cur string) changes.Report {
	t.Helper()
	r, err := changes.Compare(k, []byte(prev), []byte(cur))
	if err != nil {
		t.Fatalf("Compare: %v", err)
	}
	if r.Changed != (len(r.Blocks) > 0) || len(r.Diff.Blocks) != len(r.Blocks) {
		t.Fatalf("Changed %v with %d blocks, %d in the diff", r.Changed, len(r.Blocks), len(r.Diff.Blocks))
	}
	for i, b := range r.Diff.Blocks {
		if b.BlockChange != r.Blocks[i] || b.Changes == nil {
			t.Errorf("diff block %+v (changes %v), report block %+v", b.BlockChange, b.Changes, r.Blocks[i])
		}
	}
	if _, err := json.Marshal(r.Diff); err != nil {
		t.Fatalf("the diff does not encode: %v", err)
	}
	return r
}

type pair struct {
	name, prev, cur, want string
}

func runPairs(t *testing.T, k changes.Kind, cases []pair) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := outline(compare(t, k, tc.prev, tc.cur)); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
			// The other way round, added and removed swap.
			back := strings.NewReplacer("+", "-", "-", "+", "appeared", "disappeared", "disappeared", "appeared").Replace(tc.want)
			if got := outline(compare(t, k, tc.cur, tc.prev)); !sameCounts(got, back) {
				t.Errorf("reversed: got %q, want %q", got, back)
			}
		})
	}
}

// sameCounts compares outlines whose "+a -r" may be written "-r +a".
func sameCounts(a, b string) bool {
	norm := func(s string) string {
		var out []string
		for block := range strings.SplitSeq(s, "; ") {
			f := strings.Fields(block)
			var plus, minus, rest []string
			for _, x := range f {
				switch x[0] {
				case '+':
					plus = append(plus, x)
				case '-':
					minus = append(minus, x)
				default:
					rest = append(rest, x)
				}
			}
			out = append(out, strings.Join(append(append(rest, plus...), minus...), " "))
		}
		return strings.Join(out, "; ")
	}
	return norm(a) == norm(b)
}

func TestCompareNoChange(t *testing.T) {
	runPairs(t, changes.Organization, []pair{
		{"identical", organizationA, organizationA, ""},
		{"reordered", organizationA, organizationReordered, ""},
		{"only volatile fields differ", organizationA, organizationVolatile, ""},
		{"null is absent",
			`{"keyInformation": {"name": "X AS", "lei": null}, "roles": null}`,
			`{"keyInformation": {"name": "X AS"}}`, ""},
		{"numbers by value",
			`{"ownership": {"shareholders": [{"name": "Y AS", "organizationNumber": "974760673", "share": 62.5, "numberOfShares": 1000000}]}}`,
			`{"ownership": {"shareholders": [{"name": "Y AS", "organizationNumber": "974760673", "share": 62.50, "numberOfShares": 1e6}]}}`, ""},
		{"empty documents", `{}`, `null`, ""},
	})
}

// organizationA is a document with every block, a few entries each.
const organizationA = `{
  "keyInformation": {"name": "Nordlys AS", "organizationNumber": "923609016", "status": "ACTIVE",
    "registries": [{"name": "Enhetsregisteret", "registered": true}, "Foretaksregisteret"],
    "sectors": [{"code": "2100"}, {"code": "35.11"}],
    "metadata": {"sources": [{"name": "Enhetsregisteret", "updated": "2025-05-30", "url": "https://a.example"}]}},
  "address": {"postalAddress": {"addressLine": "Postboks 1", "city": "Oslo"}, "visitingAddress": {"addressLine": "Gate 2", "city": "Oslo"}},
  "roles": [
    {"type": "CEO", "name": "Ola Nordmann", "birthDate": "1969-11-02", "since": "2019-06-01"},
    {"type": "CHAIRMAN", "name": "Kari Nordmann", "birthDate": "1971-04-12"},
    {"type": "BOARD_MEMBER", "name": "Per Hansen", "birthDate": "1980-01-01"},
    {"type": "AUDITOR", "name": "Revisjon AS", "organizationNumber": "974760673"}
  ],
  "authorities": {"signatureRights": {"description": "Styrets leder alene.", "persons": [{"name": "Kari Nordmann", "role": "Styrets leder"}]},
    "procuration": {}},
  "ownership": {
    "beneficials": [
      {"name": "Kari Nordmann", "birthDate": "1971-04-12", "share": 60, "roles": [{"code": "CHAIRMAN"}, "CEO"], "reason": "OWNERSHIP"},
      {"name": "Ola Nordmann", "birthDate": "1969-11-02", "share": 0, "roles": [], "percentageControl": 50}
    ],
    "subsidiaries": [],
    "shareholders": [
      {"name": "Kari Nordmann", "type": "PERSON", "birthDate": "1971-04-12", "share": 60},
      {"name": "Holding AS", "type": "ORGANIZATION", "organizationNumber": "988077917", "share": 40}
    ],
    "indicators": {"complexOwnership": false, "ownershipLayers": 1}
  },
  "financials": {
    "accounting": [{"year": 2024, "revenue": 100}, {"year": 2023, "revenue": 90}, {"year": 2022, "revenue": 80}],
    "keyFigures": {"year": 2024, "equityRatio": 0.22},
    "auditor": {"name": "Revisjon AS", "organizationNumber": "974760673"},
    "accountant": {}
  },
  "sanction": {"status": "HIT", "screenedAt": "2025-06-01",
    "lists": [{"name": "EU list", "source": "EU"}, {"name": "UN list", "source": "UN"}],
    "matches": [
      {"name": "Nordlys Trading", "matchIndicator": 500, "source": "EU", "reference": "EU-1", "aliases": ["NT", "Nordlys T"], "urls": ["https://s.example/eu/1"]},
      {"name": "Nordlys Trading", "matchIndicator": 430, "source": "UN", "reference": "UN-1"}
    ]},
  "links": {"reports": {"aml": "https://aml.example/organization/session/s-1/report/aml"}},
  "esg": {"rating": "B"}
}`

// organizationReordered is organizationA with the keys of every object and
// the entries of every list in another order.
const organizationReordered = `{
  "esg": {"rating": "B"},
  "sanction": {"matches": [
      {"reference": "UN-1", "source": "UN", "matchIndicator": 430, "name": "Nordlys Trading"},
      {"urls": ["https://s.example/eu/1"], "aliases": ["Nordlys T", "NT"], "reference": "EU-1", "source": "EU", "matchIndicator": 500, "name": "Nordlys Trading"}
    ], "lists": [{"source": "UN", "name": "UN list"}, {"name": "EU list", "source": "EU"}], "screenedAt": "2025-06-01", "status": "HIT"},
  "financials": {"accountant": {}, "auditor": {"organizationNumber": "974760673", "name": "Revisjon AS"},
    "keyFigures": {"equityRatio": 0.22, "year": 2024},
    "accounting": [{"year": 2022, "revenue": 80}, {"year": 2024, "revenue": 100}, {"year": 2023, "revenue": 90}]},
  "ownership": {
    "indicators": {"ownershipLayers": 1, "complexOwnership": false},
    "shareholders": [
      {"name": "Holding AS", "type": "ORGANIZATION", "organizationNumber": "988077917", "share": 40},
      {"name": "Kari Nordmann", "type": "PERSON", "birthDate": "1971-04-12", "share": 60}
    ],
    "subsidiaries": [],
    "beneficials": [
      {"name": "Ola Nordmann", "birthDate": "1969-11-02", "share": 0, "roles": [], "percentageControl": 50},
      {"name": "Kari Nordmann", "birthDate": "1971-04-12", "share": 60, "roles": ["CEO", {"code": "CHAIRMAN"}], "reason": "OWNERSHIP"}
    ]
  },
  "authorities": {"procuration": {}, "signatureRights": {"persons": [{"role": "Styrets leder", "name": "Kari Nordmann"}], "description": "Styrets leder alene."}},
  "roles": [
    {"type": "AUDITOR", "name": "Revisjon AS", "organizationNumber": "974760673"},
    {"type": "BOARD_MEMBER", "name": "Per Hansen", "birthDate": "1980-01-01"},
    {"type": "CHAIRMAN", "name": "Kari Nordmann", "birthDate": "1971-04-12"},
    {"type": "CEO", "name": "Ola Nordmann", "birthDate": "1969-11-02", "since": "2019-06-01"}
  ],
  "address": {"visitingAddress": {"city": "Oslo", "addressLine": "Gate 2"}, "postalAddress": {"city": "Oslo", "addressLine": "Postboks 1"}},
  "keyInformation": {"status": "ACTIVE", "organizationNumber": "923609016", "name": "Nordlys AS",
    "sectors": [{"code": "35.11"}, {"code": "2100"}],
    "registries": ["Foretaksregisteret", {"registered": true, "name": "Enhetsregisteret"}],
    "metadata": {"sources": [{"name": "Enhetsregisteret", "updated": "2025-05-30", "url": "https://a.example"}]}}
}`

// organizationVolatile is organizationA as the next run gives it: new
// session links, a new screening time, sources read again, new URLs.
var organizationVolatile = strings.NewReplacer(
	"session/s-1/", "session/s-2/",
	`"screenedAt": "2025-06-01"`, `"screenedAt": "2025-07-01T08:00:00Z"`,
	`"updated": "2025-05-30", "url": "https://a.example"`, `"updated": "2025-07-01", "url": "https://b.example"`,
	`"urls": ["https://s.example/eu/1"]`, `"urls": ["https://s.example/eu/1?v=2", "https://mirror.example/eu/1"]`,
).Replace(organizationA)

func TestVolatileFixtureDiffers(t *testing.T) {
	if organizationVolatile == organizationA || strings.Count(organizationVolatile, "s-2") != 1 ||
		!strings.Contains(organizationVolatile, "2025-07-01T08") || !strings.Contains(organizationVolatile, "b.example") ||
		!strings.Contains(organizationVolatile, "mirror") {
		t.Fatal("the volatile fixture does not change every volatile field")
	}
}

func TestCompareErrors(t *testing.T) {
	ok := `{"keyInformation": {}}`
	for _, tc := range []struct {
		name       string
		kind       changes.Kind
		prev, cur  string
		want       error
		wantInText string
	}{
		{"unknown kind", "person", ok, ok, changes.ErrUnknownKind, "person"},
		{"empty previous", changes.Organization, "", ok, changes.ErrNotDocument, "previous"},
		{"current not JSON", changes.Organization, ok, `{"a":`, changes.ErrNotDocument, "current"},
		{"an array", changes.BeneficialOwners, `[{}]`, ok, changes.ErrNotDocument, "array"},
		{"a string", changes.Organization, ok, `"x"`, changes.ErrNotDocument, "string"},
		{"data after the document", changes.Organization, ok, `{} {}`, changes.ErrNotDocument, "after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := changes.Compare(tc.kind, []byte(tc.prev), []byte(tc.cur))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.wantInText) {
				t.Errorf("err = %v, want %v mentioning %q", err, tc.want, tc.wantInText)
			}
			if r.Changed || r.Blocks != nil {
				t.Errorf("a report with the error: %+v", r)
			}
		})
	}
}

// The kinds are the contract's lookup types, so that a caller converts one
// into the other.
func TestKindsAreLookupTypes(t *testing.T) {
	if string(changes.Organization) != string(kybflow.TypeOrganization) ||
		string(changes.BeneficialOwners) != string(kybflow.TypeBeneficialOwners) {
		t.Errorf("kinds %q, %q; lookup types %q, %q", changes.Organization, changes.BeneficialOwners,
			kybflow.TypeOrganization, kybflow.TypeBeneficialOwners)
	}
}
