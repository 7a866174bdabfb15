// Tests of reading a session's status and the access rights.

package amlapi

import (
	"context"
	"io"
	"net/http"
	"testing"
)

func TestSession(t *testing.T) {
	f := newFake(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.EscapedPath() != "/beneficial/session/s%2F1" {
			http.Error(w, "unexpected "+r.URL.String(), http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"sessionId":"s/1","status":"PAUSED","created":"2025-01-02T03:04:05Z","future":{"x":1},
			"jsonData":{"status":"READY","link":"/beneficial/session/s%2F1/json","expires":"2025-01-02T05:04:05Z"},
			"reports":{"aml":{"status":"IN_PROGRESS"},"new_report":{"status":"QUEUED"}}}`)
	})
	c := newClient(t, testConfig(f))
	s, err := c.Session(context.Background(), KindBeneficial, "s/1")
	if err != nil {
		t.Fatal(err)
	}
	if s.SessionID != "s/1" || s.Status != "PAUSED" || s.JSONData.Status != EntityReady || s.JSONData.Expires == nil ||
		s.Reports[ReportAML].Status != EntityInProgress || s.Reports["new_report"].Status != "QUEUED" {
		t.Errorf("session = %+v", s)
	}
	for _, bad := range []struct {
		kind Kind
		id   string
	}{{"person", "s"}, {KindOrganization, ""}} {
		if _, err := c.Session(context.Background(), bad.kind, bad.id); ClassOf(err) != Permanent {
			t.Errorf("Session(%q, %q) = %v, want Permanent", bad.kind, bad.id, err)
		}
	}
}

func TestAccessRights(t *testing.T) {
	f := newFake(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != AccessRightsPath {
			http.NotFound(w, r)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"nationalRegistry": "SOMEDAY", "other": "x"})
	})
	c := newClient(t, testConfig(f))
	ar, err := c.AccessRights(context.Background())
	if err != nil || ar.NationalRegistry != "SOMEDAY" {
		t.Fatalf("AccessRights = %+v, %v", ar, err)
	}
}
