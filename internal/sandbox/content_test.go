package sandbox_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/sandbox/pdf"
	"github.com/kybflow/kybflow/internal/sandbox/pdf/pdftest"
)

var everyExpand = []string{"address", "financials", "financials.credit", "ownership", "authorities", "roles", "sanction.ofac"}

// TestOrganizationJSON checks the JSON of each country: the requested
// blocks and nothing else, metadata.sources, the country's registries.
func TestOrganizationJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{ReadyAfter: 50 * time.Millisecond})
	for _, tc := range []struct {
		country    amlapi.Country
		id         string
		authority  string
		currencies string
	}{
		{amlapi.NO, "974760673", "Brønnøysundregistrene", "NOK"},
		{amlapi.SE, "5560360793", "Bolagsverket", "SEK"},
		{amlapi.FI, "2077474-0", "PRH", "EUR"},
	} {
		id := e.create(amlapi.CreateOrganizationPath(tc.country), amlapi.CreateSessionRequest{Identifier: tc.id, Expands: everyExpand})
		doc := e.fetchJSON(e.wait(amlapi.KindOrganization, id, 2*time.Second, done))
		ki := path(t, doc, "keyInformation").(map[string]any)
		if ki["country"] != string(tc.country) || ki["name"] == "" || ki["organizationNumber"] != tc.id {
			t.Errorf("%s keyInformation: %v", tc.country, ki)
		}
		raw, _ := json.Marshal(doc)
		if !bytes.Contains(raw, []byte(tc.authority)) {
			t.Errorf("%s: no %s in the JSON", tc.country, tc.authority)
		}
		for _, b := range [][]string{
			{"keyInformation", "metadata", "sources"}, {"address", "visitingAddress"}, {"financials", "accounting"},
			{"financials", "keyFigures"}, {"financials", "auditor"}, {"financials", "accountant"}, {"financials", "credit"},
			{"ownership", "beneficials"}, {"ownership", "subsidiaries"}, {"ownership", "shareholders"},
			{"ownership", "indicators"}, {"authorities", "signatureRights"}, {"roles"}, {"sanction", "status"}, {"metadata", "sources"},
		} {
			path(t, doc, b...)
		}
		// sanction.ofac brings the OFAC list.
		if !bytes.Contains(raw, []byte("OFAC")) {
			t.Errorf("%s: sanction.ofac without the OFAC list", tc.country)
		}
		if doc["schemaVersion"] == nil || path(t, doc, "sandbox", "synthetic") != true {
			t.Errorf("%s: no extra fields", tc.country)
		}
	}

	// Without expands: keyInformation only.
	id := e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: "974760673"})
	doc := e.fetchJSON(e.wait(amlapi.KindOrganization, id, 2*time.Second, done))
	for k := range doc {
		switch k {
		case "keyInformation", "metadata", "schemaVersion", "sandbox":
		default:
			t.Errorf("unrequested block %q", k)
		}
	}
	// financials.accounting alone: no other financials child; sanction without OFAC.
	id = e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: "974760673",
		Expands: []string{"financials.accounting", "sanction"}})
	doc = e.fetchJSON(e.wait(amlapi.KindOrganization, id, 2*time.Second, done))
	if f := path(t, doc, "financials").(map[string]any); len(f) != 1 {
		t.Errorf("financials.accounting gave %v", f)
	}
	if raw, _ := json.Marshal(doc["sanction"]); bytes.Contains(raw, []byte("OFAC")) {
		t.Errorf("sanction without sanction.ofac lists OFAC: %s", raw)
	}
}

// TestDeterministicJSON: the same identifier gives the same JSON in every
// session (links apart), and the blocks do not depend on the other expands.
func TestDeterministicJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{ReadyAfter: 50 * time.Millisecond})
	get := func(id string, expands ...string) map[string]any {
		sid := e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: id, Expands: expands, Reports: []amlapi.ReportType{"aml"}})
		doc := e.fetchJSON(e.wait(amlapi.KindOrganization, sid, 2*time.Second, func(s amlapi.Session) bool { return s.JSONData.Status == amlapi.EntityReady }))
		delete(doc, "links")
		return doc
	}
	a, b := get("988077917", everyExpand...), get("988077917", everyExpand...)
	if !reflect.DeepEqual(a, b) {
		t.Error("two sessions of the same identifier differ")
	}
	c := get("988077917", "roles")
	if !reflect.DeepEqual(a["keyInformation"], c["keyInformation"]) || !reflect.DeepEqual(a["roles"], c["roles"]) {
		t.Error("blocks change with the other expands")
	}
	if d := get("974760673", everyExpand...); reflect.DeepEqual(a["keyInformation"], d["keyInformation"]) {
		t.Error("two identifiers give the same organization")
	}
}

// TestEmptyNodes: a requested block that found nothing is {} or [].
func TestEmptyNodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{ReadyAfter: 50 * time.Millisecond})
	id := e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: sandbox.NoOwnersNO, Expands: []string{"ownership"}})
	s := e.wait(amlapi.KindOrganization, id, 2*time.Second, done)
	resp, body := e.do(http.MethodGet, s.JSONData.Link, e.token, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"beneficials": []`)) {
		t.Errorf("no-owners organization: beneficials is not an empty list:\n%s", body)
	}
	// A sole proprietorship (found by search: deterministic data) has no
	// auditor, accounts, subsidiaries or shareholders.
	sole := findSoleProprietorship(t)
	id = e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: sole,
		Expands: []string{"financials", "ownership.subsidiaries", "ownership.shareholders"}})
	doc := e.fetchJSON(e.wait(amlapi.KindOrganization, id, 2*time.Second, done))
	for _, p := range [][]string{{"financials", "auditor"}, {"financials", "keyFigures"}} {
		if v, ok := path(t, doc, p...).(map[string]any); !ok || len(v) != 0 {
			t.Errorf("%v of a sole proprietorship = %v, want {}", p, v)
		}
	}
	for _, p := range [][]string{{"financials", "accounting"}, {"ownership", "subsidiaries"}, {"ownership", "shareholders"}} {
		if v, ok := path(t, doc, p...).([]any); !ok || len(v) != 0 {
			t.Errorf("%v of a sole proprietorship = %v, want []", p, v)
		}
	}
}

// findSoleProprietorship is a valid Norwegian number whose synthetic
// organization is an ENK.
func findSoleProprietorship(t *testing.T) string {
	for body := 91234560; body < 91234999; body++ {
		if id, ok := validNO(body); ok && sandbox.OrgTypeOf(amlapi.NO, id) == "ENK" {
			return id
		}
	}
	t.Fatal("no sole proprietorship found")
	return ""
}

func validNO(body int) (string, bool) {
	s := strconv.Itoa(body)
	w := []int{3, 2, 7, 6, 5, 4, 3, 2}
	sum := 0
	for i := range 8 {
		sum += int(s[i]-'0') * w[i]
	}
	r := sum % 11
	switch r {
	case 0:
		return s + "0", true
	case 1:
		return "", false
	}
	return s + strconv.Itoa(11-r), true
}

// TestDownloads: JSON and PDF downloads carry their content type and exact
// length, the PDFs are valid and show what the report is about, and the
// inspection counts every download.
func TestDownloads(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{ReadyAfter: 50 * time.Millisecond, ReportInterval: 20 * time.Millisecond})
	id := e.create(amlapi.CreateOrganizationPath(amlapi.SE), amlapi.CreateSessionRequest{
		Identifier: "5560360793", Reports: []amlapi.ReportType{"aml", "certificate_of_incorporation"}, Language: "nb",
	})
	s := e.wait(amlapi.KindOrganization, id, 2*time.Second, done)
	resp, body := e.do(http.MethodGet, s.JSONData.Link, e.token, nil)
	if resp.Header.Get("Content-Type") != amlapi.ContentTypeJSON || resp.ContentLength != int64(len(body)) || !json.Valid(body) {
		t.Errorf("json: %v, %d bytes", resp.Header, len(body))
	}
	var name string
	var doc map[string]any
	mustJSON(t, body, &doc)
	name = path(t, doc, "keyInformation", "name").(string)

	for _, r := range []amlapi.ReportType{amlapi.ReportAML, amlapi.ReportCertificateOfIncorporation} {
		resp, pdfBytes := e.do(http.MethodGet, s.Reports[r].Link, e.token, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != amlapi.ContentTypePDF || resp.ContentLength != int64(len(pdfBytes)) {
			t.Fatalf("%s: %d %v, %d bytes", r, resp.StatusCode, resp.Header, len(pdfBytes))
		}
		pdftest.Structure(t, pdfBytes, 2)
		for _, want := range []string{id, "5560360793", string(r), string(pdf.AppendString(nil, name))} {
			if !bytes.Contains(pdfBytes, []byte(strings.Trim(want, "()"))) {
				t.Errorf("%s: PDF does not show %q", r, want)
			}
		}
		// Deterministic per session.
		if _, again := e.do(http.MethodGet, s.Reports[r].Link, e.token, nil); !bytes.Equal(again, pdfBytes) {
			t.Errorf("%s: two downloads differ", r)
		}
		if n := pdftest.Tools(t, pdfBytes); n < 2 {
			t.Errorf("%s: pdfinfo sees %d pages", r, n)
		}
	}
	// A download is recorded when its handler returns, which may be just
	// after the client read the last byte.
	in := waitInspect(t, e, func(in sandbox.Inspection) bool { return len(in.Downloads) >= 5 })
	var ok200 int
	for _, d := range in.Downloads {
		if d.SessionID == id && d.Status == 200 && d.Bytes > 0 {
			ok200++
		}
	}
	if ok200 != 5 {
		t.Errorf("inspection counts %d successful downloads, want 5: %+v", ok200, in.Downloads)
	}
	if in.Requests["GET /organization/session/{id}/report/{report}"] != 4 {
		t.Errorf("request counts: %v", in.Requests)
	}
	// HEAD gives the headers without generating the body.
	resp, body = e.do(http.MethodHead, s.Reports[amlapi.ReportAML].Link, e.token, nil)
	if resp.StatusCode != http.StatusOK || resp.ContentLength < 1000 || len(body) != 0 || resp.Header.Get("Content-Type") != amlapi.ContentTypePDF {
		t.Errorf("HEAD report: %d, Content-Length %d, %d bytes", resp.StatusCode, resp.ContentLength, len(body))
	}
}

// TestReportSize pads reports to about ReportSize with an exact
// Content-Length.
func TestReportSize(t *testing.T) {
	t.Parallel()
	const size = 400 << 10
	e := newEnv(t, sandbox.Config{ReadyAfter: 20 * time.Millisecond, ReportSize: size})
	id := e.create(amlapi.CreateBeneficialPath, amlapi.CreateSessionRequest{Identifier: "923609016", Reports: []amlapi.ReportType{"aml"}})
	s := e.wait(amlapi.KindBeneficial, id, 2*time.Second, done)
	resp, b := e.do(http.MethodGet, s.Reports[amlapi.ReportAML].Link, e.token, nil)
	if resp.StatusCode != http.StatusOK || resp.ContentLength != int64(len(b)) {
		t.Fatalf("%d, Content-Length %d, %d bytes", resp.StatusCode, resp.ContentLength, len(b))
	}
	if len(b) > size || len(b) < size-16<<10 {
		t.Errorf("report is %d bytes, want about %d", len(b), size)
	}
	pages := pdftest.Structure(t, b, 3)
	if n := pdftest.Tools(t, b); n != pages {
		t.Errorf("pdfinfo sees %d pages, Verify %d", n, pages)
	}
}
