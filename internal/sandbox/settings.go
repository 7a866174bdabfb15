package sandbox

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/envconfig"
	"github.com/kybflow/kybflow/internal/logging"
)

// Settings: Config read from environment variables and flags, for cmd/aml-sandbox.

// Settings registers every setting of c with its environment variable, its
// flag, its default (the one withDefaults fills in; none where withDefaults
// computes it) and its meaning, for cmd/aml-sandbox. Each value is checked
// as it is read, and a bad one is reported naming the variable and the flag.
func (c *Config) Settings(s *envconfig.Set) {
	s.String(&c.BaseURL, "SANDBOX_BASE_URL", "base-url", "", "base URL in links and the issuer; empty: http://<listen address>")
	s.String(&c.ClientID, "AML_CLIENT_ID", "client-id", DefaultClientID, "the accepted OAuth2 client id")
	s.String(&c.ClientSecret, "AML_CLIENT_SECRET", "client-secret", DefaultClientSecret, "the accepted OAuth2 client secret")
	s.SecretFunc("WEBHOOK_SECRET", "webhook-secret", "sign webhooks with this secret, whsec_<base64> or <base64> (Standard Webhooks; several, separated by spaces or commas, sign with each); unsigned when empty",
		into(&c.WebhookSecret, parseWebhookSecret))
	s.Func("SANDBOX_WEBHOOK_AUTH", "webhook-auth", "", "how webhooks are authenticated: standard-webhooks (WEBHOOK_SECRET), bearer-token (WEBHOOK_BEARER_TOKEN), bearer-jwt (a JWT signed with the key at the issuer's JWKS) or none; empty: standard-webhooks with WEBHOOK_SECRET, none without",
		into(&c.WebhookAuth, parseWebhookAuth))
	s.Secret(&c.WebhookBearerToken, "WEBHOOK_BEARER_TOKEN", "webhook-bearer-token", "bearer-token: the token webhooks carry (the first, when several are given)")
	s.String(&c.OIDCRoleClaim, "SANDBOX_OIDC_ROLE_CLAIM", "oidc-role-claim", DefaultOIDCRoleClaim, "OIDC login: the ID token claim listing the user's roles")
	s.List(&c.OIDCRedirectURIs, "SANDBOX_OIDC_REDIRECT_URIS", "oidc-redirect-uris", nil, "OIDC login: the redirect URIs accepted, comma separated; empty: any http(s) URL")
	s.String(&c.WebhookJWTAudience, "SANDBOX_WEBHOOK_JWT_AUDIENCE", "webhook-jwt-audience", "", "bearer-jwt: the aud of the webhooks' JWTs; empty: the client id")
	s.Func("SANDBOX_ALLOWED_SCOPES", "allowed-scopes", strings.Join(knownScopes, ","), "scopes a token may have, comma separated",
		into(&c.AllowedScopes, parseScopes))
	c.RegisterReadyAfter(s)
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
	s.Func("SANDBOX_SIGNING_CERT", "signing-cert", "",
		"PEM file: the certificate that signs PDF reports, then its chain up to the trust anchor served at /_sandbox/ca.pem; with signing-key; empty: a generated test CA",
		into(&c.SigningCert, readPEMFile(func(b []byte) error { _, err := parseCertificates(b); return err })))
	s.Func("SANDBOX_SIGNING_KEY", "signing-key", "", "PEM file: the private key of signing-cert (ECDSA P-256 or RSA ≥ 2048 bits)",
		into(&c.SigningKey, func(v string) (SecretPEM, error) {
			return readPEMFile(func(b []byte) error { _, err := parsePrivateKey(b); return err })(v)
		}))
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

// RegisterReadyAfter registers SANDBOX_READY_AFTER alone, for a program
// that runs the sandbox with its other settings its own (development mode).
func (c *Config) RegisterReadyAfter(s *envconfig.Set) {
	s.Func("SANDBOX_READY_AFTER", "ready-after", shortDuration(DefaultReadyAfter), "time from create until the JSON is READY",
		into(&c.ReadyAfter, parseDuration))
}

// Logging is the logging group of the sandbox program: its level alone,
// read from SANDBOX_LOG_LEVEL (the sandbox runs beside the worker in one
// environment in tests and development, and must not take its LOG_LEVEL),
// in text for people.
func Logging() logging.Settings {
	return logging.Settings{Prefix: "SANDBOX_", Format: "text", Level: logging.DefaultLevel}
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
		if _, err := amlapi.ParseWebhookSecrets(v); err != nil {
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
