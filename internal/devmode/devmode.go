// Package devmode runs the whole system in one process for a first run on a
// laptop with nothing but Go: an embedded NATS server with JetStream (data
// in a local folder), the AML API sandbox, the webhook bridge and the
// worker, results in a local folder (or in S3 when the S3_* variables are
// set). It runs a sample lookup end to end, shows where its results landed,
// and keeps running until interrupted.
//
// It wires the production components (natsembed, sandbox.Start,
// bridge.Start, worker.Start) with the production configuration checks:
// nothing here is a shortcut that production lacks.
package devmode

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/client"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/audit"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/bridge"
	"github.com/kybflow/kybflow/internal/cli"
	"github.com/kybflow/kybflow/internal/console"
	"github.com/kybflow/kybflow/internal/console/auth"
	"github.com/kybflow/kybflow/internal/envconfig"
	"github.com/kybflow/kybflow/internal/logging"
	"github.com/kybflow/kybflow/internal/natsembed"
	"github.com/kybflow/kybflow/internal/opshttp"
	"github.com/kybflow/kybflow/internal/reportsig"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/worker"
	"github.com/kybflow/kybflow/natsconn"
)

// Config of development mode. The groups other binaries read too are
// declared by the packages that own them (see internal/envconfig, Groups).
type Config struct {
	DataDir       string
	NATSPort      int
	SandboxListen string
	BridgeListen  string
	WorkerHTTP    string
	BridgeHTTP    string
	ConsoleListen string
	Sample        bool

	// Sandbox is the sandbox's configuration: SANDBOX_READY_AFTER is read,
	// the rest is made at start.
	Sandbox sandbox.Config
	// Log is the components' level (LOG_LEVEL, default warn); they write
	// text.
	Log logging.Settings
	// Storage is the S3 settings, as the worker reads them; when
	// S3_ENDPOINT is set, results go to S3 instead of DataDir/results.
	Storage blob.Settings
}

// Settings registers development mode's settings.
func (c *Config) Settings(s *envconfig.Set) {
	s.String(&c.DataDir, "DEV_DATA_DIR", "data-dir", ".kybflow-dev", "folder for NATS data and results")
	s.Int(&c.NATSPort, "DEV_NATS_PORT", "nats-port", 4222, "port of the embedded NATS server (0: any free port)")
	s.String(&c.SandboxListen, "DEV_SANDBOX_LISTEN", "sandbox-listen", "127.0.0.1:8480", "address of the AML API sandbox (port 0: any free port)")
	s.String(&c.BridgeListen, "DEV_BRIDGE_LISTEN", "bridge-listen", "127.0.0.1:8080", "address of the webhook bridge (port 0: any free port)")
	s.String(&c.WorkerHTTP, "DEV_WORKER_HTTP_ADDR", "worker-http-addr", "127.0.0.1:9090", "worker's /healthz, /readyz and /metrics")
	s.String(&c.BridgeHTTP, "DEV_BRIDGE_HTTP_ADDR", "bridge-http-addr", "127.0.0.1:9091", "bridge's /healthz, /readyz and /metrics")
	s.String(&c.ConsoleListen, "DEV_CONSOLE_LISTEN", "console-listen", console.DefaultListen, "address of the web console, a loopback one (port 0: any free port); its login is the sandbox's OIDC provider, with its test users")
	c.Sandbox.RegisterReadyAfter(s)
	s.Bool(&c.Sample, "DEV_SAMPLE", "sample", true, "run a sample lookup at start")
	c.Log = logging.Settings{Format: "text", Level: "warn"}
	c.Log.RegisterLevel(s)
	c.Storage = blob.DefaultSettings()
	c.Storage.Bucket = "kybflow-dev"
	c.Storage.RegisterParts(s, blob.PartS3|blob.PartBucket)
}

// Main runs development mode until ctx ends.
func Main(ctx context.Context, args []string, lookup envconfig.Lookup, stdout, stderr io.Writer) error {
	var cfg Config
	set := envconfig.New("kybflow-dev", lookup, stderr)
	cfg.Settings(set)
	set.SetUsage(usage)
	if err := set.Parse(args); err != nil {
		return err
	}
	log, err := cfg.Log.New(stderr)
	if err != nil {
		return err
	}
	return Run(ctx, cfg, stdout, log)
}

const usage = `Usage: go run ./cmd/kybflow-dev [flags]

Runs everything in one process, for a first run and for development: an
embedded NATS server with JetStream, the BankID AML API sandbox, the webhook
bridge and the worker. Results go to the data folder, or to S3 when
S3_ENDPOINT is set. A sample lookup runs at start. Stop with Ctrl-C.

It uses the same components and configuration checks as production.

`

// Run runs development mode.
func Run(ctx context.Context, cfg Config, out io.Writer, log *slog.Logger) error {
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("DEV_DATA_DIR: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("DEV_DATA_DIR: %w", err)
	}
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	// Each component listens on its address itself; one that is busy is
	// started again on a free port of the same host (never probed first:
	// a port checked free can be taken before it is listened on). The
	// worker is configured last, since it must know the others' addresses.

	// NATS, with its data in the folder: lookups survive a restart.
	natsCfg := natsembed.Config{StoreDir: filepath.Join(dataDir, "nats"), Port: cfg.NATSPort, ServerName: "kybflow-dev"}
	if natsCfg.Port == 0 {
		natsCfg.Port = -1
	}
	ns, err := natsembed.Start(natsCfg)
	if err != nil && natsCfg.Port != -1 {
		say("NATS: port %d is busy (%v); the embedded server takes a free one", natsCfg.Port, err)
		natsCfg.Port = -1
		ns, err = natsembed.Start(natsCfg)
	}
	if err != nil {
		return err
	}
	defer ns.Shutdown()
	natsURL := ns.ClientURL()

	secret := amlapi.WebhookSecretPrefix + base64.StdEncoding.EncodeToString([]byte(randomHex(16)))
	sb, err := listenOr(cfg.SandboxListen, "", say, "sandbox", func(addr string) (*sandbox.Server, error) {
		sc := cfg.Sandbox
		sc.WebhookSecret, sc.Logger = secret, log.With("component", "sandbox")
		return sandbox.Start(sc, addr)
	})
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	defer sb.Close()

	bcfg := bridge.Config{
		NATS: natsconn.Settings{URL: natsURL}, ListenAddr: cfg.BridgeListen, Ops: opshttp.Settings{Addr: cfg.BridgeHTTP},
		WebhookSecret: secret, SubjectPrefix: kybflow.DefaultPrefix, MaxBody: bridge.DefaultMaxBody, Log: cfg.Log,
	}
	br, err := listenOr(cfg.BridgeListen, "LISTEN_ADDR", say, "webhook bridge", func(addr string) (*bridge.App, error) {
		bcfg.ListenAddr = addr
		return listenOr(cfg.BridgeHTTP, "HTTP_ADDR", say, "bridge /metrics", func(addr string) (*bridge.App, error) {
			bcfg.Ops.Addr = addr
			return bridge.Start(bcfg, log.With("component", "bridge"), bridge.Options{})
		})
	})
	if err != nil {
		return fmt.Errorf("webhook bridge: %w", err)
	}

	wcfg := worker.Defaults()
	wcfg.NATS.URL, wcfg.AML.APIURL, wcfg.AML.IssuerURL = natsURL, sb.URL(), sb.IssuerURL()
	wcfg.AML.ClientID, wcfg.AML.ClientSecret = sandbox.DefaultClientID, sandbox.DefaultClientSecret
	wcfg.AML.Scopes = []string{amlapi.ScopeBasic, amlapi.ScopeOFAC}
	wcfg.WebhookURL = "http://" + br.Addr().String() + "/webhooks"
	wcfg.PollInitial, wcfg.PollMax, wcfg.PollMaxWebhook = time.Second, 10*time.Second, 30*time.Second
	wcfg.DrainTimeout, wcfg.EventSource = 10*time.Second, "urn:kybflow:dev"
	wcfg.Log = cfg.Log
	// The sandbox signs its reports with a test CA of its own: trusted
	// here, as an operator trusts BankID's (REPORT_TRUST_CA).
	wcfg.ReportTrust = reportsig.NewTrust(sb.Sandbox().ReportCA())
	// JetStream reserves every stream's MaxBytes on disk: the production
	// defaults (about 5 GiB in all) are more than a laptop should give a
	// trial run.
	wcfg.CommandsMaxBytes, wcfg.ChecksMaxBytes, wcfg.WebhooksMaxBytes = 64<<20, 16<<20, 16<<20
	wcfg.EventsMaxBytes, wcfg.DeadLetterMaxBytes, wcfg.LookupsMaxBytes = 128<<20, 16<<20, 64<<20
	blobDir := ""
	if st := cfg.Storage; st.Endpoint != "" {
		wcfg.Storage.Endpoint, wcfg.Storage.Bucket, wcfg.Storage.AccessKey, wcfg.Storage.SecretKey = st.Endpoint, st.Bucket, st.AccessKey, st.SecretKey
		wcfg.Storage.Region, wcfg.Storage.Secure = st.Region, st.Secure
	} else {
		blobDir = filepath.Join(dataDir, "results")
		wcfg.Storage.Dir = blobDir
	}
	w, err := listenOr(cfg.WorkerHTTP, "HTTP_ADDR", say, "worker /metrics", func(addr string) (*worker.App, error) {
		wcfg.Ops.Addr = addr
		return worker.Start(ctx, wcfg, log.With("component", "worker"), worker.Options{})
	})
	if err != nil {
		br.Close()
		return fmt.Errorf("worker: %w", err)
	}
	if err := w.EnsureTopology(ctx); err != nil { // the sample lookup needs the streams
		w.Close()
		br.Close()
		return fmt.Errorf("worker: %w", err)
	}

	// The console, with a real login: the sandbox's OIDC provider and its
	// test users (viewer, officer, operator). Its listener is opened
	// first, so that the redirect URL names its address.
	ccfg := console.Config{NATS: natsconn.Settings{URL: natsURL}, SubjectPrefix: kybflow.DefaultPrefix, Log: cfg.Log, Storage: blob.Settings{Dir: blobDir},
		Audit: audit.DefaultSettings(), Actions: console.ActionSettings{KeyPrefix: wcfg.KeyPrefix, EventSource: wcfg.EventSource, Budget: wcfg.SessionBudget}}
	if blobDir == "" {
		st := cfg.Storage
		ccfg.Storage = blob.Settings{Endpoint: st.Endpoint, AccessKey: st.AccessKey, SecretKey: st.SecretKey, Region: st.Region, Secure: st.Secure}
	}
	cln, err := listenOr(cfg.ConsoleListen, "CONSOLE_LISTEN", say, "console", func(addr string) (net.Listener, error) {
		return opshttp.Listen("CONSOLE_LISTEN", addr)
	})
	if err != nil {
		w.Close()
		br.Close()
		return fmt.Errorf("console: %w", err)
	}
	ccfg.Listen = cln.Addr().String()
	sessionKey := make([]byte, 32)
	rand.Read(sessionKey)
	ccfg.Auth = auth.DefaultSettings()
	ccfg.Auth.IssuerURL, ccfg.Auth.ClientID, ccfg.Auth.ClientSecret = sb.IssuerURL(), sandbox.DefaultClientID, sandbox.DefaultClientSecret
	ccfg.Auth.RedirectURL, ccfg.Auth.SessionKey = "http://"+ccfg.Listen+"/callback", sessionKey
	con, err := console.Start(ctx, ccfg, log.With("component", "console"), console.Options{Listener: cln})
	if err != nil {
		cln.Close()
		w.Close()
		br.Close()
		return fmt.Errorf("console: %w", err)
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return w.Run(gctx) })
	g.Go(func() error { return con.Run(gctx) })
	g.Go(func() error { return br.Run(gctx) })
	g.Go(func() error {
		defer func() { say("\nStopping: the worker drains, then everything stops. Data stays in %s.", dataDir) }()
		say("kybflow development mode: NATS, the AML API sandbox, the webhook bridge and the worker in one process.")
		say("")
		say("  NATS             %s   (JetStream data in %s)", natsURL, filepath.Join(dataDir, "nats"))
		say("  AML API sandbox  %s   (inspect: %s/_sandbox/inspect)", sb.URL(), sb.URL())
		say("  webhook bridge   http://%s/webhooks", br.Addr())
		say("  worker metrics   http://%s/metrics", w.OpsAddr())
		say("  console          %s   (log in as viewer, officer or operator: the sandbox's test users)", con.URL())
		if blobDir != "" {
			say("  results          %s", blobDir)
		} else {
			say("  results          S3 %s, bucket %s", cfg.Storage.Endpoint, cfg.Storage.Bucket)
		}
		say("")
		if cfg.Sample {
			if err := sample(gctx, natsURL, out, blobDir); err != nil {
				if gctx.Err() != nil {
					return nil
				}
				say("sample lookup: %v", err)
			}
		}
		env := "NATS_URL=" + natsURL
		if blobDir != "" {
			env += " BLOB_DIR=" + blobDir
		}
		say("")
		say("Submit more lookups from another terminal:")
		say("  %s go run ./cmd/amlctl lookup --wait --country SE --report aml 556036-0793", env)
		say("  %s go run ./cmd/amlctl lookup --wait --country FI 2077474-0", env)
		say("  %s go run ./cmd/amlctl lookup --wait --type beneficial_owners --report aml 974760673", env)
		say("  %s go run ./cmd/amlctl events --all", env)
		say("Monitor the sandbox's organization whose status changes, a run every 10s (each a lookup; events --all shows its runs' changed events):")
		say("  %s go run ./cmd/amlctl monitors create --every 10s --wait dev-status %s", env, sandbox.ChangingStatusNO)
		say("  (then: amlctl monitors list, and amlctl monitors delete --wait dev-status to stop it)")
		say("Special identifiers that always fail, hit sanctions, are slow or expire, or change: docs/sandbox.md.")
		say("Press Ctrl-C to stop.")
		<-gctx.Done()
		return nil
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// sample runs one Norwegian organization lookup with both reports and shows
// its progress, as a platform would see it.
func sample(ctx context.Context, natsURL string, out io.Writer, blobDir string) error {
	nc, err := nats.Connect(natsURL, nats.Name("kybflow-dev-sample"))
	if err != nil {
		return err
	}
	defer nc.Close()
	c, err := client.New(nc)
	if err != nil {
		return err
	}
	id := "dev-sample-" + time.Now().UTC().Format("20060102T150405")
	cmd := kybflow.LookupCommand{
		LookupID: id, Type: kybflow.TypeOrganization, Country: kybflow.CountryNO, Identifier: "923609016",
		Expands: []string{"roles", "ownership", "authorities", "sanction"},
		Reports: []kybflow.ReportType{"aml", "certificate_of_incorporation"},
	}
	fmt.Fprintf(out, "Sample lookup %s: organization 923609016 (NO), with the AML report and the certificate of incorporation\n", id)
	if err := c.Submit(ctx, cmd); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	ev, err := cli.Follow(ctx, c, id, out)
	if err != nil {
		return err
	}
	if d, ok := ev.Data.(kybflow.CompletedData); ok {
		fmt.Fprintln(out, "Results:")
		cli.PrintArtifacts(out, d, blobDir)
	}
	return nil
}

// listenOr starts a component that listens on addr; when addr is busy, it
// starts it again on a free port of the same host, and says so. setting,
// when the component has several addresses, is the one whose error names
// it (opshttp.Listen's errors do).
func listenOr[T any](addr, setting string, say func(string, ...any), what string, start func(addr string) (T, error)) (T, error) {
	v, err := start(addr)
	if err == nil || !errors.Is(err, syscall.EADDRINUSE) || (setting != "" && !strings.Contains(err.Error(), setting+":")) {
		return v, err
	}
	host, _, serr := net.SplitHostPort(addr)
	if serr != nil {
		host = "127.0.0.1"
	}
	free := net.JoinHostPort(host, "0")
	say("%s: %s is busy; using a free port", what, addr)
	return start(free)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
