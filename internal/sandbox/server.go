package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
)

// ShutdownTimeout bounds how long Close waits for requests in flight.
const ShutdownTimeout = 5 * time.Second

// Server is a Sandbox listening on a TCP address, with its webhook
// dispatcher running. Close stops both.
type Server struct {
	sb   *Sandbox
	srv  *http.Server
	base string

	stop      context.CancelFunc
	wg        sync.WaitGroup
	done      chan struct{}
	serveErr  error // set before done is closed
	closeOnce sync.Once
	closeErr  error
}

// Start listens on addr (e.g. "127.0.0.1:0"), serves the sandbox there and
// runs its webhook dispatcher. Unless cfg.BaseURL is set, the base URL is
// http://<the address it listens on>.
//
//nolint:contextcheck // the server lives until Close, not until a caller's context ends
func Start(cfg Config, addr string) (*Server, error) {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox: listen on %s: %w", addr, err)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://" + ln.Addr().String()
	}
	sb, err := New(cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Server{
		sb:   sb,
		base: sb.cfg.BaseURL,
		stop: stop,
		done: make(chan struct{}),
		srv: &http.Server{
			Handler:           sb.Handler(),
			ReadHeaderTimeout: 10 * time.Second,
			// Requests are small; answers may be large reports, streamed,
			// so no write timeout. Idle keep-alive connections are closed.
			ReadTimeout: 30 * time.Second,
			IdleTimeout: 60 * time.Second,
			ErrorLog:    slog.NewLogLogger(sb.log.Handler(), slog.LevelWarn),
		},
	}
	s.wg.Go(func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.serveErr = fmt.Errorf("sandbox: serve: %w", err)
		}
	})
	s.wg.Go(func() {
		if err := sb.Run(ctx); err != nil {
			sb.log.Error("sandbox: webhook dispatcher", "error", err)
		}
	})
	return s, nil
}

// URL is the base URL of the AML API.
func (s *Server) URL() string { return s.base }

// IssuerURL is the OIDC issuer: URL() + IssuerPath.
func (s *Server) IssuerURL() string { return s.base + IssuerPath }

// TokenURL is the token endpoint: IssuerURL() + amlapi.TokenPath.
func (s *Server) TokenURL() string { return s.IssuerURL() + amlapi.TokenPath }

// Sandbox is the sandbox being served.
func (s *Server) Sandbox() *Sandbox { return s.sb }

// Done is closed when the server stops serving: after Close, or when
// serving fails (Close then returns the error).
func (s *Server) Done() <-chan struct{} { return s.done }

// Close shuts the server down gracefully (requests in flight get
// ShutdownTimeout), stops the webhook dispatcher and waits for every
// goroutine of the server. It is idempotent.
//
//nolint:contextcheck // called once the caller's context is done: the shutdown gets its own deadline
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		var errs []error
		if err := s.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("sandbox: shutdown: %w", err))
			s.srv.Close()
		}
		s.stop()
		s.wg.Wait()
		if s.serveErr != nil {
			errs = append(errs, s.serveErr)
		}
		if t, ok := s.sb.cfg.WebhookClient.Transport.(interface{ CloseIdleConnections() }); ok {
			t.CloseIdleConnections()
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
