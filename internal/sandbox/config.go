package sandbox

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
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
	// it webhooks are sent unsigned. Several, separated by spaces or
	// commas, sign each webhook with each (a rotation).
	WebhookSecret string
	// WebhookAuth is how webhooks are authenticated (a WebhookAuth value,
	// webhook_auth.go); empty: standard-webhooks with WebhookSecret, none
	// without.
	WebhookAuth WebhookAuth
	// WebhookBearerToken is the static token of bearer-token webhooks (the
	// first, when several are given separated by spaces or commas).
	WebhookBearerToken string
	// WebhookJWTAudience is the aud of bearer-jwt webhooks (default: the
	// ClientID). Their iss is the issuer, BaseURL+IssuerPath.
	WebhookJWTAudience string
	// OIDCRoleClaim is the claim of the ID tokens of the OIDC login that
	// lists the user's roles (default DefaultOIDCRoleClaim, kybflow_roles).
	OIDCRoleClaim string
	// OIDCRedirectURIs are the redirect URIs the OIDC login accepts for
	// the client; none: any absolute http(s) URL (a sandbox, not a server
	// to expose).
	OIDCRedirectURIs []string
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
	// SigningCert and SigningKey sign the PDF reports; both or neither.
	// SigningCert is PEM certificates: the signing certificate, then its
	// issuers up to the trust anchor, the last one, served at CAPath.
	// SigningKey is the PEM private key of the first (ECDSA P-256 or RSA of
	// at least 2048 bits). Neither: New generates a test CA.
	SigningCert []byte
	SigningKey  SecretPEM
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
	if (len(c.SigningCert) == 0) != (len(c.SigningKey) == 0) {
		return Config{}, fmt.Errorf("%w: SigningCert (SANDBOX_SIGNING_CERT) and SigningKey (SANDBOX_SIGNING_KEY) go together: set both or neither",
			ErrInvalidConfig)
	}
	if len(c.SigningCert) > 0 {
		if _, _, err := parseSigning(c.SigningCert, c.SigningKey); err != nil {
			return Config{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
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
		if _, err := amlapi.ParseWebhookSecrets(c.WebhookSecret); err != nil {
			return bad("WebhookSecret", "(redacted)", "whsec_<base64> or <base64>: "+err.Error())
		}
	}
	if err := c.checkWebhookAuth(); err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
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
	if c.OIDCRoleClaim == "" {
		c.OIDCRoleClaim = DefaultOIDCRoleClaim
	}
	c.OIDCRedirectURIs = slices.Clone(c.OIDCRedirectURIs)
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

// backoff is the wait after failed attempt n (1-based).
func (p RetryPolicy) backoff(n int) time.Duration {
	d := float64(p.Initial) * math.Pow(p.Multiplier, float64(n-1))
	if d > float64(p.Max) {
		return p.Max
	}
	return time.Duration(d)
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}
