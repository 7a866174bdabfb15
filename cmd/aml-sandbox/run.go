package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/kybflow/kybflow/internal/envconfig"
	"github.com/kybflow/kybflow/internal/logging"
	"github.com/kybflow/kybflow/internal/sandbox"
)

// Config is the whole configuration of the program: the sandbox's settings
// (sandbox.Config.Settings) and the program's own.
type Config struct {
	Listen  string
	Log     logging.Settings
	Sandbox sandbox.Config
}

// Settings registers every setting with its variable, flag and default.
func (c *Config) Settings(s *envconfig.Set) {
	s.String(&c.Listen, "SANDBOX_LISTEN", "listen", "127.0.0.1:8480", "address to listen on (port 0: any free port)")
	c.Sandbox.Settings(s)
	c.Log = sandbox.Logging()
	c.Log.RegisterLevel(s)
}

// Validate reports what the settings could not check one by one.
func (c *Config) Validate() error {
	var ck envconfig.Checker
	ck.Require("SANDBOX_LISTEN", c.Listen)
	c.Log.Check(&ck)
	return errors.Join(ck.Err(), c.Sandbox.Validate())
}

const usage = `Usage: aml-sandbox [flags]

Runs the BankID AML API sandbox: OIDC token endpoint, organization and
beneficial owners sessions, JSON and PDF results, webhooks and fault knobs,
with synthetic data. Every flag can also be set by its environment variable;
a flag beats the variable, which beats the default. See docs/sandbox.md.

`

// load reads the configuration from args and the environment, and
// validates it. For -h/--help it prints the usage to out and returns
// flag.ErrHelp.
func load(args []string, lookup envconfig.Lookup, out io.Writer) (Config, error) {
	var c Config
	s := envconfig.New("aml-sandbox", lookup, out)
	c.Settings(s)
	s.SetUsage(usage)
	if err := s.Parse(args); err != nil {
		return c, err
	}
	if len(s.Args()) > 0 {
		return c, fmt.Errorf("unexpected arguments %q (see --help)", s.Args())
	}
	return c, c.Validate()
}

// run is the whole program: it reads the configuration, starts the
// sandbox, prints where it is, and serves until ctx is done.
func run(ctx context.Context, args []string, lookup envconfig.Lookup, stdout io.Writer) error {
	c, err := load(args, lookup, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.Sandbox.Logger, err = c.Log.New(stdout); err != nil {
		return err
	}
	srv, err := sandbox.Start(c.Sandbox, c.Listen)
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
  report CA      %s (%s; trust it with REPORT_TRUST_CA)
Try: curl -s -u '%s:%s' -d grant_type=client_credentials %s
`, srv.URL(), srv.IssuerURL(), srv.TokenURL(), cfg.ClientID, cfg.ClientSecret, signing, srv.URL()+sandbox.InspectPath,
		srv.URL()+sandbox.CAPath, srv.Sandbox().ReportCA().Subject.CommonName,
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
