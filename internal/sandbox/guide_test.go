package sandbox_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/testenv"
)

// guideFields are the fields of each block as the organization guide lists
// them (../../docs: /work/shared/aml-api.md, "JSON model", and issue 21's
// reading of the guide's lists), by the JSON names our model gives them
// (amlapi's model.go, "Result documents"). Each listed field must be in
// the sandbox's JSON whenever its block is.
var guideFields = map[string][]string{
	"keyInformation": {"name", "organizationNumber", "dunsNumber", "lei", "organizationType", "country", "registrationDate",
		"webPage", "employees", "registries", "status", "institutionalSector", "industrySector", "purpose", "sources"},
	"address":               {"postalAddress", "visitingAddress"},
	"financials.keyFigures": {"shareCapital", "accountingYears", "sources"},
	"financials.keyFigures.accountingYears[]": {"year", "turnover", "operatingProfit", "equity", "earnings"},
	"ownership.beneficials[]": {"name", "birthDate", "address", "share", "roles", "reason", "reasonPhrase",
		"integratedOwnership", "percentageControl"},
	"ownership.indicators": {"complexOwnership", "foreignOwnership", "publiclyListed", "ownershipLayers", "beneficialOwnersUnknown"},
	"authorities":          {"signatureRights", "procuration"},
	"sanction":             {"status", "message", "lists", "matches"},
	"sanction.matches[]": {"name", "matchIndicator", "matchIndicatorDescription", "aliasList", "address", "listName", "source",
		"listedDate", "updatedDate", "urls"},
	"links.reports": {"aml", "certificate_of_incorporation"},
}

// olderNames are the names the guide does not use, which the sandbox no
// longer sends (the client still reads them).
var olderNames = map[string][]string{
	"keyInformation":        {"sectors"},
	"financials.keyFigures": {"equityRatio", "profitMargin", "returnOnAssets", "revenueGrowth"},
	"sanction.matches[]":    {"aliases"},
}

// TestSandboxJSONReadsAsTheGuideListsIt reads the sandbox's organization
// JSON, every block requested, against the guide's lists.
func TestSandboxJSONReadsAsTheGuideListsIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{ReadyAfter: 20 * time.Millisecond, ReportInterval: 10 * time.Millisecond})
	expands := amlapi.OrganizationExpands
	for _, id := range []string{"923609016", "974760673", sandbox.SanctionHitNO} {
		sid := e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: id, Expands: expands})
		doc := e.fetchJSON(e.wait(amlapi.KindOrganization, sid, 5*time.Second, done))
		for block, fields := range guideFields {
			for _, obj := range objectsAt(doc, block) {
				for _, f := range fields {
					if _, ok := obj[f]; !ok {
						t.Errorf("%s: %s lacks the guide's %s: %v", id, block, f, obj)
					}
				}
				for _, f := range olderNames[block] {
					if _, ok := obj[f]; ok {
						t.Errorf("%s: %s still has the older %s", id, block, f)
					}
				}
			}
		}
		// The indicators are numbers; the sanction message is there on no hit too.
		for _, obj := range objectsAt(doc, "ownership.indicators") {
			for _, f := range guideFields["ownership.indicators"] {
				if _, ok := obj[f].(float64); !ok {
					t.Errorf("%s: indicator %s = %#v, want a number", id, f, obj[f])
				}
			}
		}
		if m, _ := path(t, doc, "sanction", "message").(string); m == "" {
			t.Errorf("%s: no sanction message", id)
		}
		for _, r := range path(t, doc, "roles").([]any) {
			typ := r.(map[string]any)["type"].(string)
			if !slices.Contains(amlapi.GuideRoles, typ) && typ != amlapi.RoleOwner && typ != "CONTACT_PERSON" {
				t.Errorf("%s: role %s is not one of the guide's ten", id, typ)
			}
		}
	}
	// Without the keyInformation.lei expand there is no lei.
	sid := e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: "923609016"})
	if _, ok := path(t, e.fetchJSON(e.wait(amlapi.KindOrganization, sid, 5*time.Second, done)), "keyInformation").(map[string]any)["lei"]; ok {
		t.Error("lei without the keyInformation.lei expand")
	}
	// The guide's identificationNumber is an expand name, beside ssn.
	resp, body := e.do(http.MethodPost, amlapi.CreateBeneficialPath, e.token, amlapi.CreateSessionRequest{Identifier: "974760673", Expands: []string{"identificationNumber"}})
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("expand identificationNumber: %d %s", resp.StatusCode, body)
	}
}

// objectsAt returns the objects at a dotted path of doc; a path ending in
// [] is every entry of that list.
func objectsAt(doc map[string]any, p string) []map[string]any {
	cur := []any{doc}
	keys := splitPath(p)
	for _, k := range keys {
		var next []any
		list := false
		if n := len(k); n > 2 && k[n-2:] == "[]" {
			k, list = k[:n-2], true
		}
		for _, v := range cur {
			m, ok := v.(map[string]any)
			if !ok {
				continue
			}
			x, ok := m[k]
			if !ok {
				continue
			}
			if l, ok := x.([]any); ok && list {
				next = append(next, l...)
			} else if !list {
				next = append(next, x)
			}
		}
		cur = next
	}
	var out []map[string]any
	for _, v := range cur {
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			out = append(out, m)
		}
	}
	return out
}

func splitPath(p string) []string {
	var out []string
	start := 0
	for i := 0; i < len(p); i++ {
		if p[i] == '.' {
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return append(out, p[start:])
}

// The reports-late and reports-never identifiers: a guide-shaped answer
// lists the JSON only, the JSON's links.reports names the reports, with
// links.expires; the late report comes, the never one answers 409.
func TestReportsLateAndNeverInTheGuidesShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{SessionShape: sandbox.ShapeGuide, ReadyAfter: 20 * time.Millisecond, ReportInterval: 10 * time.Millisecond})
	for id, ready := range map[string]bool{sandbox.ReportsLateNO: true, sandbox.ReportsNeverNO: false} {
		sid := e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: id, Reports: []amlapi.ReportType{amlapi.ReportAML}})
		var links map[string]any
		testenv.Eventually(t, 5*time.Second, func() error {
			_, body := e.do(http.MethodGet, amlapi.SessionPath(amlapi.KindOrganization, sid), e.token, nil)
			if string(body) != `{"jsonData":"READY"}` {
				return fmt.Errorf("%s: session %s", id, body)
			}
			return nil
		})
		resp, body := e.do(http.MethodGet, amlapi.JSONLinkPath(amlapi.KindOrganization, sid), e.token, nil)
		var doc map[string]any
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &doc) != nil {
			t.Fatalf("%s: json %d", id, resp.StatusCode)
		}
		links = path(t, doc, "links").(map[string]any)
		if _, ok := links["expires"].(string); !ok {
			t.Errorf("%s: links %v without expires", id, links)
		}
		link := path(t, doc, "links", "reports", "aml").(string)
		testenv.Eventually(t, 5*time.Second, func() error {
			resp, _ := e.do(http.MethodGet, link, e.token, nil)
			switch {
			case ready && resp.StatusCode != http.StatusOK:
				return fmt.Errorf("%s: late report %d", id, resp.StatusCode)
			case !ready && resp.StatusCode != http.StatusConflict:
				t.Fatalf("%s: never report %d, want 409", id, resp.StatusCode)
			}
			return nil
		})
	}
}
