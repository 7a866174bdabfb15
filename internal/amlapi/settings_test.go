package amlapi

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/kybflow/kybflow/internal/envconfig"
)

func TestSettingsDefaultsAreTheClients(t *testing.T) {
	a := DefaultSettings()
	s := envconfig.New("test", envconfig.MapLookup(nil), io.Discard)
	a.Register(s)
	if err := s.Parse(nil); err != nil {
		t.Fatal(err)
	}
	cfg := a.Config()
	def := (Config{}).withDefaults()
	if cfg.ClientAuth != def.ClientAuth || !slices.Equal(cfg.Scopes, def.Scopes) || cfg.RateLimit != def.RateLimit ||
		cfg.Retry.MaxElapsedTime != def.Retry.MaxElapsedTime {
		t.Errorf("the settings' defaults make %+v; the client's are %+v", cfg, def)
	}
	for _, want := range []string{"| `AML_RETRY_MAX_ELAPSED` | `--retry-max-elapsed` | `1m0s` |", "| `AML_RATE_LIMIT` | `--rate-limit` | `20` |",
		"| `AML_CLIENT_AUTH` | `--client-auth` | `basic` |", "| `AML_SCOPES` | `--scopes` | `" + ScopeBasic + "` |"} {
		if !strings.Contains(s.Markdown(), want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
}

func TestSettingsCheckAndConfig(t *testing.T) {
	env := map[string]string{
		"AML_API_URL": "https://aml.example", "AML_TOKEN_URL": "https://oidc.example/token", "AML_CLIENT_ID": "id",
		"AML_CLIENT_SECRET": "hunter2", "AML_CLIENT_AUTH": "post", "AML_SCOPES": ScopeBasic + " " + ScopeOFAC,
		"AML_RETRY_MAX_ELAPSED": "30s", "AML_RATE_LIMIT": "5",
	}
	a := DefaultSettings()
	s := envconfig.New("test", envconfig.MapLookup(env), io.Discard)
	a.Register(s)
	if err := s.Parse(nil); err != nil {
		t.Fatal(err)
	}
	var ck envconfig.Checker
	a.Check(&ck)
	if err := ck.Err(); err != nil {
		t.Fatal(err)
	}
	cfg := a.Config()
	if cfg.BaseURL != "https://aml.example" || cfg.TokenURL != "https://oidc.example/token" || cfg.ClientSecret != "hunter2" ||
		cfg.ClientAuth != ClientSecretPost || len(cfg.Scopes) != 2 || cfg.Retry.MaxElapsedTime != 30*time.Second || cfg.RateLimit != rate.Limit(5) {
		t.Errorf("config %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("the config of valid settings: %v", err)
	}
	if strings.Contains(a.String(), "hunter2") || strings.Contains(fmt.Sprint(a), "hunter2") {
		t.Errorf("settings show the secret: %s", a)
	}

	for _, tc := range []struct {
		change func(*Settings)
		want   string
	}{
		{func(a *Settings) { a.APIURL = "" }, "AML_API_URL is required"},
		{func(a *Settings) { a.APIURL = "aml.example" }, "AML_API_URL"},
		{func(a *Settings) { a.TokenURL = "" }, "AML_ISSUER_URL: set AML_ISSUER_URL or AML_TOKEN_URL"},
		{func(a *Settings) { a.ClientSecret = "" }, "AML_CLIENT_SECRET is required"},
		{func(a *Settings) { a.Scopes = nil }, "AML_SCOPES"},
		{func(a *Settings) { a.ClientAuth = "jwt" }, `AML_CLIENT_AUTH: "jwt" is not basic or post`},
		{func(a *Settings) { a.RetryBudget = 0 }, "AML_RETRY_MAX_ELAPSED: must be positive"},
		{func(a *Settings) { a.RateLimit = 0 }, "AML_RATE_LIMIT: must be positive"},
	} {
		b := a
		tc.change(&b)
		var ck envconfig.Checker
		b.Check(&ck)
		if err := ck.Err(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v, want %q", err, tc.want)
		}
	}
}
