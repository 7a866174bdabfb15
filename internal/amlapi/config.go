package amlapi

// The client's configuration: validated once, defaults filled in, and its
// HTTP client.

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// ClientAuth is how the client authenticates at the token endpoint.
type ClientAuth string

// The client authentication methods (the OpenID names).
const (
	// ClientSecretBasic sends the client id and secret with HTTP Basic
	// authentication (oauth2.AuthStyleInHeader). The default.
	ClientSecretBasic ClientAuth = "client_secret_basic"
	// ClientSecretPost sends them in the form (oauth2.AuthStyleInParams).
	ClientSecretPost ClientAuth = "client_secret_post"
)

// Defaults of the optional Config fields.
const (
	DefaultTokenRefreshMargin = 30 * time.Second
	DefaultRequestTimeout     = 30 * time.Second
	DefaultInitialInterval    = 200 * time.Millisecond
	DefaultMaxInterval        = 10 * time.Second
	DefaultMaxElapsedTime     = time.Minute
	DefaultMaxAttempts        = 8
	// DefaultRateLimit and DefaultRateBurst cap our own request rate. The
	// API publishes no limit; 20 requests a second is far above what one
	// worker needs and low enough not to hammer the API in a retry storm.
	DefaultRateLimit rate.Limit = 20
	DefaultRateBurst int        = 10
)

// DefaultScopes are the scopes requested when Config.Scopes is empty.
func DefaultScopes() []string { return []string{ScopeBasic} }

// Config configures a Client. Optional fields left zero take the defaults
// named in their comments.
type Config struct {
	// BaseURL is the API's base URL, e.g. https://aml.bankidapis.no.
	// Required: an absolute http or https URL.
	BaseURL string

	// IssuerURL is the OpenID issuer, e.g.
	// https://oidc.bankidapis.no/auth/realms/prod. The token endpoint is
	// discovered from IssuerURL + WellKnownPath on the first request.
	IssuerURL string
	// TokenURL is the token endpoint. When set, it wins over IssuerURL and
	// nothing is discovered. One of IssuerURL and TokenURL is required.
	TokenURL string
	// ClientID and ClientSecret are the client credentials. Required.
	ClientID     string
	ClientSecret string
	// ClientAuth is how they are sent: ClientSecretBasic (default) or
	// ClientSecretPost.
	ClientAuth ClientAuth
	// Scopes are the scopes to request; default DefaultScopes().
	Scopes []string
	// TokenRefreshMargin: a token is replaced this long before it expires,
	// but no earlier than half its lifetime. Default
	// DefaultTokenRefreshMargin.
	TokenRefreshMargin time.Duration

	// HTTPClient makes every request (API, discovery, token). Default: one
	// built by NewHTTPClient. A Timeout on it also cuts long downloads;
	// prefer the timeouts of its transport and RequestTimeout.
	HTTPClient *http.Client
	// RequestTimeout bounds one attempt of a call, token fetch included:
	// until the whole answer is read, or for Download until the headers
	// have arrived (the body is then bounded only by the caller's
	// context). Default DefaultRequestTimeout.
	RequestTimeout time.Duration

	// Retry says how transient failures are retried.
	Retry RetryPolicy

	// RateLimit caps our request rate to the API, in requests per second;
	// every attempt waits for it. Zero means DefaultRateLimit; rate.Inf
	// means no limit.
	RateLimit rate.Limit
	// RateBurst is how many requests may go at once; default
	// DefaultRateBurst.
	RateBurst int

	// Logger receives retries, duplicate-session warnings and token
	// fetches. Default: discard.
	Logger *slog.Logger
}

// RetryPolicy bounds the retries of transient failures: exponential backoff
// with jitter, from InitialInterval up to MaxInterval between attempts, for
// at most MaxAttempts attempts and MaxElapsedTime in all. A Retry-After
// longer than the backoff is waited instead; one that would end past
// MaxElapsedTime or the context's deadline ends the retries at once.
type RetryPolicy struct {
	InitialInterval time.Duration // default DefaultInitialInterval
	MaxInterval     time.Duration // default DefaultMaxInterval
	MaxElapsedTime  time.Duration // default DefaultMaxElapsedTime
	// MaxAttempts counts the first attempt too; 1 disables retries.
	// Default DefaultMaxAttempts. The one retry after a 401 with a fresh
	// token is part of its attempt.
	MaxAttempts int
}

// Validate reports every problem of c, each naming its field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.BaseURL == "" {
		bad("BaseURL is required")
	} else if err := checkHTTPURL(c.BaseURL); err != nil {
		bad("BaseURL: %w", err)
	} else if u, _ := url.Parse(c.BaseURL); u.RawQuery != "" || u.Fragment != "" {
		bad("BaseURL %q must not have a query or fragment", c.BaseURL)
	}
	switch {
	case c.TokenURL != "":
		if err := checkHTTPURL(c.TokenURL); err != nil {
			bad("TokenURL: %w", err)
		}
	case c.IssuerURL != "":
		if err := checkHTTPURL(c.IssuerURL); err != nil {
			bad("IssuerURL: %w", err)
		}
	default:
		bad("IssuerURL or TokenURL is required")
	}
	if c.ClientID == "" {
		bad("ClientID is required")
	}
	if c.ClientSecret == "" {
		bad("ClientSecret is required")
	}
	switch c.ClientAuth {
	case "", ClientSecretBasic, ClientSecretPost:
	default:
		bad("ClientAuth %q is not %s or %s", c.ClientAuth, ClientSecretBasic, ClientSecretPost)
	}
	for _, s := range c.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			bad("Scopes: %q is not a scope", s)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"TokenRefreshMargin", c.TokenRefreshMargin},
		{"RequestTimeout", c.RequestTimeout},
		{"Retry.InitialInterval", c.Retry.InitialInterval},
		{"Retry.MaxInterval", c.Retry.MaxInterval},
		{"Retry.MaxElapsedTime", c.Retry.MaxElapsedTime},
	} {
		if d.v < 0 {
			bad("%s must not be negative, got %s", d.name, d.v)
		}
	}
	if c.Retry.MaxAttempts < 0 {
		bad("Retry.MaxAttempts must not be negative, got %d", c.Retry.MaxAttempts)
	}
	if c.Retry.InitialInterval > 0 && c.Retry.MaxInterval > 0 && c.Retry.InitialInterval > c.Retry.MaxInterval {
		bad("Retry.InitialInterval %s is longer than Retry.MaxInterval %s", c.Retry.InitialInterval, c.Retry.MaxInterval)
	}
	if c.RateLimit < 0 {
		bad("RateLimit must not be negative (rate.Inf means no limit), got %v", c.RateLimit)
	}
	if c.RateBurst < 0 {
		bad("RateBurst must not be negative, got %d", c.RateBurst)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("amlapi config: %w", err)
	}
	return nil
}

// withDefaults returns c with every zero optional field set.
func (c Config) withDefaults() Config {
	if c.ClientAuth == "" {
		c.ClientAuth = ClientSecretBasic
	}
	if len(c.Scopes) == 0 {
		c.Scopes = DefaultScopes()
	}
	if c.TokenRefreshMargin == 0 {
		c.TokenRefreshMargin = DefaultTokenRefreshMargin
	}
	if c.HTTPClient == nil {
		c.HTTPClient = NewHTTPClient()
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.Retry.InitialInterval == 0 {
		c.Retry.InitialInterval = DefaultInitialInterval
	}
	if c.Retry.MaxInterval == 0 {
		c.Retry.MaxInterval = max(DefaultMaxInterval, c.Retry.InitialInterval)
	}
	if c.Retry.MaxElapsedTime == 0 {
		c.Retry.MaxElapsedTime = DefaultMaxElapsedTime
	}
	if c.Retry.MaxAttempts == 0 {
		c.Retry.MaxAttempts = DefaultMaxAttempts
	}
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.RateBurst == 0 {
		c.RateBurst = DefaultRateBurst
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// maxIdleConnsPerHost is above the handlers a worker runs at once with
// default settings (three roles of WORKER_CONCURRENCY 8) and those of a
// busy one.
const maxIdleConnsPerHost = 128

// NewHTTPClient returns the default HTTP client: no overall timeout (it
// would cut long downloads), but bounded dialing, TLS handshakes and waits
// for response headers.
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = DefaultRequestTimeout
	// Keep a connection per concurrent request: with Go's default of two
	// idle connections per host, every handler beyond two dials anew (and
	// does a TLS handshake) for each call.
	t.MaxIdleConnsPerHost = maxIdleConnsPerHost
	return &http.Client{Transport: t}
}
