package sandbox

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow/identifier"
	"github.com/kybflow/kybflow/internal/amlapi"
)

// TestTimeline checks the state machine at exact instants.
func TestTimeline(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	const ready, interval, life, forget = 2 * time.Second, time.Second, 10 * time.Second, 10 * time.Second
	tl := newTimeline(t0, ready, interval, life, forget, 2, false)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type want struct {
		session  amlapi.SessionStatus
		entities [3]amlapi.EntityStatus
	}
	N, P, R, X := amlapi.EntityNotStarted, amlapi.EntityInProgress, amlapi.EntityReady, amlapi.EntityExpired
	for _, tc := range []struct {
		d    time.Duration
		want want
	}{
		{0, want{amlapi.SessionInProgress, [3]amlapi.EntityStatus{N, N, N}}},
		{500 * time.Millisecond, want{amlapi.SessionInProgress, [3]amlapi.EntityStatus{P, N, N}}},
		{2 * time.Second, want{amlapi.SessionInProgress, [3]amlapi.EntityStatus{R, P, N}}},
		{3 * time.Second, want{amlapi.SessionInProgress, [3]amlapi.EntityStatus{R, R, P}}},
		{4 * time.Second, want{amlapi.SessionDone, [3]amlapi.EntityStatus{R, R, R}}},
		{12 * time.Second, want{amlapi.SessionDone, [3]amlapi.EntityStatus{X, R, R}}},
		{14 * time.Second, want{amlapi.SessionDone, [3]amlapi.EntityStatus{X, X, X}}},
	} {
		got := want{session: tl.status(at(tc.d))}
		for i := range 3 {
			got.entities[i], _ = tl.entity(i, at(tc.d))
		}
		if got != tc.want {
			t.Errorf("at +%s: %v, want %v", tc.d, got, tc.want)
		}
	}
	if _, exp := tl.entity(1, at(3*time.Second)); !exp.Equal(at(13 * time.Second)) {
		t.Errorf("report 1 expires %v", exp)
	}
	if tl.forgotten(at(24*time.Second-1)) || !tl.forgotten(at(24*time.Second)) {
		t.Error("not forgotten Lifetime after the last entity expired")
	}

	failing := newTimeline(t0, ready, interval, life, forget, 1, true)
	if st, _ := failing.entity(1, at(2*time.Second)); st != amlapi.EntityFailed || failing.status(at(2*time.Second)) != amlapi.SessionFailed {
		t.Errorf("failing: %s %s", st, failing.status(at(2*time.Second)))
	}
	if st, _ := failing.entity(0, at(time.Second)); st != amlapi.EntityInProgress {
		t.Errorf("failing before it fails: %s", st)
	}
	if !failing.forgotten(at(12 * time.Second)) {
		t.Error("failed session not forgotten Lifetime after failing")
	}
}

// TestBlocksCoverEveryExpand: every organization expand of the model
// resolves to at least one block (catches a rename in model.go).
func TestBlocksCoverEveryExpand(t *testing.T) {
	for _, e := range amlapi.OrganizationExpands {
		if strings.HasPrefix(e, "links.reports.") {
			continue
		}
		if blocksOf([]string{e}) == (blocks{}) {
			t.Errorf("expand %q selects no block", e)
		}
	}
	for _, r := range []amlapi.ReportType{amlapi.ReportAML, amlapi.ReportCertificateOfIncorporation} {
		if !slices.Contains(amlapi.OrganizationExpands, amlapi.ReportExpand(r)) {
			t.Errorf("report expand of %s not in OrganizationExpands", r)
		}
	}
	for _, e := range amlapi.BeneficialExpands {
		if !slices.Contains([]string{"citizenship", "birthplace", "ssn", "identificationNumber"}, e) {
			t.Errorf("beneficial expand %q is not handled", e)
		}
	}
}

func TestSyntheticData(t *testing.T) {
	seenTypes := map[string]bool{}
	for _, c := range []amlapi.Country{amlapi.NO, amlapi.SE, amlapi.FI} {
		for i := range 120 {
			g := newGen("ids", string(c), string(rune(i)))
			id := g.orgNumber(c)
			k, _ := identifier.ForCountry(string(c))
			if !identifier.Valid(k, id) {
				t.Fatalf("synthetic %s number %s is invalid", c, id)
			}
			o := newOrg(c, k, id)
			seenTypes[string(c)+"/"+o.typ.code] = true
			var share float64
			for _, sh := range o.shareholders {
				share += sh.share
			}
			if len(o.shareholders) > 0 && (share < 99 || share > 100.01) {
				t.Errorf("%s %s: shareholders hold %.2f %%", c, id, share)
			}
			for _, ow := range o.owners {
				if ow.share > 100 || ow.share < 0 || ow.name == "" {
					t.Errorf("%s %s: owner %+v", c, id, ow)
				}
				if len(ow.ssn) != 11 || ow.ssn[2] < '8' {
					t.Errorf("ssn %s is not synthetic", ow.ssn)
				}
			}
			if o.lei != "" && !validLEI(o.lei) {
				t.Errorf("LEI %s is invalid", o.lei)
			}
			// Deterministic.
			if b1, b2 := mustMarshal(t, o.organizationDocument(blocksOf(amlapi.OrganizationExpands), nil)),
				mustMarshal(t, newOrg(c, k, id).organizationDocument(blocksOf(amlapi.OrganizationExpands), nil)); b1 != b2 {
				t.Fatalf("%s %s: not deterministic", c, id)
			}
		}
	}
	for _, want := range []string{"NO/AS", "NO/ENK", "SE/AB", "SE/EF", "FI/Oy", "FI/Tmi"} {
		if !seenTypes[want] {
			t.Errorf("no %s among 120 organizations: %v", want, seenTypes)
		}
	}
	// A DUNS lookup gets a valid national number.
	o := newOrg(amlapi.SE, identifier.DUNS, "150483782")
	if o.duns != "150483782" || !identifier.Valid(identifier.SwedishOrgNumber, o.number) {
		t.Errorf("DUNS organization: %s %s", o.duns, o.number)
	}
}

func validLEI(s string) bool {
	rem := 0
	for _, c := range s {
		v := strings.IndexRune("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", c)
		if v < 0 {
			return false
		}
		if v >= 10 {
			rem = (rem*100 + v) % 97
		} else {
			rem = (rem*10 + v) % 97
		}
	}
	return len(s) == 20 && rem == 1
}

func mustMarshal(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWebhookSchedule checks reorder and spacing decisions without a
// network.
func TestWebhookSchedule(t *testing.T) {
	sb, err := New(Config{ReadyAfter: time.Second, ReportInterval: time.Second, Faults: Faults{WebhookReorderRate: 1}})
	if err != nil {
		t.Fatal(err)
	}
	req := createRequest{identifier: "923609016", idKind: identifier.NorwegianOrgNumber,
		reports: []amlapi.ReportType{amlapi.ReportAML, amlapi.ReportCertificateOfIncorporation},
		webhook: &amlapi.WebhookSubscription{URL: "http://x.example/"}}
	t0 := time.Now()
	sb.open(amlapi.KindOrganization, amlapi.NO, req, "sandbox", t0)
	var got []string
	var last time.Time
	for {
		d, _ := sb.wh.next(t0.Add(time.Hour))
		if d == nil {
			break
		}
		got = append(got, string(d.event)+":"+string(d.report))
		if !last.IsZero() && d.due.Sub(last) < WebhookSpacing {
			t.Errorf("%s only %s after the previous webhook", d.event, d.due.Sub(last))
		}
		last = d.due
	}
	want := []string{"ReportReady:aml", "JsonDataReady:", "AllDone:", "ReportReady:certificate_of_incorporation"}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

// TestHandlerWithoutBaseURL: links follow the request's host when BaseURL
// is not set (httptest, in-process use).
func TestHandlerWithoutBaseURL(t *testing.T) {
	sb, _ := New(Config{ReadyAfter: time.Nanosecond})
	tok := token{clientID: DefaultClientID, scopes: []string{amlapi.ScopeBasic}, expires: time.Now().Add(time.Hour)}
	sb.tokens["t"] = tok
	// Made a moment ago: READY already, ReadyAfter being a nanosecond.
	sess := sb.open(amlapi.KindOrganization, amlapi.NO, createRequest{identifier: "923609016", idKind: identifier.NorwegianOrgNumber}, DefaultClientID, time.Now().Add(-time.Millisecond))
	r := httptest.NewRequest(http.MethodGet, "http://api.test:1234"+amlapi.SessionPath(amlapi.KindOrganization, sess.id), nil)
	r.Header.Set("Authorization", "Bearer t")
	w := httptest.NewRecorder()
	sb.Handler().ServeHTTP(w, r)
	var s amlapi.Session
	if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil {
		t.Fatalf("session: %v (%s)", err, w.Body)
	}
	if want := "http://api.test:1234" + amlapi.JSONLinkPath(amlapi.KindOrganization, sess.id); s.JSONData.Link != want {
		t.Errorf("link %q, want %q (%s)", s.JSONData.Link, want, w.Body)
	}
}
