package bridge

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/envconfig"
	"github.com/kybflow/kybflow/internal/opshttp"
	"github.com/kybflow/kybflow/internal/testenv"
	"github.com/kybflow/kybflow/natsconn"
)

// counter is the value of one counter of a vector.
func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// clock is a test's time, moved by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newVerifiedFixture is newFixture with a verifier of the test's, and
// the handler's metrics.
func newVerifiedFixture(t *testing.T, v Verifier) (*fixture, *Metrics) {
	t.Helper()
	js := testenv.JetStream(t)
	if _, err := js.CreateOrUpdateStream(context.Background(), jetstream.StreamConfig{
		Name: "AML_WEBHOOKS", Subjects: []string{"aml.webhooks.>"}, Retention: jetstream.WorkQueuePolicy, Duplicates: time.Hour,
	}); err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(prometheus.NewRegistry())
	h, err := Handler(HandlerConfig{
		Verifier: v, MaxBody: 1024, Publisher: js, PublishTimeout: time.Second, Metrics: m,
		Subject: func(id string) string { return "aml.webhooks." + id },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{js: js, srv: srv}, m
}

func withID(id string, then func(http.Header)) func(http.Header) {
	return func(h http.Header) {
		h.Set(amlapi.HeaderWebhookID, id)
		if then != nil {
			then(h)
		}
	}
}

func bearer(tok string) func(http.Header) {
	return func(h http.Header) { amlapi.SetWebhookBearer(h, tok) }
}

// Rotation: with two secrets, webhooks signed with either are taken.
func TestStandardWebhooksRotation(t *testing.T) {
	const oldSecret, newSecret = secret, "whsec_bmV3LWJyaWRnZS1zZWNyZXQ="
	v, err := NewStandardWebhooks(oldSecret+" "+newSecret, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, m := newVerifiedFixture(t, v)
	body := webhookBody(t, amlapi.EventAllDone)
	for i, s := range []string{oldSecret, newSecret, oldSecret + "," + newSecret} {
		sign := func(h http.Header) { amlapi.SetWebhookHeaders(h, s, "msg_rot_"+string(rune('a'+i)), time.Now(), body) }
		if got := f.post(t, "/webhooks/lk-rot", body, sign); got != http.StatusOK {
			t.Errorf("signed with secret set %d: %d, want 200", i, got)
		}
	}
	other := func(h http.Header) { amlapi.SetWebhookHeaders(h, "b3RoZXItc2VjcmV0", "msg_rot_x", time.Now(), body) }
	if got := f.post(t, "/webhooks/lk-rot", body, other); got != http.StatusUnauthorized {
		t.Errorf("signed with a third secret: %d, want 401", got)
	}
	msgs := f.stored(t)
	if len(msgs) != 3 || msgs[0].Header.Get(HeaderAuth) != AuthStandardWebhooks {
		t.Fatalf("stored %d webhooks (%v), want 3 marked %s", len(msgs), msgs, AuthStandardWebhooks)
	}
	if n := counter(t, m.Published.WithLabelValues(AuthStandardWebhooks)); n != 3 {
		t.Errorf("published{auth=standard-webhooks} = %v, want 3", n)
	}
}

// A static token: either of two (a rotation) is taken, anything else 401.
func TestBearerTokenMode(t *testing.T) {
	const oldTok, newTok = "old-token-0123456789", "new-token-abcdefghij"
	v, err := NewBearerTokens(oldTok + ", " + newTok)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := newVerifiedFixture(t, v)
	body := webhookBody(t, amlapi.EventJSONDataReady)
	for _, tt := range []struct {
		name string
		sign func(http.Header)
		want int
	}{
		{"old token", withID("msg_b1", bearer(oldTok)), http.StatusOK},
		{"new token", withID("msg_b2", bearer(newTok)), http.StatusOK},
		{"wrong token", withID("msg_b3", bearer("new-token-abcdefghiJ")), http.StatusUnauthorized},
		{"a prefix of a token", withID("msg_b4", bearer(newTok[:10])), http.StatusUnauthorized},
		{"both tokens", withID("msg_b5", bearer(oldTok+","+newTok)), http.StatusUnauthorized},
		{"no header", withID("msg_b6", nil), http.StatusUnauthorized},
		{"basic", withID("msg_b7", func(h http.Header) { h.Set("Authorization", "Basic "+newTok) }), http.StatusUnauthorized},
		{"a Standard Webhooks signature", signed("msg_b8", body), http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := f.post(t, "/webhooks/lk-b", body, tt.sign); got != tt.want {
				t.Fatalf("status %d, want %d", got, tt.want)
			}
		})
	}
	msgs := f.stored(t)
	if len(msgs) != 2 || msgs[0].Header.Get(HeaderAuth) != AuthBearerToken || msgs[0].Header.Get("Authorization") != "" {
		t.Fatalf("stored %d webhooks, want 2 marked %s without the token: %v", len(msgs), AuthBearerToken, msgs)
	}
}

// Hints: any webhook is taken, at most the limit per lookup a minute; the
// rest get 429 with Retry-After; other lookups have their own count; a new
// minute starts a new one. Every hint is marked and counted.
func TestHintModeRateLimited(t *testing.T) {
	clk := newClock()
	f, m := newVerifiedFixture(t, NewHints(3, clk.Now))
	body := webhookBody(t, amlapi.EventReportReady)
	post := func(lookup, id string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/webhooks/"+lookup, strings.NewReader(string(body)))
		req.Header.Set(amlapi.HeaderWebhookID, id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i := range 3 {
		if resp := post("lk-h", "msg_h"+string(rune('0'+i))); resp.StatusCode != http.StatusOK {
			t.Fatalf("hint %d: %d, want 200", i+1, resp.StatusCode)
		}
	}
	resp := post("lk-h", "msg_h3")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "60" {
		t.Fatalf("hint 4 in a minute: %d Retry-After %q, want 429 and 60", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp := post("lk-other", "msg_o0"); resp.StatusCode != http.StatusOK {
		t.Fatalf("another lookup's hint: %d, want 200", resp.StatusCode)
	}
	clk.Add(HintWindow)
	if resp := post("lk-h", "msg_h4"); resp.StatusCode != http.StatusOK {
		t.Fatalf("a hint the next minute: %d, want 200", resp.StatusCode)
	}
	msgs := f.stored(t)
	if len(msgs) != 5 {
		t.Fatalf("stored %d hints, want 5", len(msgs))
	}
	for _, msg := range msgs {
		if msg.Header.Get(HeaderAuth) != AuthHint {
			t.Errorf("hint stored with %s %q", HeaderAuth, msg.Header.Get(HeaderAuth))
		}
	}
	if n := counter(t, m.Published.WithLabelValues(AuthHint)); n != 5 {
		t.Errorf("published{auth=hint} = %v, want 5", n)
	}
	if n := counter(t, m.Webhooks.WithLabelValues("rate_limited")); n != 1 {
		t.Errorf("webhooks{outcome=rate_limited} = %v, want 1", n)
	}
}

// The hint limiter remembers at most max lookups: a flood of made-up
// lookup ids is refused, not stored, until windows end.
func TestHintsBounded(t *testing.T) {
	clk := newClock()
	h := NewHints(1, clk.Now)
	h.max = 2
	for _, id := range []string{"a", "b"} {
		if _, err := h.Verify(nil, id, nil); err != nil {
			t.Fatalf("lookup %s: %v", id, err)
		}
	}
	if _, err := h.Verify(nil, "c", nil); err == nil {
		t.Fatal("a third lookup was taken with room for two")
	}
	clk.Add(HintWindow)
	if _, err := h.Verify(nil, "c", nil); err != nil || len(h.windows) != 1 {
		t.Fatalf("after the windows ended: %v, %d remembered", err, len(h.windows))
	}
}

// A bad combination of settings stops the bridge at start, naming the
// variable, never quoting a secret or token.
func TestVerifyConfigValidation(t *testing.T) {
	base := func(c func(*Config)) Config {
		cfg := Config{NATS: natsconn.Settings{URL: "nats://127.0.0.1:4222"}, ListenAddr: ":0", Ops: opshttp.Settings{Addr: ":0"},
			SubjectPrefix: "aml", MaxBody: 1024, HintLimit: DefaultHintLimit}
		c(&cfg)
		return cfg
	}
	const tok = "a-token-of-twenty-chars"
	for _, tt := range []struct {
		name string
		cfg  Config
		want string // "" for valid
	}{
		{"default mode, a secret", base(func(c *Config) { c.WebhookSecret = secret }), ""},
		{"default mode, two secrets", base(func(c *Config) { c.WebhookSecret = secret + " whsec_c2Vjb25k" }), ""},
		{"standard-webhooks without secret", base(func(c *Config) { c.Verify = ModeStandardWebhooks }), "WEBHOOK_SECRET"},
		{"a bad second secret", base(func(c *Config) { c.WebhookSecret = secret + ",not*base64" }), "WEBHOOK_SECRET"},
		{"unknown mode", base(func(c *Config) { c.Verify = "hmac"; c.WebhookSecret = secret }), "WEBHOOK_VERIFY"},
		{"bearer with a token", base(func(c *Config) { c.Verify = ModeBearer; c.BearerTokens = tok }), ""},
		{"bearer with two tokens", base(func(c *Config) { c.Verify = ModeBearer; c.BearerTokens = tok + " " + tok + "2" }), ""},
		{"bearer without token or JWKS", base(func(c *Config) { c.Verify = ModeBearer }), "WEBHOOK_BEARER_TOKEN"},
		{"bearer with a short token", base(func(c *Config) { c.Verify = ModeBearer; c.BearerTokens = "short" }), "WEBHOOK_BEARER_TOKEN"},
		{"bearer with a token not token68", base(func(c *Config) { c.Verify = ModeBearer; c.BearerTokens = tok + "\"x" }), "WEBHOOK_BEARER_TOKEN"},
		{"bearer with token and JWKS", base(func(c *Config) {
			c.Verify, c.BearerTokens, c.JWKSURL, c.JWTIssuer, c.JWTAudience = ModeBearer, tok, "https://idp/jwks", "iss", "aud"
		}), "WEBHOOK_BEARER_TOKEN"},
		{"bearer with JWKS", base(func(c *Config) {
			c.Verify, c.JWKSURL, c.JWTIssuer, c.JWTAudience = ModeBearer, "https://idp/jwks", "iss", "aud"
		}), ""},
		{"JWKS without issuer", base(func(c *Config) { c.Verify, c.JWKSURL, c.JWTAudience = ModeBearer, "https://idp/jwks", "aud" }), "WEBHOOK_JWT_ISSUER"},
		{"JWKS without audience", base(func(c *Config) { c.Verify, c.JWKSURL, c.JWTIssuer = ModeBearer, "https://idp/jwks", "iss" }), "WEBHOOK_JWT_AUDIENCE"},
		{"JWKS not a URL", base(func(c *Config) {
			c.Verify, c.JWKSURL, c.JWTIssuer, c.JWTAudience = ModeBearer, "idp/jwks", "iss", "aud"
		}), "WEBHOOK_JWKS_URL"},
		{"issuer with a static token", base(func(c *Config) { c.Verify, c.BearerTokens, c.JWTIssuer = ModeBearer, tok, "iss" }), "WEBHOOK_JWT_ISSUER"},
		{"bearer with a secret too", base(func(c *Config) { c.Verify, c.BearerTokens, c.WebhookSecret = ModeBearer, tok, secret }), "WEBHOOK_SECRET"},
		{"a token without bearer", base(func(c *Config) { c.WebhookSecret, c.BearerTokens = secret, tok }), "WEBHOOK_BEARER_TOKEN"},
		{"a JWKS without bearer", base(func(c *Config) { c.WebhookSecret, c.JWKSURL = secret, "https://idp/jwks" }), "WEBHOOK_JWKS_URL"},
		{"hint", base(func(c *Config) { c.Verify = ModeHint }), ""},
		{"hint with a secret", base(func(c *Config) { c.Verify, c.WebhookSecret = ModeHint, secret }), "WEBHOOK_SECRET"},
		{"hint with no limit", base(func(c *Config) { c.Verify, c.HintLimit = ModeHint, 0 }), "WEBHOOK_HINT_LIMIT"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if _, err := tt.cfg.Verifier(nil); err != nil {
					t.Fatalf("Verifier: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want an error naming %s", err, tt.want)
			}
			for _, s := range []string{tt.cfg.WebhookSecret, tt.cfg.BearerTokens} {
				for _, part := range amlapi.SplitSecrets(s) {
					if len(part) > 8 && strings.Contains(err.Error(), part) {
						t.Errorf("the error quotes a secret: %v", err)
					}
				}
			}
		})
	}
}

// The program refuses a bad combination before it connects to anything,
// naming the variable, and its --help lists the modes' settings.
func TestMainVerifySettings(t *testing.T) {
	for env, want := range map[string]map[string]string{
		"WEBHOOK_BEARER_TOKEN": {"WEBHOOK_VERIFY": "bearer"},
		"WEBHOOK_VERIFY":       {"WEBHOOK_VERIFY": "signed"},
		"WEBHOOK_JWT_AUDIENCE": {"WEBHOOK_VERIFY": "bearer", "WEBHOOK_JWKS_URL": "https://idp/jwks", "WEBHOOK_JWT_ISSUER": "iss"},
		"WEBHOOK_SECRET":       {},
	} {
		err := Main(context.Background(), nil, envconfig.MapLookup(want), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("%v: %v, want an error naming %s", want, err, env)
		}
	}
	var help strings.Builder
	if err := Main(context.Background(), []string{"--help"}, envconfig.MapLookup(nil), io.Discard, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, v := range []string{"WEBHOOK_VERIFY", "WEBHOOK_BEARER_TOKEN", "WEBHOOK_JWKS_URL", "WEBHOOK_JWT_ISSUER", "WEBHOOK_JWT_AUDIENCE", "WEBHOOK_HINT_LIMIT", "429"} {
		if !strings.Contains(help.String(), v) {
			t.Errorf("--help does not mention %s", v)
		}
	}
}
