// Package console is kybflow's web console: pages, rendered on the server,
// that show the lookups (from an index kept from the events stream), each
// lookup's story and its documents (streamed from storage with their
// sha256 checked), to the people who watch them. Who may see what is an
// Authenticator's and an Auditor's (access.go); without a login the
// console listens on loopback only.
package console

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/client"
	"github.com/kybflow/kybflow/internal/audit"
	"github.com/kybflow/kybflow/internal/console/auth"
	"github.com/kybflow/kybflow/internal/envconfig"
	"github.com/kybflow/kybflow/internal/opshttp"
	"github.com/kybflow/kybflow/internal/streams"
)

// App is a running console: a program value that a test can boot.
type App struct {
	cfg      Config
	log      *slog.Logger
	conn     *streams.Conn
	js       jetstream.JetStream
	ln       net.Listener
	index    *Index
	subjects kybflow.Subjects
	server   *server
}

// Options are the parts of the environment a caller supplies instead of
// the defaults.
type Options struct {
	// Auth authenticates requests. Nil is Local (no login), which Start
	// takes only when CONSOLE_LISTEN is a loopback address.
	Auth Authenticator
	// Auditor records every document view. Nil is LogAuditor with Local;
	// with another Auth it is required.
	Auditor Auditor
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Listener, when set, is where the pages are served, opened by the
	// caller (whose OIDC_REDIRECT_URL must name its address before Start):
	// CONSOLE_LISTEN then only says what it is.
	Listener net.Listener
}

// Start validates cfg, connects to NATS and opens the listener (ctx bounds
// reading the OIDC provider's discovery), so that
// every startup problem is reported before Run. NATS may not answer yet:
// the index reads the stream once it can, and readiness says why not.
func Start(ctx context.Context, cfg Config, log *slog.Logger, opts Options) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Auth == nil && !cfg.Auth.Enabled() {
		if err := cfg.checkLocal(); err != nil {
			return nil, err
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	docs, err := openDocuments(cfg)
	if err != nil {
		return nil, err
	}
	subjects, err := kybflow.NewSubjects(cfg.SubjectPrefix)
	if err != nil {
		return nil, fmt.Errorf("AML_SUBJECT_PREFIX: %w", err)
	}
	conn, err := streams.Connect(cfg.NATS, "kybflow-console", log)
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(conn.Conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if opts.Auditor == nil {
		opts.Auditor = &streamAuditor{js: js, prefix: cfg.SubjectPrefix, settings: cfg.Audit}
	}
	if opts.Auth == nil {
		if opts.Auth, err = newAuth(ctx, cfg, log, opts); err != nil {
			conn.Close()
			return nil, err
		}
	}
	ln := opts.Listener
	if ln == nil {
		if ln, err = opshttp.Listen("CONSOLE_LISTEN", cfg.Listen); err != nil {
			conn.Close()
			return nil, err
		}
	}
	ix := NewIndex()
	srv, err := newServer(serverConfig{
		Index: ix, Documents: docs, Auth: opts.Auth, Auditor: opts.Auditor, Log: log, Now: opts.Now,
		Ready:      map[string]opshttp.Check{"nats": conn.Check, "index": ix.Ready},
		Deployment: &deployment{nc: conn.Conn, js: js, subjects: subjects, storage: cfg.Storage, settings: cfg.Actions},
	})
	if err != nil {
		ln.Close()
		conn.Close()
		return nil, err
	}
	return &App{cfg: cfg, log: log, conn: conn, js: js, ln: ln, index: ix, subjects: subjects, server: srv}, nil
}

// newAuth is the login of cfg: OIDC, with each login recorded in the
// audit (a login that cannot be recorded is refused), or Local on
// loopback.
func newAuth(ctx context.Context, cfg Config, log *slog.Logger, opts Options) (Authenticator, error) {
	if !cfg.Auth.Enabled() {
		return auth.NewLocal(), nil
	}
	ctx, cancel := context.WithTimeout(ctx, oidcStartTimeout)
	defer cancel()
	o, err := auth.NewOIDC(ctx, cfg.Auth, auth.Options{Logger: log, Now: opts.Now,
		OnLogin: func(ctx context.Context, u auth.User) error {
			return opts.Auditor.Record(ctx, Entry{Actor: u, Action: audit.ActionLogin, At: opts.Now()})
		}})
	if err != nil {
		return nil, fmt.Errorf("OIDC_ISSUER_URL: %w", err)
	}
	return o, nil
}

// oidcStartTimeout bounds reading the provider's discovery at start.
const oidcStartTimeout = 30 * time.Second

// openDocuments is where the documents are read: the worker's BLOB_DIR, or
// its S3 (the bucket comes from each artifact).
func openDocuments(cfg Config) (documents, error) {
	st := cfg.Storage
	if st.Dir != "" {
		return client.DirSource(st.Dir), nil
	}
	mc, err := minio.New(st.Endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(st.AccessKey, st.SecretKey, ""), Secure: st.Secure, Region: st.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("S3_ENDPOINT %s: %w", st.Endpoint, err)
	}
	return client.S3Source(mc), nil
}

// Close releases what Start opened, for a caller that will not Run the app.
func (a *App) Close() {
	a.ln.Close()
	a.conn.Close()
}

// Addr is the address the pages are served on.
func (a *App) Addr() net.Addr { return a.ln.Addr() }

// URL is where users reach the console: CONSOLE_PUBLIC_URL, or the
// listener's address.
func (a *App) URL() string {
	if a.cfg.PublicURL != "" {
		return a.cfg.PublicURL
	}
	return "http://" + a.ln.Addr().String()
}

// Index is the app's index of lookups.
func (a *App) Index() *Index { return a.index }

// Run serves until ctx ends, then shuts down: live streams end, in-flight
// requests finish, and NATS is closed.
func (a *App) Run(ctx context.Context) error {
	defer a.conn.Close()
	// Pages are small; documents and live streams are long: no write
	// timeout, and the live streams end when the server shuts down.
	srv := &http.Server{
		Handler: a.server, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	var once sync.Once
	srv.RegisterOnShutdown(func() { once.Do(func() { close(a.server.stopping) }) })
	a.log.Info("console listening", "addr", a.ln.Addr().String(), "url", a.URL(), "nats", a.cfg.NATS, "storage", a.cfg.Storage)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.index.Run(gctx, a.js, a.subjects, a.log) })
	g.Go(func() error { return opshttp.Serve(gctx, srv, a.ln, 15*time.Second, a.log) })
	return g.Wait()
}

// Main is the whole console program, as cmd/console runs it: parse the
// configuration, build the logger, start, run until ctx ends.
func Main(ctx context.Context, args []string, lookup envconfig.Lookup, stdout, stderr io.Writer) error {
	var cfg Config
	set := envconfig.New("console", lookup, stderr)
	cfg.Settings(set)
	set.SetUsage(usage)
	if err := set.Parse(args); err != nil {
		return err
	}
	log, err := cfg.Log.New(stdout)
	if err != nil {
		return err
	}
	app, err := Start(ctx, cfg, log, Options{})
	if err != nil {
		return err
	}
	return app.Run(ctx)
}

const usage = `Usage: console [flags]

Serves kybflow's web console on CONSOLE_LISTEN: the lookups (kept in an
index from the events stream, AML_EVENTS), each lookup's events, summary
and artifacts, and its documents (the JSON and the PDF reports, streamed
from BLOB_DIR or S3 with their sha256 checked). Without OIDC settings it
has no login, and listens on a loopback address only.

Every flag can also be set by the environment variable named with it.

`
