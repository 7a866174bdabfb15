package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/envconfig"
	"github.com/smallstep/pkcs7"

	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/sandbox/pdf"
	"github.com/kybflow/kybflow/internal/sandbox/pdf/cms"
	"github.com/kybflow/kybflow/internal/sandbox/pdf/pdftest"
	"github.com/kybflow/kybflow/internal/testenv"
)

// boot runs the program on a free port and returns its base URL; the
// program stops when the test ends.
func boot(t *testing.T, args []string, vars map[string]string) (base string, out *testenv.Buffer) {
	t.Helper()
	out = &testenv.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, append([]string{"--listen", "127.0.0.1:0"}, args...), envconfig.MapLookup(vars), out)
	}()
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
	err := testenv.Poll(5*time.Second, func() error {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
			return nil
		}
		select {
		case err := <-errc:
			t.Fatalf("run returned early: %v\n%s", err, out)
		default:
		}
		return errors.New("no base URL printed")
	})
	if err != nil {
		t.Fatalf("no base URL printed:\n%s", out)
	}
	return base, out
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
	for _, want := range []string{"issuer", "/auth/realms/sandbox", "token URL", "sandbox-secret", "curl", "report CA", "/_sandbox/ca.pem"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}

	var mu sync.Mutex
	hooks := map[string][]hook{}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var h amlapi.Webhook
		if err := json.Unmarshal(body, &h); err != nil {
			t.Errorf("webhook body %s: %v", body, err)
		}
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
	if err := json.Unmarshal(body, &tok); err != nil {
		t.Fatalf("token: %d %s: %v", resp.StatusCode, body, err)
	}
	if resp.StatusCode != http.StatusOK || tok.TokenType != "Bearer" || tok.AccessToken == "" {
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
			if err := json.Unmarshal(body, &created); err != nil {
				t.Fatalf("create: %d %s: %v", resp.StatusCode, body, err)
			}
			if resp.StatusCode != http.StatusCreated || created.SessionID == "" || resp.Header.Get("Location") == "" {
				t.Fatalf("create: %d %s", resp.StatusCode, body)
			}

			var s amlapi.Session
			if err := testenv.Poll(5*time.Second, func() error {
				getJSON(t, resp.Header.Get("Location"), tok.AccessToken, &s)
				switch s.Status {
				case amlapi.SessionDone:
					return nil
				case amlapi.SessionFailed:
					t.Fatalf("session: %+v", s)
				}
				return errors.New("not done")
			}); err != nil {
				t.Fatalf("session: %+v", s)
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
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pdf" {
				t.Fatalf("pdf: %d %s", resp.StatusCode, resp.Header)
			}
			pdftest.Structure(t, pdf, 2)
			pdftest.Tools(t, pdf)
			checkSigned(t, base, pdf)

			var got []hook
			_ = testenv.Poll(3*time.Second, func() error { // fewer than 3 fail the check below
				mu.Lock()
				defer mu.Unlock()
				if got = slices.Clone(hooks[created.SessionID]); len(got) < 3 {
					return errors.New("not 3 webhooks yet")
				}
				return nil
			})
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
	if resp, body := do(t, req); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), amlapi.CodeInvalidIdentifier) {
		t.Errorf("bad check digit: %d %s", resp.StatusCode, body)
	}
	req, _ = http.NewRequest(http.MethodPost, base+"/organization/session/no", strings.NewReader(`{"identifier":"923609016"}`))
	if resp, body := do(t, req); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d %s", resp.StatusCode, body)
	}
}

// checkSigned verifies the signature of report against the trust anchor
// the program serves.
func checkSigned(t *testing.T, base string, report []byte) {
	t.Helper()
	resp, caPEM := do(t, mustRequest(t, base+sandbox.CAPath))
	pool := x509.NewCertPool()
	if resp.StatusCode != http.StatusOK || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("GET %s: %d %q", sandbox.CAPath, resp.StatusCode, caPEM)
	}
	f, err := pdf.ParseSignature(report)
	if err != nil {
		t.Fatalf("report signature: %v", err)
	}
	p7, err := pkcs7.Parse(f.Contents)
	if err != nil {
		t.Fatalf("report signature: %v", err)
	}
	p7.Content = f.Signed(report)
	if err := p7.VerifyWithChain(pool); err != nil {
		t.Errorf("report signature: %v", err)
	}
}

func mustRequest(t *testing.T, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
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
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

func TestSettings(t *testing.T) {
	// Defaults.
	c, err := load(nil, envconfig.MapLookup(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8480" || c.Log.Level != "info" || c.Sandbox.ClientID != "sandbox" || c.Sandbox.ClientSecret != "sandbox-secret" ||
		c.Sandbox.ReadyAfter != 2*time.Second || c.Sandbox.Lifetime != 2*time.Hour || c.Sandbox.NationalRegistry != amlapi.AccessGranted {
		t.Errorf("defaults: %+v", c)
	}
	// The environment beats the default; a flag beats the environment.
	vars := map[string]string{"SANDBOX_READY_AFTER": "5s", "AML_CLIENT_ID": "from-env", "SANDBOX_ERROR_RATE": "0.5",
		"SANDBOX_SSN_ACCESS": "true", "SANDBOX_REPORT_SIZE": "100MB", "SANDBOX_NATIONAL_REGISTRY": "pending",
		"SANDBOX_ALLOWED_SCOPES": "aml_organization/basic aml_organization/OFAC", "SANDBOX_LOG_LEVEL": "warn"}
	c, err = load([]string{"--ready-after=1s", "--seed", "42", "--webhook-secret", "eA==", "--session-shape", "guide"}, envconfig.MapLookup(vars), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Sandbox; s.ReadyAfter != time.Second || s.ClientID != "from-env" || s.Faults.ErrorRate != 0.5 || !s.SSNAccess ||
		s.ReportSize != 100_000_000 || s.Seed != 42 || s.WebhookSecret != "eA==" || s.NationalRegistry != amlapi.AccessPending ||
		s.SessionShape != sandbox.ShapeGuide || !slices.Equal(s.AllowedScopes, []string{amlapi.ScopeBasic, amlapi.ScopeOFAC}) || c.Log.Level != "warn" {
		t.Errorf("resolved: %+v", c)
	}
	if c, err := load([]string{"--ssn-access"}, envconfig.MapLookup(nil), io.Discard); err != nil || !c.Sandbox.SSNAccess {
		t.Errorf("--ssn-access alone is not true: %v", err)
	}
	if c, err := load([]string{"--ssn-access=false"}, envconfig.MapLookup(map[string]string{"SANDBOX_SSN_ACCESS": "true"}), io.Discard); err != nil || c.Sandbox.SSNAccess {
		t.Errorf("--ssn-access=false does not beat the variable: %v", err)
	}
	if c, _ := load([]string{"--report-size", "64KiB"}, envconfig.MapLookup(nil), io.Discard); c.Sandbox.ReportSize != 64<<10 {
		t.Errorf("64KiB = %d", c.Sandbox.ReportSize)
	}
	// The signing certificate and key are files, read and checked at once.
	certFile, keyFile, root := signingFiles(t)
	c, err = load(nil, envconfig.MapLookup(map[string]string{"SANDBOX_SIGNING_CERT": certFile, "SANDBOX_SIGNING_KEY": keyFile}), io.Discard)
	if err != nil {
		t.Fatalf("signing files: %v", err)
	}
	if sb, err := sandbox.New(c.Sandbox); err != nil || !sb.ReportCA().Equal(root) {
		t.Errorf("the sandbox does not serve the given root: %v", err)
	}
	if s := fmt.Sprintf("%v %+v", c.Sandbox.SigningKey, c.Sandbox); strings.Contains(s, "PRIVATE KEY") {
		t.Errorf("the configuration prints the key: %s", s)
	}

	// Bad values name the variable, the flag and the value: a bad variable
	// as "VAR (--flag): ...", a bad flag as "... for flag -flag: VAR: ...".
	for _, tc := range []struct {
		args      []string
		vars      map[string]string
		want, bad string
	}{
		{[]string{"--ready-after", "soon"}, nil, "flag -ready-after: SANDBOX_READY_AFTER", "soon"},
		{nil, map[string]string{"SANDBOX_ERROR_RATE": "1.5"}, "SANDBOX_ERROR_RATE (--error-rate)", "1.5"},
		{nil, map[string]string{"SANDBOX_LIFETIME": "-1s"}, "SANDBOX_LIFETIME (--lifetime)", "-1s"},
		{[]string{"--national-registry", "yes"}, nil, "flag -national-registry: SANDBOX_NATIONAL_REGISTRY", "yes"},
		{[]string{"--report-size", "big"}, nil, "flag -report-size: SANDBOX_REPORT_SIZE", "big"},
		{nil, map[string]string{"WEBHOOK_SECRET": "raw-text-secret"}, "WEBHOOK_SECRET (--webhook-secret)", ""}, // a secret is not repeated
		{[]string{"--session-shape", "round"}, nil, "flag -session-shape: SANDBOX_SESSION_SHAPE", "round"},
		{[]string{"--allowed-scopes", "openid"}, nil, "flag -allowed-scopes: SANDBOX_ALLOWED_SCOPES", "openid"},
		{[]string{"--webhook-attempts", "0"}, nil, "flag -webhook-attempts: SANDBOX_WEBHOOK_ATTEMPTS", "0"},
		{[]string{"--log-level", "loud"}, nil, "flag -log-level: SANDBOX_LOG_LEVEL", "loud"},
		{[]string{"--seed", "x"}, nil, "flag -seed: SANDBOX_SEED", "x"},
		{nil, map[string]string{"SANDBOX_SEED": "x"}, "SANDBOX_SEED (--seed)", "x"},
		{[]string{"extra"}, nil, "unexpected arguments", "extra"},
		{[]string{"--ssn-access", "false"}, nil, "unexpected arguments", "false"},
		{nil, map[string]string{"SANDBOX_SIGNING_CERT": "/no/such.pem"}, "SANDBOX_SIGNING_CERT (--signing-cert)", ""},
		{nil, map[string]string{"SANDBOX_SIGNING_KEY": certFile}, "SANDBOX_SIGNING_KEY (--signing-key)", ""},
		{nil, map[string]string{"SANDBOX_SIGNING_CERT": keyFile}, "SANDBOX_SIGNING_CERT (--signing-cert)", ""},
		{nil, map[string]string{"SANDBOX_SIGNING_CERT": certFile}, "SANDBOX_SIGNING_KEY", ""},
		{[]string{"--signing-key", keyFile}, nil, "SANDBOX_SIGNING_CERT", ""},
	} {
		err := run(context.Background(), tc.args, envconfig.MapLookup(tc.vars), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) || tc.bad != "" && !strings.Contains(err.Error(), `"`+tc.bad) {
			t.Errorf("%v %v: %v, want an error with %s and %q", tc.args, tc.vars, err, tc.want, tc.bad)
		}
	}
	// Every bad variable is reported at once; a bad combination too.
	err = run(context.Background(), nil, envconfig.MapLookup(map[string]string{"SANDBOX_FAIL_RATE": "2", "SANDBOX_LATENCY": "-1ms"}), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "SANDBOX_FAIL_RATE") || !strings.Contains(err.Error(), "SANDBOX_LATENCY") {
		t.Errorf("two bad variables: %v", err)
	}
	if err := run(context.Background(), []string{"--token-lifetime", "500ms"}, envconfig.MapLookup(nil), io.Discard); !errors.Is(err, sandbox.ErrInvalidConfig) {
		t.Errorf("token lifetime under 1s: %v", err)
	}
	if err := run(context.Background(), []string{"--no-such-flag"}, envconfig.MapLookup(nil), io.Discard); err == nil {
		t.Error("unknown flag accepted")
	}
	// A port in use stops it with the address in the message.
	base, _ := boot(t, nil, nil)
	addr := strings.TrimPrefix(base, "http://")
	if err := run(context.Background(), []string{"--listen", addr}, envconfig.MapLookup(nil), io.Discard); err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("port in use: %v", err)
	}
}

// signingFiles writes a test CA's chain and signing key to PEM files.
func signingFiles(t *testing.T) (certFile, keyFile string, root *x509.Certificate) {
	t.Helper()
	chain, key, root, err := cms.TestCA{Organization: "aml-sandbox test", Root: "root", Intermediate: "intermediate", Leaf: "signer"}.GeneratePEM(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "chain.pem"), filepath.Join(dir, "key.pem")
	for name, b := range map[string][]byte{certFile: chain, keyFile: key} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile, root
}

// TestDefaultsAreTheSandboxs: the defaults registered for the flags are
// those the sandbox fills in for a zero Config.
func TestDefaultsAreTheSandboxs(t *testing.T) {
	c, err := load(nil, envconfig.MapLookup(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	effective := func(cfg sandbox.Config) sandbox.Config {
		t.Helper()
		sb, err := sandbox.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg = sb.Config()
		cfg.Logger, cfg.WebhookClient = nil, nil
		return cfg
	}
	if got, want := effective(c.Sandbox), effective(sandbox.Config{}); !reflect.DeepEqual(got, want) {
		t.Errorf("the flags' defaults give\n%+v\nthe sandbox's\n%+v", got, want)
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	vars := map[string]string{"WEBHOOK_SECRET": "whsec_aGlkZGVuLXNlY3JldA=="}
	if err := run(context.Background(), []string{"--help"}, envconfig.MapLookup(vars), &out); err != nil {
		t.Fatalf("--help: %v", err)
	}
	if _, err := load([]string{"-h"}, envconfig.MapLookup(nil), io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	help := out.String()
	var c Config
	s := envconfig.New("aml-sandbox", envconfig.MapLookup(nil), io.Discard)
	c.Settings(s)
	s.FlagSet().VisitAll(func(f *flag.Flag) {
		if !strings.Contains(help, "  -"+f.Name+" ") && !strings.Contains(help, "  -"+f.Name+"\n") {
			t.Errorf("--help lacks -%s", f.Name)
		}
		if f.DefValue != "" && !strings.Contains(help, "(default "+f.DefValue+")") {
			t.Errorf("--help lacks the default %s of -%s", f.DefValue, f.Name)
		}
	})
	for _, v := range s.Vars() {
		if !strings.Contains(help, "(env "+v+")") {
			t.Errorf("--help lacks %s", v)
		}
	}
	for _, want := range []string{"(env SANDBOX_LISTEN) (default 127.0.0.1:8480)", "(env AML_CLIENT_SECRET) (default sandbox-secret)",
		"(env SANDBOX_READY_AFTER) (default 2s)", "(env SANDBOX_LIFETIME) (default 2h)", "(env SANDBOX_TOKEN_LIFETIME) (default 5m)",
		"(env SANDBOX_SESSION_SHAPE) (default model)", "(env SANDBOX_LOG_LEVEL) (default info)", "(env WEBHOOK_SECRET)\n"} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	if strings.Contains(help, "aGlkZGVu") {
		t.Error("--help shows the webhook secret")
	}
}
