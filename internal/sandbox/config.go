package sandbox

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/envconfig"
)

// Defaults of Config. A zero field of Config means its default.
const (
	DefaultClientID       = "sandbox"
	DefaultClientSecret   = "sandbox-secret"
	DefaultReadyAfter     = 2 * time.Second
	DefaultRetryAfter     = time.Second
	DefaultWebhookTimeout = 5 * time.Second
	DefaultWebhookWorkers = 4

	DefaultWebhookRetryInitial    = time.Second
	DefaultWebhookRetryMax        = 30 * time.Second
	DefaultWebhookRetryMultiplier = 2.0
	DefaultWebhookRetryAttempts   = 6
)

// knownScopes are the scopes a client may request, and the default of
// Config.AllowedScopes.
var knownScopes = []string{amlapi.ScopeBasic, amlapi.ScopeOFAC, amlapi.ScopeFinancialsCredit}

// IssuerPath is where the sandbox's OIDC issuer lives below its base URL,
// Keycloak style. The token endpoint is IssuerPath + amlapi.TokenPath.
const IssuerPath = "/auth/realms/sandbox"

// ErrInvalidConfig is wrapped by every error of New about its Config.
var ErrInvalidConfig = errors.New("invalid sandbox config")

// Config configures a Sandbox. The zero value is a working sandbox with the
// defaults documented on each field.
type Config struct {
	// ClientID and ClientSecret are the only accepted client credentials
	// (defaults "sandbox" and "sandbox-secret").
	ClientID, ClientSecret string
	// WebhookSecret signs webhooks the Standard Webhooks way when set
	// (whsec_<base64> or <base64>, see amlapi.ParseWebhookSecret); without
	// it webhooks are sent unsigned.
	WebhookSecret string
	// BaseURL is the absolute URL of the API root, used in links and in the
	// issuer. Empty: taken from each request (http://<Host>). Start sets it.
	BaseURL string

	// ReadyAfter is the time from create until the JSON is READY (default
	// 2s; use 1ns for "at once").
	ReadyAfter time.Duration
	// ReportInterval: each requested report becomes READY this long after
	// the entity before it (default ReadyAfter/2).
	ReportInterval time.Duration
	// Lifetime is how long a READY entity can be downloaded (default
	// amlapi.Lifetime, 2h). A session is forgotten Lifetime after its last
	// entity expired, or after it failed.
	Lifetime time.Duration
	// TokenLifetime is the lifetime of access tokens (default
	// amlapi.DefaultTokenLifetime).
	TokenLifetime time.Duration
	// AllowedScopes are the scopes the client may request (default all three
	// of amlapi's scopes).
	AllowedScopes []string
	// NationalRegistry is what GET /accessrights answers and whether the
	// beneficial owners expands citizenship and birthplace are honoured
	// (default GRANTED).
	NationalRegistry amlapi.NationalRegistryAccess
	// SSNAccess: the ssn expand is honoured (with NationalRegistry GRANTED).
	SSNAccess bool
	// ReportSize: 0 gives reports their natural size (a few KB); otherwise
	// each PDF report is padded with filler pages to about this many bytes.
	// Reports are streamed, never held in memory.
	ReportSize int64
	// SessionShape is the shape of GET session answers: ShapeModel
	// (default: model.go's Session, with statuses, links and expiry) or
	// ShapeGuide (the guides' only example: a plain status per entity under
	// jsonData and <type>-report, no session status and no links).
	SessionShape SessionShape

	// Faults makes the sandbox misbehave on purpose.
	Faults Faults
	// Seed seeds the randomness of the fault knobs (0 is a seed like any
	// other). Synthetic data does not depend on it: it is seeded by the
	// identifier.
	Seed int64

	// Logger receives the sandbox's logs (default: discarded). No personal
	// data is logged.
	Logger *slog.Logger

	// WebhookTimeout bounds one webhook delivery attempt (default 5s).
	WebhookTimeout time.Duration
	// WebhookRetry is the backoff of webhook deliveries answered non-2xx or
	// timing out.
	WebhookRetry RetryPolicy
	// WebhookWorkers is the number of concurrent webhook deliveries
	// (default 4).
	WebhookWorkers int
	// WebhookClient sends webhooks (default: a client of its own that does
	// not follow redirects).
	WebhookClient *http.Client
}

// RetryPolicy is an exponential backoff: attempt n+1 follows a failed
// attempt n after min(Initial × Multiplier^(n-1), Max).
type RetryPolicy struct {
	Initial    time.Duration // default 1s
	Max        time.Duration // default 30s
	Multiplier float64       // default 2; at least 1
	Attempts   int           // attempts in all, the first included (default 6)
}

// SessionShape is the shape of GET session answers (Config.SessionShape).
type SessionShape string

// The session shapes.
const (
	ShapeModel SessionShape = "model"
	ShapeGuide SessionShape = "guide"
)

// Faults are the fault knobs. Rates are probabilities in [0, 1], drawn from
// the seeded source of Config.Seed; 1 makes a knob deterministic. Special
// identifiers (see SpecialIdentifiers) behave the same whatever the rates.
type Faults struct {
	// Latency is added to every answer of the API and the token endpoint.
	Latency time.Duration
	// CreateLatency is added to every create-session answer, before the
	// session exists (a caller that goes away meanwhile opens nothing).
	CreateLatency time.Duration
	// ErrorRate: AML API calls answer 500 or 503 (half each), decided before
	// any state change, so a failed create opens no session. The token
	// endpoint is exempt.
	ErrorRate float64
	// RateLimitRate: AML API calls answer 429 with Retry-After.
	RateLimitRate float64
	// RetryAfter is the Retry-After of a 429, rounded up to whole seconds
	// (default 1s).
	RetryAfter time.Duration
	// FailRate: sessions that fail (status FAILED, Failed webhook).
	FailRate float64
	// WebhookDropRate: webhooks that are never sent.
	WebhookDropRate float64
	// WebhookDuplicateRate: webhooks sent twice, with the same webhook-id.
	WebhookDuplicateRate float64
	// WebhookReorderRate: for each pair of consecutive webhooks of a
	// session, the probability that the first is held back until just after
	// the second.
	WebhookReorderRate float64
	// WebhookDelay is added to the time of every webhook.
	WebhookDelay time.Duration
}

// withDefaults returns a copy of c with defaults filled in, or an error
// naming the first invalid field.
func (c Config) withDefaults() (Config, error) {
	bad := func(field string, v any, want string) (Config, error) {
		return Config{}, fmt.Errorf("%w: %s = %v, want %s", ErrInvalidConfig, field, v, want)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"ReadyAfter", c.ReadyAfter}, {"ReportInterval", c.ReportInterval}, {"Lifetime", c.Lifetime},
		{"TokenLifetime", c.TokenLifetime}, {"WebhookTimeout", c.WebhookTimeout},
		{"WebhookRetry.Initial", c.WebhookRetry.Initial}, {"WebhookRetry.Max", c.WebhookRetry.Max},
		{"Faults.Latency", c.Faults.Latency}, {"Faults.CreateLatency", c.Faults.CreateLatency}, {"Faults.RetryAfter", c.Faults.RetryAfter},
		{"Faults.WebhookDelay", c.Faults.WebhookDelay},
	} {
		if d.v < 0 {
			return bad(d.name, d.v, "a duration ≥ 0 (0 means the default)")
		}
	}
	for _, r := range []struct {
		name string
		v    float64
	}{
		{"Faults.ErrorRate", c.Faults.ErrorRate}, {"Faults.RateLimitRate", c.Faults.RateLimitRate},
		{"Faults.FailRate", c.Faults.FailRate}, {"Faults.WebhookDropRate", c.Faults.WebhookDropRate},
		{"Faults.WebhookDuplicateRate", c.Faults.WebhookDuplicateRate},
		{"Faults.WebhookReorderRate", c.Faults.WebhookReorderRate},
	} {
		if !(r.v >= 0 && r.v <= 1) { // also rejects NaN
			return bad(r.name, r.v, "a probability in [0, 1]")
		}
	}
	if c.ReportSize < 0 {
		return bad("ReportSize", c.ReportSize, "a size ≥ 0 bytes (0: natural size)")
	}
	if c.WebhookWorkers < 0 {
		return bad("WebhookWorkers", c.WebhookWorkers, "a count ≥ 0 (0 means the default)")
	}
	if c.WebhookRetry.Attempts < 0 {
		return bad("WebhookRetry.Attempts", c.WebhookRetry.Attempts, "a count ≥ 0 (0 means the default)")
	}
	if m := c.WebhookRetry.Multiplier; m != 0 && !(m >= 1 && !math.IsInf(m, 1)) {
		return bad("WebhookRetry.Multiplier", m, "a finite factor ≥ 1 (0 means the default)")
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return bad("BaseURL", fmt.Sprintf("%q", c.BaseURL), "an absolute http(s) URL without query")
		}
		c.BaseURL = u.Scheme + "://" + u.Host + trimSlash(u.EscapedPath())
	}
	for _, s := range c.AllowedScopes {
		if !slices.Contains(knownScopes, s) {
			return bad("AllowedScopes", fmt.Sprintf("%q", c.AllowedScopes), fmt.Sprintf("scopes among %q", knownScopes))
		}
	}
	if c.WebhookSecret != "" {
		if _, err := amlapi.ParseWebhookSecret(c.WebhookSecret); err != nil {
			return bad("WebhookSecret", "(redacted)", "whsec_<base64> or <base64>: "+err.Error())
		}
	}
	switch c.SessionShape {
	case "":
		c.SessionShape = ShapeModel
	case ShapeModel, ShapeGuide:
	default:
		return bad("SessionShape", fmt.Sprintf("%q", c.SessionShape), fmt.Sprintf("%s or %s", ShapeModel, ShapeGuide))
	}
	switch c.NationalRegistry {
	case "":
		c.NationalRegistry = amlapi.AccessGranted
	case amlapi.AccessGranted, amlapi.AccessPending, amlapi.AccessMissing:
	default:
		return bad("NationalRegistry", fmt.Sprintf("%q", c.NationalRegistry),
			fmt.Sprintf("%s, %s or %s", amlapi.AccessGranted, amlapi.AccessPending, amlapi.AccessMissing))
	}

	orDefault := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.ClientSecret == "" {
		c.ClientSecret = DefaultClientSecret
	}
	orDefault(&c.ReadyAfter, DefaultReadyAfter)
	orDefault(&c.ReportInterval, c.ReadyAfter/2)
	orDefault(&c.ReportInterval, 1) // ReadyAfter of 1ns
	orDefault(&c.Lifetime, amlapi.Lifetime)
	orDefault(&c.TokenLifetime, amlapi.DefaultTokenLifetime)
	if c.TokenLifetime < time.Second {
		// expires_in is whole seconds: a shorter lifetime would say 0,
		// which OAuth2 clients read as "no expiry".
		return bad("TokenLifetime", c.TokenLifetime, "at least 1s")
	}
	orDefault(&c.WebhookTimeout, DefaultWebhookTimeout)
	orDefault(&c.WebhookRetry.Initial, DefaultWebhookRetryInitial)
	orDefault(&c.WebhookRetry.Max, DefaultWebhookRetryMax)
	orDefault(&c.Faults.RetryAfter, DefaultRetryAfter)
	if c.WebhookRetry.Max < c.WebhookRetry.Initial {
		c.WebhookRetry.Max = c.WebhookRetry.Initial
	}
	if c.WebhookRetry.Multiplier == 0 {
		c.WebhookRetry.Multiplier = DefaultWebhookRetryMultiplier
	}
	if c.WebhookRetry.Attempts == 0 {
		c.WebhookRetry.Attempts = DefaultWebhookRetryAttempts
	}
	if c.WebhookWorkers == 0 {
		c.WebhookWorkers = DefaultWebhookWorkers
	}
	if len(c.AllowedScopes) == 0 {
		c.AllowedScopes = knownScopes
	}
	c.AllowedScopes = slices.Clone(c.AllowedScopes)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.WebhookClient == nil {
		c.WebhookClient = &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse // a redirect is a failed delivery
			},
		}
	}
	return c, nil
}

// Validate reports the first invalid field of c, as New would.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// Settings registers every setting of c with its environment variable, its
// flag, its default (the one withDefaults fills in; none where withDefaults
// computes it) and its meaning, for cmd/aml-sandbox. Each value is checked
// as it is read, and a bad one is reported naming the variable and the flag.
func (c *Config) Settings(s *envconfig.Set) {
	s.String(&c.BaseURL, "SANDBOX_BASE_URL", "base-url", "", "base URL in links and the issuer; empty: http://<listen address>")
	s.String(&c.ClientID, "AML_CLIENT_ID", "client-id", DefaultClientID, "the accepted OAuth2 client id")
	s.String(&c.ClientSecret, "AML_CLIENT_SECRET", "client-secret", DefaultClientSecret, "the accepted OAuth2 client secret")
	s.SecretFunc("WEBHOOK_SECRET", "webhook-secret", "sign webhooks with this secret, whsec_<base64> or <base64> (Standard Webhooks); unsigned when empty",
		into(&c.WebhookSecret, parseWebhookSecret))
	s.Func("SANDBOX_ALLOWED_SCOPES", "allowed-scopes", strings.Join(knownScopes, ","), "scopes a token may have, comma separated",
		into(&c.AllowedScopes, parseScopes))
	s.Func("SANDBOX_READY_AFTER", "ready-after", shortDuration(DefaultReadyAfter), "time from create until the JSON is READY",
		into(&c.ReadyAfter, parseDuration))
	s.Func("SANDBOX_REPORT_INTERVAL", "report-interval", "", "each report is READY this long after the entity before it; empty: ready-after/2",
		into(&c.ReportInterval, parseDuration))
	s.Func("SANDBOX_LIFETIME", "lifetime", shortDuration(amlapi.Lifetime), "how long a READY result can be downloaded",
		into(&c.Lifetime, parseDuration))
	s.Func("SANDBOX_TOKEN_LIFETIME", "token-lifetime", shortDuration(amlapi.DefaultTokenLifetime), "lifetime of access tokens",
		into(&c.TokenLifetime, parseDuration))
	s.Func("SANDBOX_NATIONAL_REGISTRY", "national-registry", string(amlapi.AccessGranted), "National Registry access: GRANTED, PENDING or MISSING",
		into(&c.NationalRegistry, parseAccess))
	s.Switch(&c.SSNAccess, "SANDBOX_SSN_ACCESS", "ssn-access", false, "honour the ssn expand (with national-registry GRANTED)")
	s.Func("SANDBOX_REPORT_SIZE", "report-size", "0", "pad PDF reports to about this size (bytes, or with kB, MB, GB, KiB, MiB, GiB); 0: natural size",
		into(&c.ReportSize, parseSize))
	s.Func("SANDBOX_SESSION_SHAPE", "session-shape", string(ShapeModel),
		"shape of GET session answers: model (statuses, links, expiry) or guide (the guides' example: a plain status per entity, no links)",
		into(&c.SessionShape, parseShape))

	f := &c.Faults
	s.Func("SANDBOX_LATENCY", "latency", "0s", "fault: added to every API and token answer", into(&f.Latency, parseDuration))
	s.Func("SANDBOX_CREATE_LATENCY", "create-latency", "0s", "fault: added to every create-session answer, before the session exists",
		into(&f.CreateLatency, parseDuration))
	s.Func("SANDBOX_ERROR_RATE", "error-rate", "0", "fault: share of API calls answered 500 or 503", into(&f.ErrorRate, parseRate))
	s.Func("SANDBOX_RATE_LIMIT_RATE", "rate-limit-rate", "0", "fault: share of API calls answered 429", into(&f.RateLimitRate, parseRate))
	s.Func("SANDBOX_RETRY_AFTER", "retry-after", shortDuration(DefaultRetryAfter), "fault: Retry-After of a 429 (whole seconds)",
		into(&f.RetryAfter, parseDuration))
	s.Func("SANDBOX_FAIL_RATE", "fail-rate", "0", "fault: share of sessions that fail", into(&f.FailRate, parseRate))
	s.Func("SANDBOX_WEBHOOK_DROP_RATE", "webhook-drop-rate", "0", "fault: share of webhooks never sent", into(&f.WebhookDropRate, parseRate))
	s.Func("SANDBOX_WEBHOOK_DUPLICATE_RATE", "webhook-duplicate-rate", "0", "fault: share of webhooks sent twice",
		into(&f.WebhookDuplicateRate, parseRate))
	s.Func("SANDBOX_WEBHOOK_DELAY", "webhook-delay", "0s", "fault: added to the time of every webhook", into(&f.WebhookDelay, parseDuration))
	s.Func("SANDBOX_WEBHOOK_REORDER_RATE", "webhook-reorder-rate", "0", "fault: share of webhooks held back until after the next one",
		into(&f.WebhookReorderRate, parseRate))

	s.Func("SANDBOX_WEBHOOK_TIMEOUT", "webhook-timeout", shortDuration(DefaultWebhookTimeout), "timeout of one webhook delivery attempt",
		into(&c.WebhookTimeout, parseDuration))
	s.Func("SANDBOX_WEBHOOK_RETRY_INITIAL", "webhook-retry-initial", shortDuration(DefaultWebhookRetryInitial),
		"first webhook retry backoff (doubles each time)", into(&c.WebhookRetry.Initial, parseDuration))
	s.Func("SANDBOX_WEBHOOK_ATTEMPTS", "webhook-attempts", strconv.Itoa(DefaultWebhookRetryAttempts), "webhook delivery attempts in all",
		into(&c.WebhookRetry.Attempts, parseAttempts))
	s.Func("SANDBOX_SEED", "seed", "0", "seed of the fault knobs' randomness", into(&c.Seed, parseSeed))
}

// into makes an envconfig parse function that stores parse's result in *p.
func into[T any](p *T, parse func(string) (T, error)) func(string) error {
	return func(v string) (err error) {
		*p, err = parse(v)
		return err
	}
}

func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration ≥ 0 like 500ms or 2h", v)
	}
	return d, nil
}

func parseRate(v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f >= 0 && f <= 1) { // also rejects NaN
		return 0, fmt.Errorf("%q is not a probability from 0 to 1", v)
	}
	return f, nil
}

func parseWebhookSecret(v string) (string, error) {
	if v != "" {
		if _, err := amlapi.ParseWebhookSecret(v); err != nil {
			return "", err
		}
	}
	return v, nil
}

func parseScopes(v string) ([]string, error) {
	scopes := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
	for _, sc := range scopes {
		if !slices.Contains(knownScopes, sc) {
			return nil, fmt.Errorf("unknown scope %q, want some of %q", sc, knownScopes)
		}
	}
	if len(scopes) == 0 {
		return nil, fmt.Errorf("no scope in %q", v)
	}
	return scopes, nil
}

func parseAccess(v string) (amlapi.NationalRegistryAccess, error) {
	switch a := amlapi.NationalRegistryAccess(strings.ToUpper(v)); a {
	case amlapi.AccessGranted, amlapi.AccessPending, amlapi.AccessMissing:
		return a, nil
	}
	return "", fmt.Errorf("%q is not GRANTED, PENDING or MISSING", v)
}

func parseShape(v string) (SessionShape, error) {
	switch sh := SessionShape(v); sh {
	case ShapeModel, ShapeGuide:
		return sh, nil
	}
	return "", fmt.Errorf("%q is not %s or %s", v, ShapeModel, ShapeGuide)
}

func parseAttempts(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q is not a whole number ≥ 1", v)
	}
	return n, nil
}

func parseSeed(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number", v)
	}
	return n, nil
}

// parseSize reads a byte size: 1000, 100kB, 100MB, 1GB, 64KiB, 100MiB.
func parseSize(v string) (int64, error) {
	s := strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a size ≥ 0 like 100MB or 64KiB", v)
	}
	return n * mult, nil
}

// shortDuration writes 2h for 2h0m0s, as a default in help.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// backoff is the wait after failed attempt n (1-based).
func (p RetryPolicy) backoff(n int) time.Duration {
	d := float64(p.Initial) * math.Pow(p.Multiplier, float64(n-1))
	if d > float64(p.Max) {
		return p.Max
	}
	return time.Duration(d)
}

// retryAfterSeconds is the Retry-After header value: whole seconds, at
// least 1.
func (f Faults) retryAfterSeconds() int64 {
	s := int64((f.RetryAfter + time.Second - 1) / time.Second)
	return max(s, 1)
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}
