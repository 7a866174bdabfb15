package amlapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/kybflow/kybflow/identifier"
	"github.com/kybflow/kybflow/internal/testenv"
)

func TestConfigValidate(t *testing.T) {
	good := Config{BaseURL: "https://aml.example", IssuerURL: "https://oidc.example/realms/x", ClientID: "id", ClientSecret: "secret"}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // in the error
	}{
		{"no base", func(c *Config) { c.BaseURL = "" }, "BaseURL is required"},
		{"relative base", func(c *Config) { c.BaseURL = "aml.example" }, "BaseURL"},
		{"ftp base", func(c *Config) { c.BaseURL = "ftp://aml.example" }, "BaseURL"},
		{"base with query", func(c *Config) { c.BaseURL = "https://aml.example/?x=1" }, "BaseURL"},
		{"no issuer or token URL", func(c *Config) { c.IssuerURL = "" }, "IssuerURL or TokenURL is required"},
		{"bad token URL", func(c *Config) { c.TokenURL = "/token" }, "TokenURL"},
		{"bad issuer", func(c *Config) { c.IssuerURL = "oidc" }, "IssuerURL"},
		{"no client id", func(c *Config) { c.ClientID = "" }, "ClientID is required"},
		{"no secret", func(c *Config) { c.ClientSecret = "" }, "ClientSecret is required"},
		{"bad auth", func(c *Config) { c.ClientAuth = "private_key_jwt" }, "ClientAuth"},
		{"bad scope", func(c *Config) { c.Scopes = []string{"a b"} }, "Scopes"},
		{"negative margin", func(c *Config) { c.TokenRefreshMargin = -1 }, "TokenRefreshMargin"},
		{"negative timeout", func(c *Config) { c.RequestTimeout = -1 }, "RequestTimeout"},
		{"negative attempts", func(c *Config) { c.Retry.MaxAttempts = -1 }, "Retry.MaxAttempts"},
		{"interval order", func(c *Config) { c.Retry.InitialInterval, c.Retry.MaxInterval = time.Second, time.Millisecond }, "Retry.InitialInterval"},
		{"negative rate", func(c *Config) { c.RateLimit = -1 }, "RateLimit"},
		{"negative burst", func(c *Config) { c.RateBurst = -1 }, "RateBurst"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error naming %q", err, tt.want)
			}
			if _, err := New(c); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
	// Every problem is reported at once.
	err := (&Config{}).Validate()
	for _, want := range []string{"BaseURL", "IssuerURL or TokenURL", "ClientID", "ClientSecret"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate(empty) = %v, want it to name %s", err, want)
		}
	}
}

func TestNewDefaults(t *testing.T) {
	f := newFake(t)
	c := newClient(t, Config{BaseURL: f.srv.URL + "/", IssuerURL: f.issuer, ClientID: testClientID, ClientSecret: testClientSecret})
	if c.limiter.Limit() != DefaultRateLimit || c.limiter.Burst() != DefaultRateBurst {
		t.Errorf("rate limit = %v/%d, want %v/%d", c.limiter.Limit(), c.limiter.Burst(), DefaultRateLimit, DefaultRateBurst)
	}
	want := RetryPolicy{DefaultInitialInterval, DefaultMaxInterval, DefaultMaxElapsedTime, DefaultMaxAttempts}
	if c.retry != want {
		t.Errorf("retry = %+v, want %+v", c.retry, want)
	}
	if c.timeout != DefaultRequestTimeout || c.tokens.margin != DefaultTokenRefreshMargin {
		t.Errorf("timeout, margin = %v, %v", c.timeout, c.tokens.margin)
	}
	if c.hc.Timeout != 0 {
		t.Errorf("default HTTP client has Timeout %v; it would cut downloads", c.hc.Timeout)
	}
	if c.baseURL != f.srv.URL {
		t.Errorf("baseURL = %q, want the trailing slash trimmed", c.baseURL)
	}
	// New is lazy: nothing is discovered or fetched.
	if n := f.discoveryHits.Load() + f.tokenHits.Load(); n != 0 {
		t.Errorf("New made %d requests", n)
	}
}

func TestCreateOrganizationSession(t *testing.T) {
	tests := []struct {
		country Country
		kind    identifier.Kind
		in      string
		wire    string
		path    string
	}{
		{NO, "", "923 609 016", "923609016", "/organization/session/no"},
		{NO, identifier.DUNS, "12-345-6789", "123456789", "/organization/session/no"},
		{SE, "", "556036-0793", "5560360793", "/organization/session/se"},
		{FI, "", "20774740", "2077474-0", "/organization/session/fi"},
		{FI, identifier.DUNS, "123456789", "123456789", "/organization/session/fi"},
	}
	for _, tt := range tests {
		t.Run(string(tt.country)+"/"+tt.in, func(t *testing.T) {
			f := newFake(t)
			f.setAPI(created("s-1"))
			c := newClient(t, testConfig(f))
			req := CreateSessionRequest{
				Identifier: tt.in,
				Expands:    []string{"address", "ownership.beneficials"},
				Reports:    []ReportType{ReportAML},
				Language:   "en",
				Webhook:    &WebhookSubscription{URL: "https://hooks.example/aml"},
			}
			id, err := c.CreateOrganizationSession(context.Background(), tt.country, req, CreateOptions{IdentifierKind: tt.kind})
			if err != nil {
				t.Fatal(err)
			}
			if id != "s-1" {
				t.Errorf("session id = %q", id)
			}
			if req.Identifier != tt.in {
				t.Error("the caller's request was modified")
			}
			reqs := f.recorded()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != http.MethodPost || r.Path != tt.path || r.ContentType != "application/json" || r.Auth != "Bearer tok-1" {
				t.Errorf("request = %s %s (%s, %s)", r.Method, r.Path, r.ContentType, r.Auth)
			}
			var sent CreateSessionRequest
			if err := json.Unmarshal(r.Body, &sent); err != nil {
				t.Fatal(err)
			}
			want := req
			want.Identifier = tt.wire
			if tt.kind == identifier.DUNS {
				want.IdentifierType = IdentifierTypeDUNS // 9 digits alone cannot say
			}
			if got, _ := json.Marshal(sent); string(got) != string(must(json.Marshal(want))) {
				t.Errorf("body = %s, want %s", got, must(json.Marshal(want)))
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestCreateBeneficialSession(t *testing.T) {
	f := newFake(t)
	f.setAPI(created("b-1"))
	c := newClient(t, testConfig(f))
	ctx := context.Background()
	id, err := c.CreateBeneficialSession(ctx, CreateSessionRequest{Identifier: "974760673", Expands: BeneficialExpands}, CreateOptions{})
	if err != nil || id != "b-1" {
		t.Fatalf("CreateBeneficialSession = %q, %v", id, err)
	}
	if _, err := c.CreateBeneficialSession(ctx, CreateSessionRequest{Identifier: "123456789"}, CreateOptions{IdentifierKind: identifier.DUNS}); err != nil {
		t.Fatalf("DUNS: %v", err)
	}
	reqs := f.recorded()
	if len(reqs) != 2 || reqs[0].Path != CreateBeneficialPath || !strings.Contains(string(reqs[0].Body), `"identifier":"974760673"`) {
		t.Errorf("requests = %+v", reqs)
	}
}

func TestCreateRefusesInvalidIdentifierWithoutRequest(t *testing.T) {
	f := newFake(t)
	f.setAPI(created("never"))
	c := newClient(t, testConfig(f))
	ctx := context.Background()
	calls := []struct {
		name string
		call func() (string, error)
	}{
		{"bad check digit", func() (string, error) {
			return c.CreateOrganizationSession(ctx, NO, CreateSessionRequest{Identifier: "923609017"}, CreateOptions{})
		}},
		{"Swedish number in Norway", func() (string, error) {
			return c.CreateOrganizationSession(ctx, NO, CreateSessionRequest{Identifier: "5560360793"}, CreateOptions{})
		}},
		{"wrong kind for country", func() (string, error) {
			return c.CreateOrganizationSession(ctx, SE, CreateSessionRequest{Identifier: "923609016"}, CreateOptions{IdentifierKind: identifier.NorwegianOrgNumber})
		}},
		{"empty", func() (string, error) {
			return c.CreateOrganizationSession(ctx, FI, CreateSessionRequest{}, CreateOptions{})
		}},
		{"beneficial: Finnish kind", func() (string, error) {
			return c.CreateBeneficialSession(ctx, CreateSessionRequest{Identifier: "2077474-0"}, CreateOptions{IdentifierKind: identifier.FinnishBusinessID})
		}},
		{"beneficial: bad DUNS", func() (string, error) {
			return c.CreateBeneficialSession(ctx, CreateSessionRequest{Identifier: "12345"}, CreateOptions{IdentifierKind: identifier.DUNS})
		}},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.call()
			if !errors.Is(err, identifier.ErrInvalid) || ClassOf(err) != Permanent {
				t.Fatalf("err = %v (class %v), want a Permanent error wrapping identifier.ErrInvalid", err, ClassOf(err))
			}
		})
	}
	_, err := c.CreateOrganizationSession(ctx, "DK", CreateSessionRequest{Identifier: "923609016"}, CreateOptions{})
	if err == nil || ClassOf(err) != Permanent {
		t.Errorf("unknown country: %v", err)
	}
	if n := f.discoveryHits.Load() + f.tokenHits.Load() + f.apiHits.Load(); n != 0 {
		t.Errorf("%d requests made for invalid input, want none", n)
	}
}

func TestCreateAnswerWithoutSessionID(t *testing.T) {
	f := newFake(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusCreated, map[string]string{"id": "x"})
	})
	c := newClient(t, testConfig(f))
	_, err := c.CreateOrganizationSession(context.Background(), NO, CreateSessionRequest{Identifier: "923609016"}, CreateOptions{})
	if err == nil || ClassOf(err) != Permanent || !strings.Contains(err.Error(), "sessionId") {
		t.Fatalf("err = %v, want a Permanent error about the missing sessionId", err)
	}
	if n := f.apiHits.Load(); n != 1 {
		t.Errorf("%d requests, want 1 (a created session must not be retried)", n)
	}
}

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

func TestErrorClasses(t *testing.T) {
	html := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(code)
			_, _ = io.WriteString(w, "<html><body>Bad gateway</body></html>")
		}
	}
	empty := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }
	}
	type callFunc func(*Client) error
	create := func(c *Client) error {
		_, err := c.CreateOrganizationSession(context.Background(), NO, CreateSessionRequest{Identifier: "923609016"}, CreateOptions{})
		return err
	}
	session := func(c *Client) error { _, err := c.Session(context.Background(), KindOrganization, "s1"); return err }
	download := func(c *Client) error {
		_, err := c.Download(context.Background(), "/organization/session/s1/json")
		return err
	}
	access := func(c *Client) error { _, err := c.AccessRights(context.Background()); return err }

	tests := []struct {
		name     string
		call     callFunc
		api      http.HandlerFunc
		class    Class
		attempts int32
		code     string
		text     string // the whole Error() when set
	}{
		{"400 with errorCode", create, status(400, CodeInvalidIdentifier), Permanent, 1, CodeInvalidIdentifier,
			"amlapi: create organization session NO: 400 INVALID_IDENTIFIER: message for INVALID_IDENTIFIER (trace trace-INVALID_IDENTIFIER)"},
		{"403 missing scope", create, status(403, CodeForbidden), Permanent, 1, CodeForbidden, ""},
		{"404 on create", create, status(404, CodeNotFound), Permanent, 1, CodeNotFound, ""},
		{"404 on access rights", access, status(404, CodeNotFound), Permanent, 1, CodeNotFound, ""},
		{"404 on session", session, status(404, CodeNotFound), Expired, 1, CodeNotFound,
			"amlapi: get organization session: 404 SESSION_NOT_FOUND: message for SESSION_NOT_FOUND (trace trace-SESSION_NOT_FOUND)"},
		{"404 on content", download, status(404, CodeNotFound), Expired, 1, CodeNotFound, ""},
		{"410 on session", session, status(410, CodeGone), Expired, 1, CodeGone, ""},
		{"410 on content", download, empty(410), Expired, 1, "", ""},
		{"422 other 4xx", session, empty(422), Permanent, 1, "", "amlapi: get organization session: 422 Unprocessable Entity"},
		{"408", session, empty(408), Transient, 4, "", ""},
		{"500 empty", session, empty(500), Transient, 4, "", ""},
		{"502 html", access, html(502), Transient, 4, "", "amlapi: get access rights: 502 Bad Gateway"},
		{"503 with code", download, status(503, CodeUnavailable), Transient, 4, CodeUnavailable, ""},
		{"200 not JSON", session, html(200), Unreadable, 1, "", ""},
		{"200 not JSON, access rights", access, html(200), Permanent, 1, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.setAPI(tt.api)
			err := tt.call(newClient(t, testConfig(f)))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want an *Error", err)
			}
			if e.Class != tt.class || ClassOf(err) != tt.class {
				t.Errorf("class = %v, want %v (%v)", e.Class, tt.class, err)
			}
			if e.Code != tt.code {
				t.Errorf("code = %q, want %q", e.Code, tt.code)
			}
			if tt.text != "" && err.Error() != tt.text {
				t.Errorf("Error() = %q\nwant      %q", err.Error(), tt.text)
			}
			if n := f.apiHits.Load(); n != tt.attempts {
				t.Errorf("%d attempts, want %d", n, tt.attempts)
			}
		})
	}
}

func TestUnauthorizedRefreshesTokenOnce(t *testing.T) {
	f := newFake(t)
	f.setAPI(accessGranted)
	c := newClient(t, testConfig(f))
	ctx := context.Background()
	if _, err := c.AccessRights(ctx); err != nil {
		t.Fatal(err)
	}
	f.revokeTokens() // the cached token is now rejected
	if _, err := c.AccessRights(ctx); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if got := f.tokenHits.Load(); got != 2 {
		t.Errorf("token endpoint hit %d times, want 2", got)
	}
	if got := f.apiHits.Load(); got != 3 {
		t.Errorf("API hit %d times, want 3 (ok, 401, ok)", got)
	}

	t.Run("twice is permanent", func(t *testing.T) {
		f := newFake(t)
		f.setAPI(accessGranted)
		f.rejectAll = true
		c := newClient(t, testConfig(f))
		_, err := c.AccessRights(ctx)
		var e *Error
		if !errors.As(err, &e) || e.StatusCode != http.StatusUnauthorized || e.Class != Permanent || e.Code != CodeUnauthorized {
			t.Fatalf("err = %v, want a Permanent 401", err)
		}
		if a, tk := f.apiHits.Load(), f.tokenHits.Load(); a != 2 || tk != 2 {
			t.Errorf("API hits %d, token hits %d; want 2 and 2", a, tk)
		}
	})
}

func TestRetryAfterIsHonoured(t *testing.T) {
	f := newFake(t)
	var first time.Time
	var mu sync.Mutex
	f.setAPI(sequence(
		func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			first = time.Now()
			mu.Unlock()
			w.Header().Set("Retry-After", "1")
			status(429, CodeRateLimited)(w, r)
		},
		func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			waited := time.Since(first)
			mu.Unlock()
			if waited < time.Second {
				http.Error(w, "too soon: "+waited.String(), http.StatusTeapot)
				return
			}
			accessGranted(w, r)
		},
	))
	c := newClient(t, testConfig(f)) // backoff of milliseconds: only Retry-After makes it wait
	start := time.Now()
	if _, err := c.AccessRights(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("took %v, want at least the Retry-After of 1s", d)
	}
	if n := f.apiHits.Load(); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
}

func TestRetryAfterBeyondBudgetGivesUp(t *testing.T) {
	f := newFake(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		status(429, CodeRateLimited)(w, r)
	})
	for _, tt := range []struct {
		name   string
		budget time.Duration
		ctx    func() (context.Context, context.CancelFunc)
	}{
		{"retry budget", 2 * time.Second, func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
		{"context deadline", time.Hour, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 5*time.Second)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f.apiHits.Store(0)
			cfg := testConfig(f)
			cfg.Retry.MaxElapsedTime = tt.budget
			c := newClient(t, cfg)
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			_, err := c.AccessRights(ctx)
			var e *Error
			if !errors.As(err, &e) || e.Class != Transient || e.RetryAfter != 30*time.Second || e.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("err = %v, want a Transient 429 with RetryAfter 30s", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v; it should give up at once", d)
			}
			if n := f.apiHits.Load(); n != 1 {
				t.Errorf("%d attempts, want 1", n)
			}
		})
	}
}

func TestTransientRetriedThenSuccess(t *testing.T) {
	f := newFake(t)
	f.setAPI(sequence(status(500, CodeInternal), status(503, CodeUnavailable), accessGranted))
	c := newClient(t, testConfig(f))
	ar, err := c.AccessRights(context.Background())
	if err != nil || ar.NationalRegistry != AccessGranted {
		t.Fatalf("AccessRights = %v, %v", ar, err)
	}
	if n := f.apiHits.Load(); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
}

func TestRetriesExhausted(t *testing.T) {
	f := newFake(t)
	f.setAPI(status(503, CodeUnavailable))
	cfg := testConfig(f)
	cfg.Retry.MaxAttempts = 3
	_, err := newClient(t, cfg).AccessRights(context.Background())
	if ClassOf(err) != Transient || !strings.Contains(err.Error(), "503 SERVICE_UNAVAILABLE") {
		t.Fatalf("err = %v, want the last Transient 503", err)
	}
	if n := f.apiHits.Load(); n != 3 {
		t.Errorf("%d attempts, want MaxAttempts = 3", n)
	}
}

func TestCreateRetryWarnsOfDuplicates(t *testing.T) {
	for _, tt := range []struct {
		name  string
		first http.HandlerFunc
		warn  bool
	}{
		{"500", status(500, CodeInternal), true},
		{"503", status(503, CodeUnavailable), false},
		{"429", status(429, CodeRateLimited), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.setAPI(sequence(tt.first, created("s-2")))
			var logs logBuffer
			cfg := testConfig(f)
			cfg.Logger = logs.logger()
			id, err := newClient(t, cfg).CreateOrganizationSession(context.Background(), NO, CreateSessionRequest{Identifier: "923609016"}, CreateOptions{})
			if err != nil || id != "s-2" {
				t.Fatalf("create = %q, %v", id, err)
			}
			if got := strings.Contains(logs.String(), "duplicate session"); got != tt.warn {
				t.Errorf("duplicate warning logged = %v, want %v; log:\n%s", got, tt.warn, logs.String())
			}
			if reqs := f.recorded(); len(reqs) != 2 || string(reqs[0].Body) != string(reqs[1].Body) {
				t.Errorf("the retry did not re-send the same body: %+v", reqs)
			}
		})
	}
}

func TestTimeoutIsTransient(t *testing.T) {
	f := newFake(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	cfg := testConfig(f)
	cfg.RequestTimeout = 100 * time.Millisecond
	cfg.Retry.MaxAttempts = 2
	var logs logBuffer
	cfg.Logger = logs.logger()
	start := time.Now()
	_, err := newClient(t, cfg).CreateOrganizationSession(context.Background(), NO, CreateSessionRequest{Identifier: "923609016"}, CreateOptions{})
	var ne net.Error
	if ClassOf(err) != Transient || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a Transient timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	if n := f.apiHits.Load(); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
	if !strings.Contains(logs.String(), "duplicate session") {
		t.Errorf("no duplicate warning after a timed-out create; log:\n%s", logs.String())
	}

	t.Run("caller deadline", func(t *testing.T) {
		cfg := testConfig(f)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := newClient(t, cfg).AccessRights(ctx)
		if ClassOf(err) != Transient || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want a Transient error wrapping context.DeadlineExceeded", err)
		}
	})
}

func TestCancelWhileWaitingToRetry(t *testing.T) {
	f := newFake(t)
	f.setAPI(status(503, CodeUnavailable))
	cfg := testConfig(f)
	cfg.Retry.InitialInterval, cfg.Retry.MaxInterval, cfg.Retry.MaxElapsedTime = 10*time.Second, 10*time.Second, time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := newClient(t, cfg).AccessRights(ctx)
	if !errors.Is(err, context.Canceled) || ClassOf(err) != Transient || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v, want the Transient 503 wrapping context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v; cancellation should end the wait", d)
	}
}

func TestConnectionRefusedIsTransient(t *testing.T) {
	f := newFake(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := testConfig(f)
	cfg.BaseURL = "http://" + addr
	cfg.Retry.MaxAttempts = 2
	var logs logBuffer
	cfg.Logger = logs.logger()
	_, err = newClient(t, cfg).CreateOrganizationSession(context.Background(), NO, CreateSessionRequest{Identifier: "923609016"}, CreateOptions{})
	if ClassOf(err) != Transient || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err = %v, want a Transient connection refused", err)
	}
	if strings.Contains(logs.String(), "duplicate") {
		t.Error("a refused connection cannot have opened a session, yet a duplicate was warned of")
	}
}

func TestTokenDiscoveryAndCaching(t *testing.T) {
	f := newFake(t)
	f.setAPI(accessGranted)
	c := newClient(t, testConfig(f))
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := c.AccessRights(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if d, tk := f.discoveryHits.Load(), f.tokenHits.Load(); d != 1 || tk != 1 {
		t.Errorf("discovery hit %d, token %d times; want 1 and 1", d, tk)
	}
	if got := f.scopes()[0]; got != ScopeBasic {
		t.Errorf("scope = %q, want the default %q", got, ScopeBasic)
	}
}

func TestTokenDiscoveryFailures(t *testing.T) {
	t.Run("transient then cached", func(t *testing.T) {
		f := newFake(t)
		f.setAPI(accessGranted)
		f.discoveryFail = []int{503}
		c := newClient(t, testConfig(f))
		for range 3 {
			if _, err := c.AccessRights(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if d := f.discoveryHits.Load(); d != 2 {
			t.Errorf("discovery hit %d times, want 2 (a 503, then success, cached)", d)
		}
	})
	t.Run("404 is permanent", func(t *testing.T) {
		f := newFake(t)
		cfg := testConfig(f)
		cfg.IssuerURL = f.srv.URL + "/realms/nope"
		_, err := newClient(t, cfg).AccessRights(context.Background())
		if ClassOf(err) != Permanent || !strings.Contains(err.Error(), "discover token endpoint: 404") {
			t.Fatalf("err = %v", err)
		}
		if f.apiHits.Load() != 0 || f.tokenHits.Load() != 0 {
			t.Errorf("API hits %d, token hits %d after a failed discovery", f.apiHits.Load(), f.tokenHits.Load())
		}
	})
	t.Run("TokenURL wins", func(t *testing.T) {
		f := newFake(t)
		f.setAPI(accessGranted)
		cfg := testConfig(f)
		cfg.IssuerURL = "http://127.0.0.1:1/unreachable"
		cfg.TokenURL = f.tokenURL
		if _, err := newClient(t, cfg).AccessRights(context.Background()); err != nil {
			t.Fatal(err)
		}
		if f.discoveryHits.Load() != 0 || f.tokenHits.Load() != 1 {
			t.Errorf("discovery %d, token %d", f.discoveryHits.Load(), f.tokenHits.Load())
		}
	})
}

func TestClientAuthStyles(t *testing.T) {
	for _, tt := range []struct {
		auth ClientAuth
		want string
	}{{"", "basic"}, {ClientSecretBasic, "basic"}, {ClientSecretPost, "post"}} {
		t.Run(string(tt.auth), func(t *testing.T) {
			f := newFake(t)
			f.setAPI(accessGranted)
			cfg := testConfig(f)
			cfg.ClientAuth = tt.auth
			cfg.Scopes = []string{ScopeBasic, ScopeOFAC}
			if _, err := newClient(t, cfg).AccessRights(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := f.authStyles(); len(got) != 1 || got[0] != tt.want {
				t.Errorf("token requests authenticated %v, want [%s]", got, tt.want)
			}
			if got := f.scopes()[0]; got != ScopeBasic+" "+ScopeOFAC {
				t.Errorf("scope = %q", got)
			}
		})
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	t.Run("invalid client is permanent", func(t *testing.T) {
		f := newFake(t)
		f.setAPI(accessGranted)
		cfg := testConfig(f)
		cfg.ClientSecret = "wrong"
		_, err := newClient(t, cfg).AccessRights(context.Background())
		var e *Error
		if !errors.As(err, &e) || e.Class != Permanent || e.StatusCode != http.StatusUnauthorized || e.Code != "invalid_client" ||
			e.Error() != "amlapi: get access rights: fetch token: 401 invalid_client: Invalid client credentials" {
			t.Fatalf("err = %v, want a Permanent 401 invalid_client", err)
		}
		if tk, a := f.tokenHits.Load(), f.apiHits.Load(); tk != 1 || a != 0 {
			t.Errorf("token hits %d, API hits %d; want 1 and 0", tk, a)
		}
	})
	t.Run("5xx is retried", func(t *testing.T) {
		f := newFake(t)
		f.setAPI(accessGranted)
		f.tokenFail = []int{500, 503}
		if _, err := newClient(t, testConfig(f)).AccessRights(context.Background()); err != nil {
			t.Fatal(err)
		}
		if tk := f.tokenHits.Load(); tk != 3 {
			t.Errorf("token hits %d, want 3", tk)
		}
	})
	t.Run("token endpoint down", func(t *testing.T) {
		f := newFake(t)
		cfg := testConfig(f)
		cfg.TokenURL = "http://127.0.0.1:1/token"
		cfg.Retry.MaxAttempts = 2
		_, err := newClient(t, cfg).AccessRights(context.Background())
		if ClassOf(err) != Transient || !strings.Contains(err.Error(), "fetch token") {
			t.Fatalf("err = %v, want a Transient token fetch error", err)
		}
	})
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	f := newFake(t)
	f.setAPI(accessGranted)
	f.expiresIn = 2 // the 30s default margin is capped at half: refresh after 1s
	c := newClient(t, testConfig(f))
	ctx := context.Background()
	start := time.Now() // the token is fetched after this
	calls := 0
	for range 3 {
		if _, err := c.AccessRights(ctx); err != nil {
			t.Fatal(err)
		}
		calls++
	}
	if n := f.tokenHits.Load(); n != 1 {
		t.Fatalf("token fetched %d times within its first second, want 1 (margin capped at half the lifetime)", n)
	}
	// Calls go on until one refreshes the token: after its first second,
	// before it expires.
	var refreshed time.Duration
	testenv.Eventually(t, 2*time.Second, func() error {
		if _, err := c.AccessRights(ctx); err != nil {
			t.Fatal(err)
		}
		calls++
		if n := f.tokenHits.Load(); n < 2 {
			return fmt.Errorf("token fetched %d times", n)
		}
		refreshed = time.Since(start)
		return nil
	})
	if n := f.tokenHits.Load(); n != 2 || refreshed < time.Second || refreshed >= 2*time.Second {
		t.Errorf("token fetched %d times, the second %s after the first; want 2, refreshed in its second second (before it expired)", n, refreshed)
	}
	if n := f.apiHits.Load(); n != int32(calls) {
		t.Errorf("API hits = %d, want %d, one a call (no 401 on the way)", n, calls)
	}
}

func TestRefreshTime(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		lifetime, margin, want time.Duration // want: after t0
	}{
		{300 * time.Second, 30 * time.Second, 270 * time.Second},
		{300 * time.Second, 0, 300 * time.Second},
		{40 * time.Second, 30 * time.Second, 20 * time.Second},
		{2 * time.Second, 30 * time.Second, time.Second},
		{-time.Second, 30 * time.Second, -time.Second},
	}
	for _, tt := range tests {
		if got := refreshTime(t0, t0.Add(tt.lifetime), tt.margin).Sub(t0); got != tt.want {
			t.Errorf("refreshTime(lifetime %v, margin %v) = t0%+v, want t0%+v", tt.lifetime, tt.margin, got, tt.want)
		}
	}
	if !refreshTime(t0, time.Time{}, time.Minute).IsZero() {
		t.Error("a token without expiry should never be refreshed by time")
	}
}

func TestRateLimit(t *testing.T) {
	f := newFake(t)
	f.setAPI(accessGranted)
	cfg := testConfig(f)
	cfg.RateLimit, cfg.RateBurst = 20, 1
	c := newClient(t, cfg)
	start := time.Now()
	for range 5 {
		if _, err := c.AccessRights(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 190*time.Millisecond {
		t.Errorf("5 calls at 20/s with burst 1 took %v, want at least 200ms", d)
	}
}

func TestDownload(t *testing.T) {
	f := newFake(t)
	release := make(chan struct{})
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/organization/session/s1/report/aml":
			w.Header().Set("Content-Type", ContentTypePDF)
			w.Header().Set("Content-Length", "10")
			_, _ = io.WriteString(w, "%PDF-")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
			_, _ = io.WriteString(w, "1.7 x")
		case "/organization/session/s1/json":
			w.Header().Set("Content-Type", ContentTypeJSON)
			w.(http.Flusher).Flush() // chunked: no length
			// A body slower than RequestTimeout (100 ms): the duration is what is tested.
			time.Sleep(300 * time.Millisecond)
			_, _ = io.WriteString(w, `{"keyInformation":{}}`)
		default:
			http.NotFound(w, r)
		}
	})
	cfg := testConfig(f)
	cfg.RequestTimeout = 100 * time.Millisecond // bounds the headers, not the body
	c := newClient(t, cfg)
	ctx := context.Background()

	start := time.Now()
	d, err := c.Download(ctx, f.srv.URL+"/organization/session/s1/report/aml")
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 2*time.Second {
		t.Error("Download waited for the whole body; it must stream")
	}
	close(release)
	body, err := io.ReadAll(d.Body)
	d.Body.Close()
	if err != nil || string(body) != "%PDF-1.7 x" || d.Size != 10 || d.ContentType != ContentTypePDF {
		t.Errorf("download = %q, size %d, type %q, err %v", body, d.Size, d.ContentType, err)
	}

	// A relative link, a body slower than RequestTimeout, no length.
	d, err = c.Download(ctx, "/organization/session/s1/json")
	if err != nil {
		t.Fatal(err)
	}
	body, err = io.ReadAll(d.Body)
	d.Body.Close()
	if err != nil || string(body) != `{"keyInformation":{}}` || d.Size != -1 || d.ContentType != ContentTypeJSON {
		t.Errorf("download = %q, size %d, type %q, err %v", body, d.Size, d.ContentType, err)
	}
	if reqs := f.recorded(); len(reqs) != 2 || reqs[1].Auth != "Bearer tok-1" {
		t.Errorf("requests = %+v", reqs)
	}
}

func TestDownloadRetriesBeforeBody(t *testing.T) {
	f := newFake(t)
	f.setAPI(sequence(status(503, CodeUnavailable), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ContentTypeJSON)
		_, _ = io.WriteString(w, "{}")
	}))
	d, err := newClient(t, testConfig(f)).Download(context.Background(), "/organization/session/s1/json")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Body.Close()
	if b, _ := io.ReadAll(d.Body); string(b) != "{}" || f.apiHits.Load() != 2 {
		t.Errorf("body %q after %d attempts", b, f.apiHits.Load())
	}
}

func TestDownloadRefusesForeignHosts(t *testing.T) {
	f := newFake(t)
	f.setAPI(accessGranted)
	var otherHits int
	var mu sync.Mutex
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		otherHits++
		mu.Unlock()
	}))
	defer other.Close()
	c := newClient(t, testConfig(f))
	for _, link := range []string{
		other.URL + "/organization/session/s1/json",             // another port
		"https://evil.example/organization/session/s1",          // another host
		strings.Replace(f.srv.URL, "http:", "https:", 1) + "/x", // another scheme
		"//evil.example/x", // scheme-relative
		"",
	} {
		_, err := c.Download(context.Background(), link)
		if ClassOf(err) != Permanent || (link != "" && !errors.Is(err, ErrForeignLink)) {
			t.Errorf("Download(%q) = %v, want a Permanent ErrForeignLink", link, err)
		}
	}
	if err := func() error { _, err := c.Download(context.Background(), "https://evil.example/x"); return err }(); !strings.Contains(err.Error(), "access token") {
		t.Errorf("the error should say why: %v", err)
	}
	if otherHits != 0 || f.apiHits.Load() != 0 || f.tokenHits.Load() != 0 {
		t.Errorf("requests made: other %d, API %d, token %d", otherHits, f.apiHits.Load(), f.tokenHits.Load())
	}
}

func TestSameOrigin(t *testing.T) {
	base := must(url.Parse("https://aml.example"))
	for _, tt := range []struct {
		link string
		want bool
	}{
		{"https://aml.example/x", true},
		{"https://AML.example:443/x", true},
		{"https://aml.example:8443/x", false},
		{"http://aml.example/x", false},
		{"https://aml.example.evil/x", false},
		{"https://evil@aml.example/x", true},
	} {
		if got := sameOrigin(must(url.Parse(tt.link)), base); got != tt.want {
			t.Errorf("sameOrigin(%s) = %v, want %v", tt.link, got, tt.want)
		}
	}
}

func TestRateLimitWaitRespectsDeadline(t *testing.T) {
	f := newFake(t)
	f.setAPI(accessGranted)
	cfg := testConfig(f)
	cfg.RateLimit, cfg.RateBurst = rate.Every(time.Hour), 1
	c := newClient(t, cfg)
	if _, err := c.AccessRights(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := c.AccessRights(ctx)
	if ClassOf(err) != Transient || !strings.Contains(err.Error(), "rate limiter") {
		t.Fatalf("err = %v, want a Transient rate limiter error", err)
	}
}
