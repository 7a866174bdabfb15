package sandbox_test

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/testenv"
)

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]sandbox.Config{
		"negative ReadyAfter":       {ReadyAfter: -1},
		"negative Lifetime":         {Lifetime: -time.Second},
		"ErrorRate above 1":         {Faults: sandbox.Faults{ErrorRate: 1.5}},
		"negative FailRate":         {Faults: sandbox.Faults{FailRate: -0.1}},
		"NaN drop rate":             {Faults: sandbox.Faults{WebhookDropRate: math.NaN()}},
		"negative webhook delay":    {Faults: sandbox.Faults{WebhookDelay: -time.Second}},
		"unknown registry access":   {NationalRegistry: "MAYBE"},
		"unknown scope":             {AllowedScopes: []string{"aml_organization/everything"}},
		"negative report size":      {ReportSize: -1},
		"multiplier below 1":        {WebhookRetry: sandbox.RetryPolicy{Multiplier: 0.5}},
		"negative attempts":         {WebhookRetry: sandbox.RetryPolicy{Attempts: -1}},
		"relative base URL":         {BaseURL: "localhost:8480"},
		"negative webhook workers":  {WebhookWorkers: -2},
		"negative rate limit rate":  {Faults: sandbox.Faults{RateLimitRate: -1}},
		"reorder rate above 1":      {Faults: sandbox.Faults{WebhookReorderRate: 2}},
		"duplicate rate above 1":    {Faults: sandbox.Faults{WebhookDuplicateRate: 1.01}},
		"negative latency":          {Faults: sandbox.Faults{Latency: -time.Millisecond}},
		"negative retry after":      {Faults: sandbox.Faults{RetryAfter: -time.Second}},
		"negative token lifetime":   {TokenLifetime: -time.Second},
		"negative report interval":  {ReportInterval: -time.Second},
		"negative webhook timeout":  {WebhookTimeout: -time.Second},
		"negative retry initial":    {WebhookRetry: sandbox.RetryPolicy{Initial: -time.Second}},
		"infinite retry multiplier": {WebhookRetry: sandbox.RetryPolicy{Multiplier: math.Inf(1)}},
	} {
		if _, err := sandbox.New(cfg); !errors.Is(err, sandbox.ErrInvalidConfig) {
			t.Errorf("%s: New = %v, want ErrInvalidConfig", name, err)
		}
	}
	sb, err := sandbox.New(sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := sb.Config()
	if c.ClientID != "sandbox" || c.ClientSecret != "sandbox-secret" || c.ReadyAfter != 2*time.Second ||
		c.ReportInterval != time.Second || c.Lifetime != amlapi.Lifetime || c.TokenLifetime != amlapi.DefaultTokenLifetime ||
		c.NationalRegistry != amlapi.AccessGranted || len(c.AllowedScopes) != 3 || c.Faults.RetryAfter != time.Second {
		t.Errorf("defaults: %+v", c)
	}
}

func TestDiscoveryAndToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{AllowedScopes: []string{amlapi.ScopeBasic, amlapi.ScopeOFAC}})

	resp, body := e.do(http.MethodGet, e.srv.IssuerURL()+amlapi.WellKnownPath, "", nil)
	var d amlapi.Discovery
	mustJSON(t, body, &d)
	if resp.StatusCode != http.StatusOK || d.Issuer != e.base+"/auth/realms/sandbox" || d.TokenEndpoint != d.Issuer+amlapi.TokenPath {
		t.Fatalf("discovery: %d %s", resp.StatusCode, body)
	}

	post := func(form url.Values, basic bool) (int, map[string]any, http.Header) {
		req, _ := http.NewRequest(http.MethodPost, d.TokenEndpoint, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			req.SetBasicAuth("sandbox", "sandbox-secret")
		}
		resp, body := send(t, req)
		var m map[string]any
		mustJSON(t, body, &m)
		return resp.StatusCode, m, resp.Header
	}
	cc := func(kv ...string) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}

	// client_secret_basic, default scope.
	status, m, h := post(cc(), true)
	if status != 200 || m["token_type"] != "Bearer" || m["scope"] != amlapi.ScopeBasic || m["expires_in"] != 300.0 ||
		m["access_token"] == "" || h.Get("Cache-Control") != "no-store" {
		t.Errorf("basic auth token: %d %v", status, m)
	}
	// client_secret_post, two scopes.
	status, m, _ = post(cc("client_id", "sandbox", "client_secret", "sandbox-secret",
		"scope", amlapi.ScopeBasic+" "+amlapi.ScopeOFAC), false)
	if status != 200 || m["scope"] != amlapi.ScopeBasic+" "+amlapi.ScopeOFAC {
		t.Errorf("post auth token: %d %v", status, m)
	}

	for _, tc := range []struct {
		name   string
		form   url.Values
		basic  bool
		status int
		code   string
	}{
		{"wrong secret", cc("client_id", "sandbox", "client_secret", "nope"), false, 401, "invalid_client"},
		{"unknown client", cc("client_id", "someone", "client_secret", "sandbox-secret"), false, 401, "invalid_client"},
		{"no credentials", cc(), false, 401, "invalid_client"},
		{"scope not allowed", cc("scope", amlapi.ScopeFinancialsCredit), true, 400, "invalid_scope"},
		{"unknown scope", cc("scope", "openid"), true, 400, "invalid_scope"},
		{"wrong grant", url.Values{"grant_type": {"password"}}, true, 400, "unsupported_grant_type"},
		{"no grant", url.Values{}, true, 400, "invalid_request"},
		{"two auth methods", cc("client_secret", "sandbox-secret"), true, 400, "invalid_request"},
	} {
		status, m, h := post(tc.form, tc.basic)
		if status != tc.status || m["error"] != tc.code || m["error_description"] == "" {
			t.Errorf("%s: %d %v, want %d %s", tc.name, status, m, tc.status, tc.code)
		}
		if status == 401 && h.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", tc.name)
		}
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{TokenLifetime: time.Second})
	for name, tok := range map[string]string{"no token": "", "unknown token": "not-a-token"} {
		resp, body := e.do(http.MethodGet, amlapi.AccessRightsPath, tok, nil)
		if resp.StatusCode != http.StatusUnauthorized || errorCode(t, body) != amlapi.CodeUnauthorized {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	resp, body := e.do(http.MethodGet, amlapi.AccessRightsPath, e.token, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("fresh token: %d %s", resp.StatusCode, body)
	}
	// The sandbox's own clock ends the token: within its lifetime (and a
	// margin) from now, it is refused as expired.
	testenv.Eventually(t, 2*time.Second, func() error {
		resp, body = e.do(http.MethodGet, amlapi.AccessRightsPath, e.token, nil)
		if resp.StatusCode == http.StatusOK {
			return errors.New("the token is still accepted")
		}
		return nil
	})
	if resp.StatusCode != http.StatusUnauthorized || errorCode(t, body) != amlapi.CodeUnauthorized || !strings.Contains(string(body), "expired") {
		t.Errorf("expired token: %d %s", resp.StatusCode, body)
	}
}

func TestScopes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{})
	basic := e.tokenFor(amlapi.ScopeBasic)
	ofacOnly := e.tokenFor(amlapi.ScopeOFAC)
	no := amlapi.CreateOrganizationPath(amlapi.NO)

	for _, tc := range []struct {
		name    string
		token   string
		expands []string
		status  int
	}{
		{"OFAC list without the OFAC scope", basic, []string{"sanction.ofac"}, 403},
		{"credit without the credit scope", basic, []string{"financials.credit"}, 403},
		{"no basic scope", ofacOnly, nil, 403},
		{"sanction with basic", basic, []string{"sanction", "financials"}, 201},
		{"OFAC list with every scope", e.token, []string{"sanction.ofac", "financials.credit"}, 201},
	} {
		resp, body := e.do(http.MethodPost, no, tc.token, amlapi.CreateSessionRequest{Identifier: "923609016", Expands: tc.expands})
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, body, tc.status)
		} else if tc.status == 403 && errorCode(t, body) != amlapi.CodeForbidden {
			t.Errorf("%s: %s", tc.name, body)
		}
	}
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{})
	no, se, fi := amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateOrganizationPath(amlapi.SE), amlapi.CreateOrganizationPath(amlapi.FI)
	bo := amlapi.CreateBeneficialPath
	for _, tc := range []struct {
		name     string
		path     string
		body     any
		status   int
		code     string
		contains []string
	}{
		{"NO bad check digit", no, `{"identifier":"923609017"}`, 400, amlapi.CodeInvalidIdentifier, []string{"923609017", "check digit is 7, want 6"}},
		{"SE bad check digit", se, `{"identifier":"556036-0794"}`, 400, amlapi.CodeInvalidIdentifier, []string{"556036-0794", "check digit is 4, want 3"}},
		{"FI bad check digit", fi, `{"identifier":"2077474-1"}`, 400, amlapi.CodeInvalidIdentifier, []string{"2077474-1", "check digit is 1, want 0"}},
		{"beneficial bad check digit", bo, `{"identifier":"974760674"}`, 400, amlapi.CodeInvalidIdentifier, []string{"974760674", "check digit"}},
		{"NO takes a 9-digit value as an org number", no, `{"identifier":"150483782"}`, 400, amlapi.CodeInvalidIdentifier, []string{"150483782", "identifierType DUNS"}},
		{"NO takes a DUNS number when typed", no, `{"identifier":"150483782","identifierType":"DUNS"}`, 201, "", nil},
		{"unknown identifierType", no, `{"identifier":"923609016","identifierType":"LEI"}`, 400, amlapi.CodeInvalidRequest, []string{"identifierType"}},
		{"beneficial takes no Swedish number", bo, `{"identifier":"5560360793"}`, 400, amlapi.CodeInvalidIdentifier, []string{"want 9 digits"}},
		{"no identifier", no, `{}`, 400, amlapi.CodeInvalidIdentifier, []string{"required"}},
		{"unknown expand", no, `{"identifier":"923609016","expands":["address","owners"]}`, 400, amlapi.CodeInvalidExpand, []string{`"owners"`}},
		{"organization expand on beneficial", bo, `{"identifier":"923609016","expands":["roles"]}`, 400, amlapi.CodeInvalidExpand, []string{`"roles"`}},
		{"unknown report", no, `{"identifier":"923609016","reports":["annual"]}`, 400, amlapi.CodeInvalidRequest, []string{`"annual"`}},
		{"certificate on beneficial", bo, `{"identifier":"923609016","reports":["certificate_of_incorporation"]}`, 400, amlapi.CodeInvalidRequest, []string{"certificate_of_incorporation"}},
		{"unknown language", no, `{"identifier":"923609016","language":"de"}`, 400, amlapi.CodeInvalidRequest, []string{`"de"`}},
		{"relative webhook url", no, `{"identifier":"923609016","webhook":{"url":"/hook"}}`, 400, amlapi.CodeInvalidRequest, []string{"/hook"}},
		{"unknown webhook event", no, `{"identifier":"923609016","webhook":{"url":"http://x.example/","events":["Done"]}}`, 400, amlapi.CodeInvalidRequest, []string{`"Done"`}},
		{"not JSON", no, `identifier=923609016`, 400, amlapi.CodeInvalidRequest, nil},
		{"JSON null", no, `null`, 400, amlapi.CodeInvalidRequest, nil},
		{"wrong type", no, `{"identifier":923609016}`, 400, amlapi.CodeInvalidRequest, nil},
		{"trailing garbage", no, `{"identifier":"923609016"} x`, 400, amlapi.CodeInvalidRequest, nil},

		{"unknown fields tolerated", no, `{"identifier":"923609016","colour":"blue","webhook":{"url":"http://x.example/","secret":1}}`, 201, "", nil},
		{"spaces in NO number", no, `{"identifier":"923 609 016"}`, 201, "", nil},
		{"SE with dash", se, `{"identifier":"556036-0793","language":"nb"}`, 201, "", nil},
		{"SE DUNS", se, `{"identifier":"15-048-3782"}`, 201, "", nil},
		{"FI without dash", fi, `{"identifier":"20774740"}`, 201, "", nil},
		{"FI DUNS", fi, `{"identifier":"150483782"}`, 201, "", nil},
		{"beneficial with every expand", bo, `{"identifier":"974760673","expands":["citizenship","birthplace","ssn"],"reports":["aml"]}`, 201, "", nil},
	} {
		resp, body := e.do(http.MethodPost, tc.path, e.token, []byte(tc.body.(string)))
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, body, tc.status)
			continue
		}
		if tc.code != "" {
			if code := errorCode(t, body); code != tc.code {
				t.Errorf("%s: errorCode %s, want %s", tc.name, code, tc.code)
			}
		}
		for _, s := range tc.contains {
			if !strings.Contains(string(body), strings.ReplaceAll(s, `"`, `\"`)) {
				t.Errorf("%s: message %s lacks %s", tc.name, body, s)
			}
		}
	}
	// The canonical form is what the sandbox records.
	per := e.srv.Sandbox().Inspect().SessionsPerIdentifier
	for _, k := range []string{"organization/NO/923609016", "organization/SE/5560360793", "organization/SE/150483782",
		"organization/FI/2077474-0", "organization/FI/150483782", "beneficial/NO/974760673"} {
		if per[k] == 0 {
			t.Errorf("no session counted for %s: %v", k, per)
		}
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{})
	id := e.create(amlapi.CreateBeneficialPath, amlapi.CreateSessionRequest{Identifier: "923609016"})
	for _, p := range []string{
		amlapi.SessionPath(amlapi.KindOrganization, "5f0c6b1e-0000-4000-8000-000000000000"),
		amlapi.SessionPath(amlapi.KindOrganization, id), // a beneficial session under the organization path
		amlapi.JSONLinkPath(amlapi.KindOrganization, id),
		amlapi.ReportLinkPath(amlapi.KindBeneficial, id, amlapi.ReportCertificateOfIncorporation), // none for beneficial owners
		"/no/such/endpoint",
	} {
		resp, body := e.do(http.MethodGet, p, e.token, nil)
		if resp.StatusCode != http.StatusNotFound || errorCode(t, body) != amlapi.CodeNotFound {
			t.Errorf("GET %s: %d %s, want 404", p, resp.StatusCode, body)
		}
	}
}

func TestAccessRights(t *testing.T) {
	t.Parallel()
	for _, access := range []amlapi.NationalRegistryAccess{amlapi.AccessGranted, amlapi.AccessPending, amlapi.AccessMissing} {
		e := newEnv(t, sandbox.Config{NationalRegistry: access})
		resp, body := e.do(http.MethodGet, amlapi.AccessRightsPath, e.token, nil)
		var ar amlapi.AccessRights
		mustJSON(t, body, &ar)
		if resp.StatusCode != http.StatusOK || ar.NationalRegistry != access {
			t.Errorf("%s: %d %s", access, resp.StatusCode, body)
		}
	}
}

// TestStatusProgression follows a session with two reports from create to
// DONE and checks every state seen is in order.
func TestStatusProgression(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{ReadyAfter: 300 * time.Millisecond, ReportInterval: 100 * time.Millisecond})
	created := time.Now()
	id := e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{
		Identifier: "974760673", Expands: []string{"links.reports.certificate_of_incorporation"}, Reports: []amlapi.ReportType{"aml"},
	})
	first := e.session(amlapi.KindOrganization, id)
	if first.JSONData.Status != amlapi.EntityNotStarted || first.Status != amlapi.SessionInProgress {
		t.Errorf("at once: %+v", first)
	}
	if first.Created.Before(created.Add(-time.Second)) || first.Created.Location() != time.UTC {
		t.Errorf("created = %v", first.Created)
	}
	order := map[amlapi.EntityStatus]int{amlapi.EntityNotStarted: 0, amlapi.EntityInProgress: 1, amlapi.EntityReady: 2}
	seen := map[string][]amlapi.EntityStatus{}
	note := func(name string, st amlapi.EntityStatus) {
		l := seen[name]
		if len(l) == 0 || l[len(l)-1] != st {
			seen[name] = append(l, st)
		}
	}
	last := e.wait(amlapi.KindOrganization, id, 5*time.Second, func(s amlapi.Session) bool {
		note("json", s.JSONData.Status)
		for r, en := range s.Reports {
			note(string(r), en.Status)
		}
		if s.JSONData.Status != amlapi.EntityReady && s.JSONData.Link != "" {
			t.Errorf("link on a %s entity", s.JSONData.Status)
		}
		return s.Status == amlapi.SessionDone
	})
	for name, l := range seen {
		for i := 1; i < len(l); i++ {
			if order[l[i]] <= order[l[i-1]] {
				t.Errorf("%s went %v", name, l)
			}
		}
		if l[len(l)-1] != amlapi.EntityReady {
			t.Errorf("%s ended %v", name, l)
		}
	}
	if !slices.Contains(seen["json"], amlapi.EntityInProgress) {
		t.Errorf("json never IN_PROGRESS: %v", seen["json"])
	}
	if len(last.Reports) != 2 {
		t.Fatalf("reports = %v", last.Reports)
	}
	if want := e.base + amlapi.JSONLinkPath(amlapi.KindOrganization, id); last.JSONData.Link != want {
		t.Errorf("json link %s, want %s", last.JSONData.Link, want)
	}
	for _, r := range []amlapi.ReportType{amlapi.ReportAML, amlapi.ReportCertificateOfIncorporation} {
		en := last.Reports[r]
		if want := e.base + amlapi.ReportLinkPath(amlapi.KindOrganization, id, r); en.Link != want {
			t.Errorf("%s link %s, want %s", r, en.Link, want)
		}
		if en.Expires == nil || en.Expires.Sub(last.Created.Time) < amlapi.Lifetime || en.Expires.Sub(last.Created.Time) > amlapi.Lifetime+time.Second {
			t.Errorf("%s expires %v (created %v)", r, en.Expires, last.Created)
		}
	}
	// The aml report (requested first) is ready before the certificate.
	if !last.Reports[amlapi.ReportAML].Expires.Before(last.Reports[amlapi.ReportCertificateOfIncorporation].Expires.Time) {
		t.Error("reports did not become READY one by one")
	}
	// The JSON's links block points at the same report links.
	links := path(t, e.fetchJSON(last), "links", "reports").(map[string]any)
	if links["aml"] != last.Reports[amlapi.ReportAML].Link || len(links) != 2 {
		t.Errorf("links.reports = %v", links)
	}
}

// TestLifetime: a READY entity expires after Lifetime (410), and the
// session is forgotten Lifetime after that (404).
func TestLifetime(t *testing.T) {
	t.Parallel()
	const life = 400 * time.Millisecond
	e := newEnv(t, sandbox.Config{ReadyAfter: 100 * time.Millisecond, Lifetime: life})
	id := e.create(amlapi.CreateOrganizationPath(amlapi.FI), amlapi.CreateSessionRequest{Identifier: "0112038-9"})
	s := e.wait(amlapi.KindOrganization, id, 2*time.Second, done)
	link := s.JSONData.Link
	if resp, _ := e.do(http.MethodGet, link, e.token, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET json while READY: %d", resp.StatusCode)
	}
	s = e.wait(amlapi.KindOrganization, id, 2*time.Second, func(s amlapi.Session) bool { return s.JSONData.Status == amlapi.EntityExpired })
	if s.JSONData.Link != "" || s.JSONData.Expires != nil || s.Status != amlapi.SessionDone {
		t.Errorf("expired session: %+v", s)
	}
	resp, body := e.do(http.MethodGet, link, e.token, nil)
	if resp.StatusCode != http.StatusGone || errorCode(t, body) != amlapi.CodeGone {
		t.Errorf("GET expired json: %d %s", resp.StatusCode, body)
	}
	testenv.Eventually(t, 3*time.Second, func() error {
		if resp, body = e.do(http.MethodGet, amlapi.SessionPath(amlapi.KindOrganization, id), e.token, nil); resp.StatusCode != http.StatusNotFound {
			return fmt.Errorf("session still there: %d %s", resp.StatusCode, body)
		}
		return nil
	})
	if code := errorCode(t, body); code != amlapi.CodeNotFound {
		t.Errorf("forgotten session: %s", body)
	}
}

func TestContentNotReady(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{ReadyAfter: 5 * time.Second})
	id := e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: "923609016", Reports: []amlapi.ReportType{"aml"}})
	for _, p := range []string{amlapi.JSONLinkPath(amlapi.KindOrganization, id), amlapi.ReportLinkPath(amlapi.KindOrganization, id, "aml")} {
		resp, body := e.do(http.MethodGet, p, e.token, nil)
		if resp.StatusCode != http.StatusConflict {
			t.Errorf("GET %s before READY: %d %s, want 409", p, resp.StatusCode, body)
		}
	}
}
