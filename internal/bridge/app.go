package bridge

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/envconfig"
	"github.com/kybflow/kybflow/internal/logging"
	"github.com/kybflow/kybflow/internal/opshttp"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/tracing"
	"github.com/kybflow/kybflow/natsconn"
)

// Config is the webhook bridge's configuration. The groups other binaries
// read too are declared by the packages that own them (NATS, Ops, Log; see
// internal/envconfig, Groups); the rest are the bridge's.
type Config struct {
	NATS       natsconn.Settings
	ListenAddr string
	Ops        opshttp.Settings
	// Verify is the verification mode (a Mode; empty is
	// ModeStandardWebhooks), and the settings after it those of each mode.
	Verify        string
	WebhookSecret string
	BearerTokens  string
	JWKSURL       string
	JWTIssuer     string
	JWTAudience   string
	HintLimit     int
	SubjectPrefix string
	MaxBody       int
	Log           logging.Settings
}

// Defaults of the bridge's own settings.
const (
	// DefaultHTTPAddr is the bridge's ops address: beside the worker's
	// (opshttp.DefaultAddr), so that both can run on one host.
	DefaultHTTPAddr = ":9091"
	// DefaultMaxBody is the largest webhook body taken, in bytes.
	DefaultMaxBody = 64 << 10
)

// Settings registers the bridge's settings on s, with their variables,
// flags and defaults.
func (c *Config) Settings(s *envconfig.Set) {
	c.NATS = natsconn.Settings{URL: nats.DefaultURL, InboxPrefix: "_INBOX_kybflow_bridge"}
	s.NATS(&c.NATS)
	s.String(&c.ListenAddr, "LISTEN_ADDR", "listen", ":8080", "address BankID's webhooks are received on (POST /webhooks/{lookupId})")
	c.Ops = opshttp.Settings{Addr: DefaultHTTPAddr}
	c.Ops.RegisterAddr(s)
	s.String(&c.Verify, "WEBHOOK_VERIFY", "webhook-verify", ModeStandardWebhooks,
		"how webhooks are authenticated: standard-webhooks (WEBHOOK_SECRET), bearer (WEBHOOK_BEARER_TOKEN, or a JWT checked with WEBHOOK_JWKS_URL) or hint (not at all: unsigned hints, WEBHOOK_HINT_LIMIT per lookup a minute)")
	s.Secret(&c.WebhookSecret, "WEBHOOK_SECRET", "webhook-secret", "secret that verifies webhook signatures, whsec_<base64> or <base64> as Standard Webhooks secrets are; several, separated by spaces or commas, during a rotation (required with standard-webhooks)")
	s.Secret(&c.BearerTokens, "WEBHOOK_BEARER_TOKEN", "webhook-bearer-token", "bearer: the static token webhooks carry (Authorization: Bearer <token>, at least 16 characters); several, separated by spaces or commas, during a rotation")
	s.String(&c.JWKSURL, "WEBHOOK_JWKS_URL", "webhook-jwks-url", "", "bearer: URL of the JWKS whose keys sign the webhooks' JWTs (instead of WEBHOOK_BEARER_TOKEN)")
	s.String(&c.JWTIssuer, "WEBHOOK_JWT_ISSUER", "webhook-jwt-issuer", "", "bearer with WEBHOOK_JWKS_URL: the iss the JWTs must have (required with it)")
	s.String(&c.JWTAudience, "WEBHOOK_JWT_AUDIENCE", "webhook-jwt-audience", "", "bearer with WEBHOOK_JWKS_URL: an aud the JWTs must have (required with it)")
	s.Int(&c.HintLimit, "WEBHOOK_HINT_LIMIT", "webhook-hint-limit", DefaultHintLimit, "hint: webhooks taken per lookup a minute; more get 429")
	s.SubjectPrefix(&c.SubjectPrefix)
	s.Int(&c.MaxBody, "WEBHOOK_MAX_BODY", "max-body", DefaultMaxBody, "largest webhook body in bytes; larger ones get 413")
	c.Log = logging.DefaultSettings()
	c.Log.Register(s)
}

// Validate checks the configuration; every problem names its variable.
func (c *Config) Validate() error {
	var ck envconfig.Checker
	if err := c.NATS.Validate(); err != nil {
		ck.Add(err)
	}
	ck.Require("LISTEN_ADDR", c.ListenAddr)
	c.Ops.Check(&ck)
	c.checkVerify(&ck)
	ck.Check(c.MaxBody > 0, "WEBHOOK_MAX_BODY", "must be positive, got %d", c.MaxBody)
	ck.SubjectPrefix(c.SubjectPrefix)
	c.Log.Check(&ck)
	return ck.Err()
}

// checkVerify checks WEBHOOK_VERIFY and the settings of its mode: each
// mode's settings are required with it and refused with another, so that a
// setting meant for a mode not chosen stops the bridge rather than being
// ignored.
func (c *Config) checkVerify(ck *envconfig.Checker) {
	mode := c.mode()
	only := func(env, value, with string) {
		ck.Check(value == "", env, "is set, but only read with %s; WEBHOOK_VERIFY is %s", with, mode)
	}
	switch mode {
	case ModeStandardWebhooks:
		ck.Require("WEBHOOK_SECRET", c.WebhookSecret)
		if _, err := amlapi.ParseWebhookSecrets(c.WebhookSecret); c.WebhookSecret != "" && err != nil {
			ck.Check(false, "WEBHOOK_SECRET", "%v: write each secret as the Standard Webhooks libraries read it, e.g. whsec_%s, several separated by spaces or commas", err, "c2VjcmV0LWJ5dGVz")
		}
	case ModeBearer:
		only("WEBHOOK_SECRET", c.WebhookSecret, "WEBHOOK_VERIFY=standard-webhooks")
		switch {
		case c.BearerTokens == "" && c.JWKSURL == "":
			ck.Check(false, "WEBHOOK_BEARER_TOKEN", "WEBHOOK_VERIFY=bearer needs WEBHOOK_BEARER_TOKEN (a static token) or WEBHOOK_JWKS_URL (JWTs)")
		case c.BearerTokens != "" && c.JWKSURL != "":
			ck.Check(false, "WEBHOOK_BEARER_TOKEN", "set WEBHOOK_BEARER_TOKEN (a static token) or WEBHOOK_JWKS_URL (JWTs), not both")
		case c.BearerTokens != "":
			if _, err := NewBearerTokens(c.BearerTokens); err != nil {
				ck.Check(false, "WEBHOOK_BEARER_TOKEN", "%v", err)
			}
			only("WEBHOOK_JWT_ISSUER", c.JWTIssuer, "WEBHOOK_JWKS_URL")
			only("WEBHOOK_JWT_AUDIENCE", c.JWTAudience, "WEBHOOK_JWKS_URL")
		default:
			ck.URL("WEBHOOK_JWKS_URL", c.JWKSURL, "https", "http")
			ck.Check(c.JWTIssuer != "", "WEBHOOK_JWT_ISSUER", "is required with WEBHOOK_JWKS_URL")
			ck.Check(c.JWTAudience != "", "WEBHOOK_JWT_AUDIENCE", "is required with WEBHOOK_JWKS_URL")
		}
	case ModeHint:
		only("WEBHOOK_SECRET", c.WebhookSecret, "WEBHOOK_VERIFY=standard-webhooks")
		ck.Check(c.HintLimit > 0, "WEBHOOK_HINT_LIMIT", "must be positive, got %d", c.HintLimit)
	default:
		ck.Check(false, "WEBHOOK_VERIFY", "%q is not a mode; want one of %s", clip(c.Verify), strings.Join(Modes, ", "))
	}
	if mode != ModeBearer {
		only("WEBHOOK_BEARER_TOKEN", c.BearerTokens, "WEBHOOK_VERIFY=bearer")
		only("WEBHOOK_JWKS_URL", c.JWKSURL, "WEBHOOK_VERIFY=bearer")
		only("WEBHOOK_JWT_ISSUER", c.JWTIssuer, "WEBHOOK_VERIFY=bearer")
		only("WEBHOOK_JWT_AUDIENCE", c.JWTAudience, "WEBHOOK_VERIFY=bearer")
	}
}

// mode is the verification mode, with its default for a Config made in
// code.
func (c *Config) mode() string {
	if c.Verify == "" {
		return ModeStandardWebhooks
	}
	return c.Verify
}

// Verifier builds the verifier of a valid configuration.
func (c *Config) Verifier(log *slog.Logger) (Verifier, error) {
	switch c.mode() {
	case ModeStandardWebhooks:
		return NewStandardWebhooks(c.WebhookSecret, 0, nil)
	case ModeBearer:
		if c.BearerTokens != "" {
			return NewBearerTokens(c.BearerTokens)
		}
		return NewJWTVerifier(JWTConfig{JWKSURL: c.JWKSURL, Issuer: c.JWTIssuer, Audience: c.JWTAudience, Logger: log})
	case ModeHint:
		return NewHints(c.HintLimit, nil), nil
	}
	return nil, fmt.Errorf("WEBHOOK_VERIFY: %q is not a mode", clip(c.Verify))
}

// App is a running webhook bridge: a program value that a test can boot.
type App struct {
	cfg      Config
	log      *slog.Logger
	nc       *nats.Conn
	conn     *streams.Conn // nc, and why it is not connected
	js       jetstream.JetStream
	ln, ops  net.Listener
	handler  http.Handler
	registry *prometheus.Registry
	subjects kybflow.Subjects
	tracing  *tracing.Provider
}

// Options are the parts of the environment a caller may supply instead of
// the defaults (tests).
type Options struct {
	// Tracing makes a span per webhook (default: tracing.Disabled; Main
	// sets it up from the OTEL_* environment). Run shuts it down at its
	// end, which flushes what Setup's provider has not exported yet.
	Tracing *tracing.Provider
}

// Start validates cfg, connects to NATS and opens both listeners, so that
// every startup problem is reported before Run.
func Start(cfg Config, log *slog.Logger, opts Options) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Tracing == nil {
		opts.Tracing = tracing.Disabled()
	}
	subjects, _ := kybflow.NewSubjects(cfg.SubjectPrefix)
	// NATS may not answer yet (a server restarting, a cluster forming): the
	// bridge starts anyway, answers 503 until JetStream stores webhooks, and
	// readiness says why. Nothing is buffered while reconnecting: a webhook
	// that cannot be stored now is answered 503 at once, for BankID to send
	// again, rather than after a publish timeout.
	conn, err := streams.Connect(cfg.NATS, "kybflow-webhook-bridge", log, nats.ReconnectBufSize(-1))
	if err != nil {
		return nil, err
	}
	nc := conn.Conn
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	verifier, err := cfg.Verifier(log)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if cfg.mode() == ModeHint {
		log.Warn("webhooks are not authenticated (WEBHOOK_VERIFY=hint): each is a hint the worker confirms with a status call",
			"limit_per_lookup_a_minute", cfg.HintLimit)
	}
	h, err := Handler(HandlerConfig{
		Verifier: verifier, MaxBody: int64(cfg.MaxBody), Subject: streams.NamesOf(subjects).Webhook,
		Publisher: js, Logger: log, Metrics: NewMetrics(reg), Tracer: opts.Tracing,
	})
	if err != nil {
		nc.Close()
		return nil, err
	}
	ln, err := opshttp.Listen("LISTEN_ADDR", cfg.ListenAddr)
	if err != nil {
		nc.Close()
		return nil, err
	}
	ops, err := opshttp.Listen("HTTP_ADDR", cfg.Ops.Addr)
	if err != nil {
		ln.Close()
		nc.Close()
		return nil, err
	}
	return &App{cfg: cfg, log: log, nc: nc, conn: conn, js: js, ln: ln, ops: ops, handler: h, registry: reg, subjects: subjects, tracing: opts.Tracing}, nil
}

// Close releases what Start opened, for a caller that will not Run the app.
func (a *App) Close() {
	a.ln.Close()
	a.ops.Close()
	a.nc.Close()
}

// Addr is the address webhooks are received on.
func (a *App) Addr() net.Addr { return a.ln.Addr() }

// OpsAddr is the address of /healthz, /readyz and /metrics.
func (a *App) OpsAddr() net.Addr { return a.ops.Addr() }

// Run serves until ctx ends, then shuts down: it stops accepting webhooks,
// lets in-flight ones finish (their publishes included), and closes NATS.
func (a *App) Run(ctx context.Context) error {
	defer a.nc.Close()
	defer func() { // after the servers: their last spans are flushed too
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tracing.ShutdownTimeout)
		defer cancel()
		if err := a.tracing.Shutdown(fctx); err != nil {
			a.log.Warn("tracing: flush at shutdown", "err", err)
		}
	}()
	ready := map[string]opshttp.Check{
		"nats": a.conn.Check,
		"webhooks stream": func(ctx context.Context) error {
			name := streams.NamesOf(a.subjects).WebhooksStream()
			if _, err := a.js.Stream(ctx, name); err != nil {
				return fmt.Errorf("stream %s: %w (has the worker started?)", name, err)
			}
			return nil
		},
	}
	// Bodies are small and read before the signature can be checked: bound
	// how long an unauthenticated client may hold a connection.
	public := &http.Server{
		Handler: a.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	opsSrv := opshttp.NewServer(opshttp.Handler(a.registry, ready, nil), a.log)

	a.log.Info("webhook bridge listening", "addr", a.ln.Addr().String(), "ops_addr", a.ops.Addr().String(), "nats", a.cfg.NATS)
	// One server failing on its own ends the group's context, which stops
	// the other: the app is not whole without both.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return opshttp.Serve(gctx, public, a.ln, 15*time.Second, a.log) })
	g.Go(func() error { return opshttp.Serve(gctx, opsSrv, a.ops, 5*time.Second, a.log) })
	return g.Wait()
}

// Main is the whole bridge program, as cmd/webhook-bridge runs it: parse the
// configuration, build the logger, start, run until ctx ends.
func Main(ctx context.Context, args []string, lookup envconfig.Lookup, stdout, stderr io.Writer) error {
	var cfg Config
	set := envconfig.New("webhook-bridge", lookup, stderr)
	cfg.Settings(set)
	set.SetUsage(usage)
	if err := set.Parse(args); err != nil {
		return err
	}
	log, err := cfg.Log.New(stdout)
	if err != nil {
		return err
	}
	tp, err := tracing.Setup(ctx, lookup, "kybflow-webhook-bridge", log)
	if err != nil {
		return err
	}
	app, err := Start(cfg, log, Options{Tracing: tp})
	if err != nil {
		_ = tp.Shutdown(ctx)
		return err
	}
	return app.Run(ctx)
}

const usage = `Usage: webhook-bridge [flags]

Receives BankID AML webhooks (POST /webhooks/{lookupId}), verifies them as
WEBHOOK_VERIFY says (a Standard Webhooks signature, a bearer token or JWT,
or nothing: hints), and republishes them to JetStream (stream AML_WEBHOOKS).
Answers 200 only after JetStream stored the webhook, 401 when it is not
authenticated, 429 over the hint limit, 413 over the size limit, 503 when
JetStream cannot store it.

Every flag can also be set by the environment variable named with it.

`
