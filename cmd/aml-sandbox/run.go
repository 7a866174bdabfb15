package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox"
)

// settings is the whole configuration of the program.
type settings struct {
	listen   string
	logLevel slog.Level
	cfg      sandbox.Config
}

// option is one setting: a flag, its environment variable and its default.
// A flag given on the command line beats the variable, which beats the
// default.
type option struct {
	flag, env, def, usage string
	isBool                bool
	apply                 func(s *settings, v string) error
}

// value is a flag.Value that only remembers the text it was given.
type value struct {
	s      string
	set    bool
	isBool bool
}

func (v *value) String() string     { return v.s }
func (v *value) Set(s string) error { v.s, v.set = s, true; return nil }
func (v *value) IsBoolFlag() bool   { return v.isBool }

func options() []option {
	dur := func(dst func(*settings) *time.Duration) func(*settings, string) error {
		return func(s *settings, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return err
			}
			if d < 0 {
				return errors.New("must not be negative")
			}
			*dst(s) = d
			return nil
		}
	}
	rate := func(dst func(*settings) *float64) func(*settings, string) error {
		return func(s *settings, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return err
			}
			if !(f >= 0 && f <= 1) {
				return errors.New("want a probability from 0 to 1")
			}
			*dst(s) = f
			return nil
		}
	}
	str := func(dst func(*settings) *string) func(*settings, string) error {
		return func(s *settings, v string) error { *dst(s) = v; return nil }
	}
	return []option{
		{flag: "listen", env: "SANDBOX_LISTEN", def: "127.0.0.1:8480", usage: "address to listen on (port 0: any free port)",
			apply: str(func(s *settings) *string { return &s.listen })},
		{flag: "base-url", env: "SANDBOX_BASE_URL", usage: "base URL in links and the issuer (default http://<listen address>)",
			apply: str(func(s *settings) *string { return &s.cfg.BaseURL })},
		{flag: "client-id", env: "AML_CLIENT_ID", def: sandbox.DefaultClientID, usage: "the accepted OAuth2 client id",
			apply: str(func(s *settings) *string { return &s.cfg.ClientID })},
		{flag: "client-secret", env: "AML_CLIENT_SECRET", def: sandbox.DefaultClientSecret, usage: "the accepted OAuth2 client secret",
			apply: str(func(s *settings) *string { return &s.cfg.ClientSecret })},
		{flag: "webhook-secret", env: "WEBHOOK_SECRET", usage: "sign webhooks with this secret, whsec_<base64> or <base64> (Standard Webhooks); unsigned when empty",
			apply: func(s *settings, v string) error {
				if v != "" {
					if _, err := amlapi.ParseWebhookSecret(v); err != nil {
						return err
					}
				}
				s.cfg.WebhookSecret = v
				return nil
			}},
		{flag: "allowed-scopes", env: "SANDBOX_ALLOWED_SCOPES",
			usage: "scopes a token may have, comma separated (default: all three)",
			apply: func(s *settings, v string) error {
				s.cfg.AllowedScopes = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
				for _, sc := range s.cfg.AllowedScopes {
					switch sc {
					case amlapi.ScopeBasic, amlapi.ScopeOFAC, amlapi.ScopeFinancialsCredit:
					default:
						return fmt.Errorf("unknown scope %q", sc)
					}
				}
				if len(s.cfg.AllowedScopes) == 0 {
					return errors.New("no scope")
				}
				return nil
			}},
		{flag: "ready-after", env: "SANDBOX_READY_AFTER", def: "2s", usage: "time from create until the JSON is READY",
			apply: dur(func(s *settings) *time.Duration { return &s.cfg.ReadyAfter })},
		{flag: "report-interval", env: "SANDBOX_REPORT_INTERVAL", usage: "each report is READY this long after the entity before it (default ready-after/2)",
			apply: dur(func(s *settings) *time.Duration { return &s.cfg.ReportInterval })},
		{flag: "lifetime", env: "SANDBOX_LIFETIME", def: shortDuration(amlapi.Lifetime), usage: "how long a READY result can be downloaded",
			apply: dur(func(s *settings) *time.Duration { return &s.cfg.Lifetime })},
		{flag: "token-lifetime", env: "SANDBOX_TOKEN_LIFETIME", def: shortDuration(amlapi.DefaultTokenLifetime), usage: "lifetime of access tokens",
			apply: dur(func(s *settings) *time.Duration { return &s.cfg.TokenLifetime })},
		{flag: "national-registry", env: "SANDBOX_NATIONAL_REGISTRY", def: string(amlapi.AccessGranted),
			usage: "National Registry access: GRANTED, PENDING or MISSING",
			apply: func(s *settings, v string) error {
				a := amlapi.NationalRegistryAccess(strings.ToUpper(v))
				switch a {
				case amlapi.AccessGranted, amlapi.AccessPending, amlapi.AccessMissing:
					s.cfg.NationalRegistry = a
					return nil
				}
				return errors.New("want GRANTED, PENDING or MISSING")
			}},
		{flag: "ssn-access", env: "SANDBOX_SSN_ACCESS", def: "false", isBool: true, usage: "honour the ssn expand (with national-registry GRANTED)",
			apply: func(s *settings, v string) (err error) { s.cfg.SSNAccess, err = strconv.ParseBool(v); return err }},
		{flag: "report-size", env: "SANDBOX_REPORT_SIZE", def: "0", usage: "pad PDF reports to about this size (bytes, or with kB, MB, GB, KiB, MiB, GiB); 0: natural size",
			apply: func(s *settings, v string) (err error) { s.cfg.ReportSize, err = parseSize(v); return err }},
		{flag: "session-shape", env: "SANDBOX_SESSION_SHAPE", def: "model", usage: "shape of GET session answers: model (statuses, links, expiry) or guide (the guides' example: a plain status per entity, no links)",
			apply: func(s *settings, v string) error {
				switch sh := sandbox.SessionShape(v); sh {
				case sandbox.ShapeModel, sandbox.ShapeGuide:
					s.cfg.SessionShape = sh
					return nil
				}
				return errors.New("want model or guide")
			}},
		{flag: "latency", env: "SANDBOX_LATENCY", def: "0s", usage: "fault: added to every API and token answer",
			apply: dur(func(s *settings) *time.Duration { return &s.cfg.Faults.Latency })},
		{flag: "create-latency", env: "SANDBOX_CREATE_LATENCY", def: "0s", usage: "fault: added to every create-session answer, before the session exists",
			apply: dur(func(s *settings) *time.Duration { return &s.cfg.Faults.CreateLatency })},
		{flag: "error-rate", env: "SANDBOX_ERROR_RATE", def: "0", usage: "fault: share of API calls answered 500 or 503",
			apply: rate(func(s *settings) *float64 { return &s.cfg.Faults.ErrorRate })},
		{flag: "rate-limit-rate", env: "SANDBOX_RATE_LIMIT_RATE", def: "0", usage: "fault: share of API calls answered 429",
			apply: rate(func(s *settings) *float64 { return &s.cfg.Faults.RateLimitRate })},
		{flag: "retry-after", env: "SANDBOX_RETRY_AFTER", def: "1s", usage: "fault: Retry-After of a 429 (whole seconds)",
			apply: dur(func(s *settings) *time.Duration { return &s.cfg.Faults.RetryAfter })},
		{flag: "fail-rate", env: "SANDBOX_FAIL_RATE", def: "0", usage: "fault: share of sessions that fail",
			apply: rate(func(s *settings) *float64 { return &s.cfg.Faults.FailRate })},
		{flag: "webhook-drop-rate", env: "SANDBOX_WEBHOOK_DROP_RATE", def: "0", usage: "fault: share of webhooks never sent",
			apply: rate(func(s *settings) *float64 { return &s.cfg.Faults.WebhookDropRate })},
		{flag: "webhook-duplicate-rate", env: "SANDBOX_WEBHOOK_DUPLICATE_RATE", def: "0", usage: "fault: share of webhooks sent twice",
			apply: rate(func(s *settings) *float64 { return &s.cfg.Faults.WebhookDuplicateRate })},
		{flag: "webhook-delay", env: "SANDBOX_WEBHOOK_DELAY", def: "0s", usage: "fault: added to the time of every webhook",
			apply: dur(func(s *settings) *time.Duration { return &s.cfg.Faults.WebhookDelay })},
		{flag: "webhook-reorder-rate", env: "SANDBOX_WEBHOOK_REORDER_RATE", def: "0", usage: "fault: share of webhooks held back until after the next one",
			apply: rate(func(s *settings) *float64 { return &s.cfg.Faults.WebhookReorderRate })},
		{flag: "webhook-timeout", env: "SANDBOX_WEBHOOK_TIMEOUT", def: sandbox.DefaultWebhookTimeout.String(), usage: "timeout of one webhook delivery attempt",
			apply: dur(func(s *settings) *time.Duration { return &s.cfg.WebhookTimeout })},
		{flag: "webhook-retry-initial", env: "SANDBOX_WEBHOOK_RETRY_INITIAL", def: sandbox.DefaultWebhookRetryInitial.String(), usage: "first webhook retry backoff (doubles each time)",
			apply: dur(func(s *settings) *time.Duration { return &s.cfg.WebhookRetry.Initial })},
		{flag: "webhook-attempts", env: "SANDBOX_WEBHOOK_ATTEMPTS", def: strconv.Itoa(sandbox.DefaultWebhookRetryAttempts), usage: "webhook delivery attempts in all",
			apply: func(s *settings, v string) error {
				n, err := strconv.Atoi(v)
				if err == nil && n < 1 {
					err = errors.New("want at least 1")
				}
				s.cfg.WebhookRetry.Attempts = n
				return err
			}},
		{flag: "seed", env: "SANDBOX_SEED", def: "0", usage: "seed of the fault knobs' randomness",
			apply: func(s *settings, v string) (err error) { s.cfg.Seed, err = strconv.ParseInt(v, 10, 64); return err }},
		{flag: "log-level", env: "SANDBOX_LOG_LEVEL", def: "info", usage: "debug, info, warn or error",
			apply: func(s *settings, v string) error { return s.logLevel.UnmarshalText([]byte(v)) }},
	}
}

// shortDuration writes 2h for 2h0m0s.
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
	if err != nil {
		return 0, fmt.Errorf("not a size: %q", v)
	}
	if n < 0 {
		return 0, errors.New("must not be negative")
	}
	return n * mult, nil
}

// parseSettings reads flags, then environment variables, then defaults.
// It returns flag.ErrHelp after printing the usage for -h/--help.
func parseSettings(args []string, getenv func(string) string, stdout io.Writer) (settings, error) {
	opts := options()
	fs := flag.NewFlagSet("aml-sandbox", flag.ContinueOnError)
	fs.SetOutput(stdout)
	vals := make([]value, len(opts))
	for i, o := range opts {
		vals[i].isBool = o.isBool
		fs.Var(&vals[i], o.flag, o.usage)
	}
	fs.Usage = func() { usage(stdout, opts) }
	if err := fs.Parse(args); err != nil {
		return settings{}, err
	}
	if fs.NArg() > 0 {
		return settings{}, fmt.Errorf("unexpected arguments %q (see --help)", fs.Args())
	}
	var s settings
	for i, o := range opts {
		v, from := o.def, "default"
		if vals[i].set {
			v, from = vals[i].s, "flag"
		} else if e := getenv(o.env); e != "" {
			v, from = e, "environment"
		}
		if v == "" {
			continue // no default: the sandbox's own applies
		}
		if err := o.apply(&s, v); err != nil {
			return settings{}, fmt.Errorf("invalid --%s (%s) %q from the %s: %w", o.flag, o.env, v, from, err)
		}
	}
	return s, nil
}

func usage(w io.Writer, opts []option) {
	fmt.Fprint(w, `Usage: aml-sandbox [flags]

Runs the BankID AML API sandbox: OIDC token endpoint, organization and
beneficial owners sessions, JSON and PDF results, webhooks and fault knobs,
with synthetic data. Every flag can also be set by its environment variable;
a flag beats the variable, which beats the default. See docs/sandbox.md.

`)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  FLAG\tENVIRONMENT\tDEFAULT\tMEANING")
	for _, o := range opts {
		def := o.def
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(tw, "  --%s\t%s\t%s\t%s\n", o.flag, o.env, def, o.usage)
	}
	tw.Flush()
}

// run is the whole program: it parses the settings, starts the sandbox,
// prints where it is, and serves until ctx is done.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	s, err := parseSettings(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	s.cfg.Logger = slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: s.logLevel}))
	srv, err := sandbox.Start(s.cfg, s.listen)
	if err != nil {
		return err
	}
	cfg := srv.Sandbox().Config()
	signing := "unsigned (set --webhook-secret / WEBHOOK_SECRET to sign)"
	if cfg.WebhookSecret != "" {
		signing = "signed, Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature)"
	}
	fmt.Fprintf(stdout, `kybflow AML sandbox: an emulator of the BankID AML API with synthetic data
  API base URL   %s
  issuer         %s
  token URL      %s
  client id      %s
  client secret  %s
  webhooks       %s
  inspection     %s
Try: curl -s -u '%s:%s' -d grant_type=client_credentials %s
`, srv.URL(), srv.IssuerURL(), srv.TokenURL(), cfg.ClientID, cfg.ClientSecret, signing, srv.URL()+sandbox.InspectPath,
		cfg.ClientID, cfg.ClientSecret, srv.TokenURL())

	select {
	case <-ctx.Done():
	case <-srv.Done():
	}
	if err := srv.Close(); err != nil {
		return err
	}
	cfg.Logger.Info("aml-sandbox: stopped")
	return nil
}
