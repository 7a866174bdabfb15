package kybflow_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kybflow/kybflow"
)

// TestSummaryChecks: NewEvent refuses a summary the schema refuses, and
// every summary it accepts validates.
func TestSummaryChecks(t *testing.T) {
	c := goldenCommand
	three, negative := 3, -1
	org := func(f func(o *kybflow.OrganizationSummary)) *kybflow.Summary {
		o := kybflow.OrganizationSummary{Status: kybflow.StatusActive, Sanction: kybflow.SanctionHit}
		f(&o)
		return &kybflow.Summary{Organization: &o}
	}
	for _, tc := range []struct {
		name string
		s    *kybflow.Summary
		want string // "" for accepted
	}{
		{"organization", org(func(o *kybflow.OrganizationSummary) { o.Roles, o.Subsidiaries = &three, new(int) }), ""},
		{"other status", org(func(o *kybflow.OrganizationSummary) { o.Status = "under_reorganisation" }), ""},
		{"beneficial owners", &kybflow.Summary{BeneficialOwners: &kybflow.BeneficialOwnersSummary{Owners: &three, DetailsWithheld: true},
			Omitted: []string{"citizenship"}, Empty: []string{"beneficialOwners"}}, ""},
		{"too large", &kybflow.Summary{Unavailable: kybflow.SummaryTooLarge}, ""},
		{"unknown unavailable", &kybflow.Summary{Unavailable: "lost"}, "unknown unavailable"},
		{"status not snake case", org(func(o *kybflow.OrganizationSummary) { o.Status = "Kari Nordmann" }), "lower snake case"},
		{"no status", org(func(o *kybflow.OrganizationSummary) { o.Status = "" }), "lower snake case"},
		{"long status", org(func(o *kybflow.OrganizationSummary) { o.Status = kybflow.OrganizationStatus(strings.Repeat("a", 65)) }), "lower snake case"},
		{"unknown outcome", org(func(o *kybflow.OrganizationSummary) { o.Sanction = "maybe" }), "unknown sanction outcome"},
		{"negative count", org(func(o *kybflow.OrganizationSummary) { o.Shareholders = &negative }), "negative count"},
		{"negative owners", &kybflow.Summary{BeneficialOwners: &kybflow.BeneficialOwnersSummary{Owners: &negative}}, "negative count"},
		{"not a block name", &kybflow.Summary{Empty: []string{"Storgata 1"}}, "not a block name"},
		{"a block twice", &kybflow.Summary{Omitted: []string{"roles", "roles"}}, "twice"},
		{"too many blocks", &kybflow.Summary{Omitted: strings.Fields(strings.Repeat("a ", 33))}, "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := c.CompletedData(goldenSession, goldenArtifacts(t, c))
			d.Summary = tc.s
			e, err := kybflow.NewEvent(kybflow.DefaultSource, kybflow.KindCompleted, c.LookupID, goldenTime, d)
			if tc.want != "" {
				if !errors.Is(err, kybflow.ErrInvalidEvent) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("NewEvent error = %v, want ErrInvalidEvent containing %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := kybflow.EncodeEvent(e)
			if err != nil {
				t.Fatal(err)
			}
			for _, set := range []*schemaSet{schemas(t), openSchemas(t)} {
				if err := validate(set.event, b); err != nil {
					t.Errorf("schema: %v\n%s", err, b)
				}
			}
			// The event holds a copy.
			tc.s.Empty = append(tc.s.Empty, "changed")
			if got, _ := e.Completed(); slices.Contains(got.Summary.Empty, "changed") {
				t.Error("the event shares the summary")
			}
		})
	}
}

// TestSummaryDecodes: a completed event's summary decodes typed; empty
// lists decode as none (as they encode), so a decoded event re-encodes to
// itself; a summary the code does not know the values of still decodes.
func TestSummaryDecodes(t *testing.T) {
	ev := `{"specversion":"1.0","id":"l.completed","source":"urn:x","type":"io.kybflow.aml.lookup.completed.v1","subject":"l","dataschema":"urn:x",
		"data":{"lookupId":"l","sessionId":"s","type":"organization","country":"NO","identifierType":"organization_number","identifier":"923609016",
		"artifacts":[],"omittedExpands":[],
		"summary":{"organization":{"status":"in_wind_down","sanction":"escalated","roles":2},"empty":[],"omitted":["roles"],"added":true}}}`
	e, err := kybflow.DecodeEvent([]byte(ev))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := e.Completed()
	want := &kybflow.Summary{Organization: &kybflow.OrganizationSummary{Status: "in_wind_down", Sanction: "escalated", Roles: d.Summary.Organization.Roles},
		Omitted: []string{"roles"}}
	if !reflect.DeepEqual(d.Summary, want) || *d.Summary.Organization.Roles != 2 {
		t.Fatalf("summary %+v, want %+v", d.Summary, want)
	}
	b, err := kybflow.EncodeEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	again, err := kybflow.DecodeEvent(b)
	if err != nil || !reflect.DeepEqual(again, e) {
		t.Errorf("re-decoded %+v, %v", again, err)
	}
}

func TestSummaryClone(t *testing.T) {
	if (*kybflow.Summary)(nil).Clone() != nil {
		t.Error("a nil summary clones to a summary")
	}
	s := goldenSummary()
	s.BeneficialOwners = &kybflow.BeneficialOwnersSummary{Owners: new(int)}
	s.Empty = []string{"roles"}
	c := s.Clone()
	if !reflect.DeepEqual(c, s) {
		t.Fatalf("clone %+v of %+v", c, s)
	}
	*c.Organization.Roles, *c.BeneficialOwners.Owners, c.Empty[0] = 9, 9, "x"
	if *s.Organization.Roles != 4 || *s.BeneficialOwners.Owners != 0 || s.Empty[0] != "roles" {
		t.Errorf("the clone shares with %+v", s)
	}
}

// A service routes a lookup by its summary, without reading the results.
func ExampleSummary() {
	b := []byte(`{"specversion":"1.0","id":"onb-7.completed","source":"urn:kybflow:worker","type":"io.kybflow.aml.lookup.completed.v1","subject":"onb-7","dataschema":"https://raw.githubusercontent.com/kybflow/kybflow/main/docs/schemas/completed.data.schema.json",
		"data":{"lookupId":"onb-7","sessionId":"s-1","type":"organization","country":"NO","identifierType":"organization_number","identifier":"923609016",
		"artifacts":[{"name":"json","bucket":"b","key":"lookups/onb-7/json.json","size":9,"sha256":"` + strings.Repeat("0", 64) + `","contentType":"application/json"}],
		"summary":{"organization":{"status":"active","sanction":"hit","roles":5,"beneficialOwners":0},"empty":["ownership.beneficials"]}}}`)
	var e kybflow.Event
	if err := json.Unmarshal(b, &e); err != nil {
		panic(err)
	}
	d, _ := e.Completed()
	switch s := d.Summary; {
	case s == nil || s.Unavailable != "":
		fmt.Println("read the JSON result")
	case s.Organization != nil && s.Organization.Sanction == kybflow.SanctionHit:
		fmt.Println("sanction hit: to compliance;", s.Organization.Status, "with", *s.Organization.BeneficialOwners, "beneficial owners; empty:", s.Empty)
	}
	// Output:
	// sanction hit: to compliance; active with 0 beneficial owners; empty: [ownership.beneficials]
}
