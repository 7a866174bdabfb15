// Package opshttp serves what operators and Kubernetes read from each
// binary: /healthz (the process is alive), /readyz (it can do its work:
// NATS connected, streams present, storage reachable) and /metrics
// (Prometheus, from a registry injected by the caller). It also runs any
// http.Server with a clean shutdown tied to a context.
package opshttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness check; nil means ready.
type Check func(ctx context.Context) error

// Note is a line of /readyz that informs and never makes it unready (what
// the API lets us see, say).
type Note func() string

// Handler serves /healthz, /readyz and /metrics. /readyz lists every check,
// sorted, then every note.
func Handler(reg *prometheus.Registry, checks map[string]Check, notes map[string]Note) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		status, body := http.StatusOK, ""
		for _, name := range slices.Sorted(maps.Keys(checks)) {
			if err := checks[name](ctx); err != nil {
				status = http.StatusServiceUnavailable
				body += fmt.Sprintf("%s: %v\n", name, err)
			} else {
				body += name + ": ok\n"
			}
		}
		for _, name := range slices.Sorted(maps.Keys(notes)) {
			body += fmt.Sprintf("%s: %s (informational)\n", name, notes[name]())
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return mux
}

// WithProfiling adds Go's profiles (net/http/pprof) under /debug/pprof/ to
// an ops handler. Off by default in the binaries (PPROF): a profile shows
// the program's insides, so only for an operator on a trusted network. A
// CPU profile must ask for fewer seconds than WriteTimeout.
func WithProfiling(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.Handle("/", h)
	return mux
}

// Timeouts of the ops servers. A client (a probe, a scraper, or anyone who
// can reach the port) may hold a connection only this long: reading its
// request, writing the answer, and idle between requests. Without them,
// idle keep-alive connections pile up, each with its goroutine.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 10 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 60 * time.Second
)

// NewServer is the http.Server of an ops endpoint: h with the timeouts
// above, and its errors logged at warn.
func NewServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler: h, ReadHeaderTimeout: ReadHeaderTimeout, ReadTimeout: ReadTimeout,
		WriteTimeout: WriteTimeout, IdleTimeout: IdleTimeout,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Serve runs srv on ln until ctx ends, then shuts it down, giving in-flight
// requests up to grace to finish. It returns nil after a clean shutdown.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }() // owned: joined below
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		log.Warn("http shutdown", "addr", ln.Addr().String(), "err", err)
		return fmt.Errorf("shutdown %s: %w", ln.Addr(), err)
	}
	return nil
}

// Listen opens a TCP listener, with an error that names the setting.
func Listen(setting, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr) //nolint:noctx // binding is immediate; a context here would force one on bridge.Start, which has none
	if err != nil {
		return nil, fmt.Errorf("%s: listen on %q: %w", setting, addr, err)
	}
	return ln, nil
}
