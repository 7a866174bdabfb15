// Tests of Config validation and of what New sets up by default.

package amlapi

import (
	"strings"
	"testing"
	"time"
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
