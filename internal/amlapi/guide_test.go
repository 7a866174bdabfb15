package amlapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The guides' only example of a session answer, a plain status per entity
// keyed jsonData and aml-report, is read; READY entities without a link get
// the model's content path.
func TestSessionInTheGuidesShape(t *testing.T) {
	f := newFake(t)
	body := `{"jsonData": "IN_PROGRESS", "aml-report": "NOT_STARTED"}`
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	})
	c := newClient(t, testConfig(f))
	s, err := c.Session(context.Background(), KindOrganization, "s-1")
	if err != nil {
		t.Fatalf("the guides' example: %v", err)
	}
	if s.JSONData.Status != EntityInProgress || s.Reports[ReportAML].Status != EntityNotStarted {
		t.Fatalf("decoded %+v", s)
	}
	body = `{"jsonData": "READY", "aml-report": "READY", "certificate_of_incorporation-report": {"status": "READY", "link": "/x/cert"}}`
	if s, err = c.Session(context.Background(), KindOrganization, "s-1"); err != nil {
		t.Fatal(err)
	}
	if got, want := s.JSONData.Link, JSONLinkPath(KindOrganization, "s-1"); got != want {
		t.Errorf("JSON link %q, want the model's content path %q", got, want)
	}
	if got, want := s.Reports[ReportAML].Link, ReportLinkPath(KindOrganization, "s-1", ReportAML); got != want {
		t.Errorf("report link %q, want %q", got, want)
	}
	if got := s.Reports[ReportCertificateOfIncorporation].Link; got != "/x/cert" {
		t.Errorf("a link the API gives is kept; got %q", got)
	}
}

// A 200 we cannot read (not a JSON object) is Unreadable, with the body's
// outline and none of its values. Odd values inside an object (a number
// for a status) are tolerated instead: see TestSession.
func TestUnreadableSessionNamesItsShape(t *testing.T) {
	f := newFake(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `[{"jsonData": {"status": 7}, "owner": "Kari Nordmann 01018012345"}]`)
	})
	c := newClient(t, testConfig(f))
	_, err := c.Session(context.Background(), KindOrganization, "s-1")
	var ae *Error
	if !errors.As(err, &ae) || ae.Class != Unreadable {
		t.Fatalf("err = %v, want an Unreadable *Error", err)
	}
	if ae.Shape != `array(1)` {
		t.Errorf("shape %q", ae.Shape)
	}
	if strings.Contains(ae.Shape+err.Error(), "Kari") || strings.Contains(ae.Shape+err.Error(), "01018012345") {
		t.Errorf("personal data in %q / %q", ae.Shape, err)
	}
}

func TestShape(t *testing.T) {
	for in, want := range map[string]string{
		`not json`: `not JSON (8 bytes)`,
		`[1,2]`:    `array(2)`,
		`{"a":{"b":{"c":1}},"d":[true],"e":null,"f":false}`: `{"a":{"b":{…}},"d":array(1),"e":null,"f":bool}`,
		`{"` + strings.Repeat("k", 50) + `":"v"}`:           `{"` + strings.Repeat("k", 40) + `…":string}`,
	} {
		if got := Shape([]byte(in)); got != want {
			t.Errorf("Shape(%s) = %s, want %s", in, got, want)
		}
	}
}
