package amlapi

// The AML API group of settings (AML_API_URL, AML_ISSUER_URL, ...,
// AML_RATE_LIMIT), declared here once (see internal/envconfig, Groups).

import (
	"log/slog"
	"slices"
	"time"

	"golang.org/x/time/rate"

	"github.com/kybflow/kybflow/internal/envconfig"
)

// The words of AML_CLIENT_AUTH.
const (
	SettingAuthBasic = "basic" // ClientSecretBasic, the default
	SettingAuthPost  = "post"  // ClientSecretPost
)

// Settings are how a program reaches the AML API: the parts of Config an
// operator sets.
type Settings struct {
	APIURL       string        // AML_API_URL: Config.BaseURL
	IssuerURL    string        // AML_ISSUER_URL
	TokenURL     string        // AML_TOKEN_URL
	ClientID     string        // AML_CLIENT_ID
	ClientSecret string        // AML_CLIENT_SECRET; never shown
	Scopes       []string      // AML_SCOPES
	ClientAuth   string        // AML_CLIENT_AUTH: SettingAuthBasic or SettingAuthPost
	RetryBudget  time.Duration // AML_RETRY_MAX_ELAPSED: Config.Retry.MaxElapsedTime
	RateLimit    float64       // AML_RATE_LIMIT, requests per second
}

// DefaultSettings are Config's defaults: DefaultScopes, basic
// authentication, DefaultMaxElapsedTime and DefaultRateLimit; nothing says
// where the API is yet.
func DefaultSettings() Settings {
	return Settings{
		Scopes: DefaultScopes(), ClientAuth: SettingAuthBasic,
		RetryBudget: DefaultMaxElapsedTime, RateLimit: float64(DefaultRateLimit),
	}
}

// Register registers every setting, with the values a holds as their
// defaults.
func (a *Settings) Register(s *envconfig.Set) {
	s.String(&a.APIURL, "AML_API_URL", "api-url", a.APIURL, "BankID AML API base URL, e.g. https://aml-current.bankidapis.no (required)")
	s.String(&a.IssuerURL, "AML_ISSUER_URL", "issuer-url", a.IssuerURL, "OpenID issuer; the token endpoint is discovered from it (this or AML_TOKEN_URL is required)")
	s.String(&a.TokenURL, "AML_TOKEN_URL", "token-url", a.TokenURL, "OAuth2 token endpoint; wins over AML_ISSUER_URL")
	s.String(&a.ClientID, "AML_CLIENT_ID", "client-id", a.ClientID, "OAuth2 client id (required)")
	s.Secret(&a.ClientSecret, "AML_CLIENT_SECRET", "client-secret", "OAuth2 client secret (required)")
	s.List(&a.Scopes, "AML_SCOPES", "scopes", a.Scopes, "OAuth2 scopes, comma- or space-separated (add "+ScopeOFAC+" for sanction.ofac)")
	s.String(&a.ClientAuth, "AML_CLIENT_AUTH", "client-auth", a.ClientAuth, "how the client authenticates at the token endpoint: basic or post")
	s.Duration(&a.RetryBudget, "AML_RETRY_MAX_ELAPSED", "retry-max-elapsed", a.RetryBudget, "how long one AML API call retries transient errors before the message is retried later")
	s.Float(&a.RateLimit, "AML_RATE_LIMIT", "rate-limit", a.RateLimit, "cap on our requests per second to the AML API, per worker")
}

// Check reports every problem of a, each naming its variable.
func (a Settings) Check(ck *envconfig.Checker) {
	ck.Require("AML_API_URL", a.APIURL)
	ck.URL("AML_API_URL", a.APIURL, "https", "http")
	ck.Check(a.IssuerURL != "" || a.TokenURL != "", "AML_ISSUER_URL", "set AML_ISSUER_URL or AML_TOKEN_URL")
	ck.URL("AML_ISSUER_URL", a.IssuerURL, "https", "http")
	ck.URL("AML_TOKEN_URL", a.TokenURL, "https", "http")
	ck.Require("AML_CLIENT_ID", a.ClientID)
	ck.Require("AML_CLIENT_SECRET", a.ClientSecret)
	ck.Check(len(a.Scopes) > 0, "AML_SCOPES", "at least one scope is needed")
	ck.Check(slices.Contains([]string{SettingAuthBasic, SettingAuthPost}, a.ClientAuth), "AML_CLIENT_AUTH", "%q is not basic or post", a.ClientAuth)
	ck.Check(a.RetryBudget > 0, "AML_RETRY_MAX_ELAPSED", "must be positive, got %s", a.RetryBudget)
	ck.Check(a.RateLimit > 0, "AML_RATE_LIMIT", "must be positive, got %g", a.RateLimit)
}

// Config is the client configuration of a; the caller adds the HTTP client
// and the logger.
func (a Settings) Config() Config {
	auth := ClientSecretBasic
	if a.ClientAuth == SettingAuthPost {
		auth = ClientSecretPost
	}
	return Config{
		BaseURL: a.APIURL, IssuerURL: a.IssuerURL, TokenURL: a.TokenURL,
		ClientID: a.ClientID, ClientSecret: a.ClientSecret, ClientAuth: auth, Scopes: a.Scopes,
		RateLimit: rate.Limit(a.RateLimit), Retry: RetryPolicy{MaxElapsedTime: a.RetryBudget},
	}
}

// LogValue shows where the API is and who the client is, never the secret.
func (a Settings) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("api_url", a.APIURL), slog.String("issuer_url", a.IssuerURL), slog.String("token_url", a.TokenURL),
		slog.String("client_id", a.ClientID), slog.Bool("client_secret_set", a.ClientSecret != ""),
		slog.Any("scopes", a.Scopes), slog.String("client_auth", a.ClientAuth),
		slog.Duration("retry_max_elapsed", a.RetryBudget), slog.Float64("rate_limit", a.RateLimit),
	)
}

// String is LogValue's text, so that printing a shows no secret either.
func (a Settings) String() string { return a.LogValue().String() }
