package sandbox_test

import (
	"bytes"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox"
)

// TestClientDecodesSandboxJSON decodes the sandbox's documents with the
// client's tolerant decoders (internal/amlapi/document.go): the presence of
// every block must be what was requested, and empty nodes must come out
// Empty. It is a contract test between the two packages.
func TestClientDecodesSandboxJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{ReadyAfter: 30 * time.Millisecond, ReportInterval: 10 * time.Millisecond})
	get := func(k amlapi.Kind, create string, req amlapi.CreateSessionRequest) []byte {
		id := e.create(create, req)
		s := e.wait(k, id, 2*time.Second, done)
		resp, body := e.do(http.MethodGet, s.JSONData.Link, e.token, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET json: %d", resp.StatusCode)
		}
		return body
	}

	body := get(amlapi.KindOrganization, amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{
		Identifier: sandbox.NoOwnersNO, Expands: append([]string{"financials.credit"}, everyExpand...), Reports: []amlapi.ReportType{"aml"}})
	doc, err := amlapi.DecodeOrganization(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("DecodeOrganization: %v", err)
	}
	for _, p := range doc.Presences() {
		want := amlapi.Present
		switch p.Path {
		case "ownership.beneficials":
			want = amlapi.Empty
		case "ownership.subsidiaries", "financials.auditor", "financials.accountant":
			if p.State == amlapi.Empty {
				want = amlapi.Empty // an organization may have none
			}
		}
		if p.State != want {
			t.Errorf("%s: %s, want %s", p.Path, p.State, want)
		}
	}
	if ki, _ := doc.KeyInformation.Found(); ki.Name != "Sandbox No Owners AS" || ki.OrganizationNumber != sandbox.NoOwnersNO {
		t.Errorf("keyInformation %+v", ki)
	}

	body = get(amlapi.KindOrganization, amlapi.CreateOrganizationPath(amlapi.FI), amlapi.CreateSessionRequest{Identifier: "2077474-0", Expands: []string{"roles"}})
	doc, err = amlapi.DecodeOrganization(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("DecodeOrganization: %v", err)
	}
	for _, p := range doc.Presences() {
		want := amlapi.NotRequested
		if p.Path == "keyInformation" || p.Path == "roles" {
			want = amlapi.Present
		}
		if p.State != want {
			t.Errorf("roles only, %s: %s, want %s", p.Path, p.State, want)
		}
	}

	body = get(amlapi.KindBeneficial, amlapi.CreateBeneficialPath, amlapi.CreateSessionRequest{Identifier: "974760673", Expands: amlapi.BeneficialExpands})
	bo, err := amlapi.DecodeBeneficialOwners(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("DecodeBeneficialOwners: %v", err)
	}
	owners, ok := bo.BeneficialOwners.Found()
	if !ok || len(owners) == 0 || bo.Organization.OrganizationNumber != "974760673" || bo.Metadata.NationalRegistry != amlapi.AccessGranted {
		t.Fatalf("beneficial owners document: %+v", bo)
	}
	for _, o := range owners {
		if o.Citizenship.State != amlapi.Present || o.Birthplace.State != amlapi.Present || o.Birthplace.Value.Place == "" {
			t.Errorf("owner %+v: citizenship and birthplace should be present", o)
		}
		if o.SSN != nil { // SSNAccess is off
			t.Error("ssn present without SSN access")
		}
	}
	if !slices.Equal(bo.Metadata.OmittedFields, []string{"ssn", "identificationNumber"}) {
		t.Errorf("omittedFields %v", bo.Metadata.OmittedFields)
	}

	body = get(amlapi.KindBeneficial, amlapi.CreateBeneficialPath, amlapi.CreateSessionRequest{Identifier: sandbox.NoOwnersNO})
	if bo, err = amlapi.DecodeBeneficialOwners(bytes.NewReader(body)); err != nil || bo.BeneficialOwners.State != amlapi.Empty {
		t.Errorf("no owners: %v, %+v", err, bo)
	}

	// The session answers decode with the client's decoder too.
	id := e.create(amlapi.CreateOrganizationPath(amlapi.SE), amlapi.CreateSessionRequest{Identifier: "5560360793", Reports: []amlapi.ReportType{"aml"}})
	_, body = e.do(http.MethodGet, amlapi.SessionPath(amlapi.KindOrganization, id), e.token, nil)
	if s, err := amlapi.DecodeSession(bytes.NewReader(body)); err != nil || s.SessionID != id {
		t.Errorf("DecodeSession: %v %+v", err, s)
	}
}
