package sandbox_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/testenv"
)

// A beneficial owners session makes its PDF report without being asked, as
// the guide gives it: JSON and report, no option to leave it out.
func TestBeneficialOwnersReportIsMadeUnasked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{ReadyAfter: 50 * time.Millisecond, ReportInterval: 10 * time.Millisecond})
	id := e.create(amlapi.CreateBeneficialPath, amlapi.CreateSessionRequest{Identifier: "974760673"})
	s := e.wait(amlapi.KindBeneficial, id, 10*time.Second, func(s amlapi.Session) bool { return s.Status == amlapi.SessionDone })
	rep, ok := s.Reports[amlapi.BeneficialReport]
	if !ok || rep.Status != amlapi.EntityReady || rep.Link == "" {
		t.Fatalf("reports %+v, want %s READY with a link", s.Reports, amlapi.BeneficialReport)
	}
	resp, body := e.do(http.MethodGet, rep.Link, e.token, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != amlapi.ContentTypePDF || len(body) < 5 || string(body[:5]) != "%PDF-" {
		t.Fatalf("report: %d %s %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
}

// The guide shape answers a plain status per entity under jsonData and
// <type>-report, with nothing else; the content is at the model's paths.
func TestGuideSessionShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{SessionShape: sandbox.ShapeGuide, ReadyAfter: 50 * time.Millisecond, ReportInterval: 10 * time.Millisecond})
	id := e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: "923609016", Reports: []amlapi.ReportType{amlapi.ReportAML}})
	resp, body := e.do(http.MethodGet, amlapi.SessionPath(amlapi.KindOrganization, id), e.token, nil)
	var raw map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &raw) != nil {
		t.Fatalf("GET session: %d %s", resp.StatusCode, body)
	}
	if len(raw) != 2 {
		t.Errorf("guide shape has keys %v, want jsonData and aml-report only", raw)
	}
	for _, k := range []string{"jsonData", "aml-report"} {
		if _, ok := raw[k].(string); !ok {
			t.Errorf("%s = %#v, want a plain status string", k, raw[k])
		}
	}
	testenv.Eventually(t, 10*time.Second, func() error { // the sandbox's own clock moves the session
		if _, body = e.do(http.MethodGet, amlapi.SessionPath(amlapi.KindOrganization, id), e.token, nil); string(body) != `{"aml-report":"READY","jsonData":"READY"}` {
			return fmt.Errorf("not all READY: %s", body)
		}
		return nil
	})
	for _, p := range []string{amlapi.JSONLinkPath(amlapi.KindOrganization, id), amlapi.ReportLinkPath(amlapi.KindOrganization, id, amlapi.ReportAML)} {
		if resp, _ := e.do(http.MethodGet, p, e.token, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
}
