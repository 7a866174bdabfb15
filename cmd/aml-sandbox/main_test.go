package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox/pdf/pdftest"
	"github.com/kybflow/kybflow/internal/testenv"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// boot runs the program on a free port and returns its base URL; the
// program stops when the test ends.
func boot(t *testing.T, args []string, vars map[string]string) (base string, out *testenv.Buffer) {
	t.Helper()
	out = &testenv.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, append([]string{"--listen", "127.0.0.1:0"}, args...), env(vars), out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("run did not return after cancel")
		}
	})
	re := regexp.MustCompile(`API base URL\s+(\S+)`)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1], out
		}
		select {
		case err := <-errc:
			t.Fatalf("run returned early: %v\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no base URL printed:\n%s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type hook struct {
	body   amlapi.Webhook
	verify error
}

// TestManualCheck is the manual check with plain net/http: token,
// create with a webhook and a report, poll, JSON, PDF, webhooks, for each
// country and for beneficial owners; then the two classic mistakes.
func TestManualCheck(t *testing.T) {
	const secret = "whsec_bWFudWFsLWNoZWNrLXNlY3JldA==" // "manual-check-secret"
	base, out := boot(t, []string{"--ready-after", "150ms", "--report-interval", "50ms", "--webhook-retry-initial", "50ms"},
		map[string]string{"WEBHOOK_SECRET": secret, "SANDBOX_LOG_LEVEL": "warn"})
	for _, want := range []string{"issuer", "/auth/realms/sandbox", "token URL", "sandbox-secret", "curl"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}

	var mu sync.Mutex
	hooks := map[string][]hook{}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var h amlapi.Webhook
		json.Unmarshal(body, &h)
		mu.Lock()
		hooks[h.SessionID] = append(hooks[h.SessionID], hook{h, amlapi.VerifyWebhook(secret, r.Header, body, time.Now(), time.Minute)})
		mu.Unlock()
	}))
	defer receiver.Close()

	// Discovery, then a token with HTTP Basic.
	var disc amlapi.Discovery
	getJSON(t, base+"/auth/realms/sandbox"+amlapi.WellKnownPath, "", &disc)
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {amlapi.ScopeBasic}}
	req, _ := http.NewRequest(http.MethodPost, disc.TokenEndpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("sandbox", "sandbox-secret")
	resp, body := do(t, req)
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	json.Unmarshal(body, &tok)
	if resp.StatusCode != 200 || tok.TokenType != "Bearer" || tok.AccessToken == "" {
		t.Fatalf("token: %d %s", resp.StatusCode, body)
	}

	for _, tc := range []struct {
		name, create, id string
		kind             amlapi.Kind
	}{
		{"no", "/organization/session/no", "923609016", amlapi.KindOrganization},
		{"se", "/organization/session/se", "5560360793", amlapi.KindOrganization},
		{"fi", "/organization/session/fi", "2077474-0", amlapi.KindOrganization},
		{"beneficial", "/beneficial/session/", "974760673", amlapi.KindBeneficial},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := `{"identifier":"` + tc.id + `","reports":["aml"],"webhook":{"url":"` + receiver.URL + `/hook"}}`
			req, _ := http.NewRequest(http.MethodPost, base+tc.create, strings.NewReader(payload))
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			req.Header.Set("Content-Type", "application/json")
			resp, body := do(t, req)
			var created amlapi.SessionCreated
			json.Unmarshal(body, &created)
			if resp.StatusCode != http.StatusCreated || created.SessionID == "" || resp.Header.Get("Location") == "" {
				t.Fatalf("create: %d %s", resp.StatusCode, body)
			}

			var s amlapi.Session
			deadline := time.Now().Add(5 * time.Second)
			for {
				getJSON(t, resp.Header.Get("Location"), tok.AccessToken, &s)
				if s.Status == amlapi.SessionDone {
					break
				}
				if s.Status == amlapi.SessionFailed || time.Now().After(deadline) {
					t.Fatalf("session: %+v", s)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if s.JSONData.Status != amlapi.EntityReady || s.Reports[amlapi.ReportAML].Status != amlapi.EntityReady {
				t.Fatalf("DONE but %+v", s)
			}

			var doc map[string]any
			getJSON(t, s.JSONData.Link, tok.AccessToken, &doc)
			if tc.kind == amlapi.KindOrganization && doc["keyInformation"] == nil || tc.kind == amlapi.KindBeneficial && doc["beneficialOwners"] == nil {
				t.Errorf("json: %v", doc)
			}

			req, _ = http.NewRequest(http.MethodGet, s.Reports[amlapi.ReportAML].Link, nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			resp, pdf := do(t, req)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" {
				t.Fatalf("pdf: %d %s", resp.StatusCode, resp.Header)
			}
			pdftest.Structure(t, pdf, 2)
			pdftest.Tools(t, pdf)

			var got []hook
			deadline = time.Now().Add(3 * time.Second)
			for len(got) < 3 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				mu.Lock()
				got = slices.Clone(hooks[created.SessionID])
				mu.Unlock()
			}
			var events []amlapi.WebhookEvent
			for _, h := range got {
				events = append(events, h.body.Event)
				if h.verify != nil {
					t.Errorf("%s: %v", h.body.Event, h.verify)
				}
			}
			if want := []amlapi.WebhookEvent{amlapi.EventJSONDataReady, amlapi.EventReportReady, amlapi.EventAllDone}; !slices.Equal(events, want) {
				t.Errorf("webhooks %v, want %v", events, want)
			}
		})
	}

	// A bad check digit is a 400; no token is a 401.
	req, _ = http.NewRequest(http.MethodPost, base+"/organization/session/no", strings.NewReader(`{"identifier":"923609017"}`))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if resp, body := do(t, req); resp.StatusCode != 400 || !strings.Contains(string(body), amlapi.CodeInvalidIdentifier) {
		t.Errorf("bad check digit: %d %s", resp.StatusCode, body)
	}
	req, _ = http.NewRequest(http.MethodPost, base+"/organization/session/no", strings.NewReader(`{"identifier":"923609016"}`))
	if resp, body := do(t, req); resp.StatusCode != 401 {
		t.Errorf("no token: %d %s", resp.StatusCode, body)
	}
}

func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func getJSON(t *testing.T, u, token string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, b := do(t, req)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

func TestSettings(t *testing.T) {
	// Defaults.
	s, err := parseSettings(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.listen != "127.0.0.1:8480" || s.cfg.ClientID != "sandbox" || s.cfg.ClientSecret != "sandbox-secret" ||
		s.cfg.ReadyAfter != 2*time.Second || s.cfg.Lifetime != 2*time.Hour || s.cfg.NationalRegistry != amlapi.AccessGranted {
		t.Errorf("defaults: %+v", s)
	}
	// The environment beats the default; a flag beats the environment.
	vars := map[string]string{"SANDBOX_READY_AFTER": "5s", "AML_CLIENT_ID": "from-env", "SANDBOX_ERROR_RATE": "0.5",
		"SANDBOX_SSN_ACCESS": "true", "SANDBOX_REPORT_SIZE": "100MB", "SANDBOX_NATIONAL_REGISTRY": "pending"}
	s, err = parseSettings([]string{"--ready-after=1s", "--seed", "42", "--webhook-secret", "eA=="}, env(vars), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.ReadyAfter != time.Second || s.cfg.ClientID != "from-env" || s.cfg.Faults.ErrorRate != 0.5 || !s.cfg.SSNAccess ||
		s.cfg.ReportSize != 100_000_000 || s.cfg.Seed != 42 || s.cfg.WebhookSecret != "eA==" || s.cfg.NationalRegistry != amlapi.AccessPending {
		t.Errorf("resolved: %+v", s.cfg)
	}
	if s, _ := parseSettings([]string{"--ssn-access"}, env(nil), io.Discard); !s.cfg.SSNAccess {
		t.Error("--ssn-access alone is not true")
	}
	if s, _ := parseSettings([]string{"--report-size", "64KiB"}, env(nil), io.Discard); s.cfg.ReportSize != 64<<10 {
		t.Errorf("64KiB = %d", s.cfg.ReportSize)
	}

	// Bad values name the flag and the variable.
	for _, tc := range []struct {
		args []string
		vars map[string]string
		want string
	}{
		{[]string{"--ready-after", "soon"}, nil, "--ready-after (SANDBOX_READY_AFTER)"},
		{nil, map[string]string{"SANDBOX_ERROR_RATE": "1.5"}, "--error-rate (SANDBOX_ERROR_RATE)"},
		{nil, map[string]string{"SANDBOX_LIFETIME": "-1s"}, "--lifetime (SANDBOX_LIFETIME)"},
		{[]string{"--national-registry", "yes"}, nil, "--national-registry (SANDBOX_NATIONAL_REGISTRY)"},
		{[]string{"--report-size", "big"}, nil, "--report-size (SANDBOX_REPORT_SIZE)"},
		{nil, map[string]string{"WEBHOOK_SECRET": "raw-text-secret"}, "--webhook-secret (WEBHOOK_SECRET)"},
		{[]string{"--session-shape", "round"}, nil, "--session-shape (SANDBOX_SESSION_SHAPE)"},
		{[]string{"--allowed-scopes", "openid"}, nil, "--allowed-scopes (SANDBOX_ALLOWED_SCOPES)"},
		{[]string{"--webhook-attempts", "0"}, nil, "--webhook-attempts (SANDBOX_WEBHOOK_ATTEMPTS)"},
		{[]string{"--log-level", "loud"}, nil, "--log-level (SANDBOX_LOG_LEVEL)"},
		{[]string{"--seed", "x"}, nil, "--seed (SANDBOX_SEED)"},
		{[]string{"extra"}, nil, "unexpected arguments"},
	} {
		err := run(context.Background(), tc.args, env(tc.vars), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: %v, want an error naming %s", tc.args, tc.vars, err, tc.want)
		}
	}
	if err := run(context.Background(), []string{"--no-such-flag"}, env(nil), io.Discard); err == nil {
		t.Error("unknown flag accepted")
	}
	// A port in use stops it with the address in the message.
	base, _ := boot(t, nil, nil)
	addr := strings.TrimPrefix(base, "http://")
	if err := run(context.Background(), []string{"--listen", addr}, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("port in use: %v", err)
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, env(nil), &out); err != nil {
		t.Fatalf("--help: %v", err)
	}
	if _, err := parseSettings([]string{"-h"}, env(nil), io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	for _, o := range options() {
		if !strings.Contains(out.String(), "--"+o.flag) || !strings.Contains(out.String(), o.env) {
			t.Errorf("--help lacks --%s / %s", o.flag, o.env)
		}
	}
	for _, want := range []string{"SANDBOX_LISTEN", "AML_CLIENT_ID", "AML_CLIENT_SECRET", "WEBHOOK_SECRET", "SANDBOX_READY_AFTER", "SANDBOX_LIFETIME"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %s", want)
		}
	}
}
