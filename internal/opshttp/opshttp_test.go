package opshttp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestHandlerHealthReadinessMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "kybflow_test_total", Help: "t"})
	reg.MustRegister(c)
	c.Inc()
	storageUp := false
	srv := httptest.NewServer(Handler(reg, map[string]Check{
		"nats": func(context.Context) error { return nil },
		"storage": func(context.Context) error {
			if !storageUp {
				return errors.New("bucket unreachable")
			}
			return nil
		},
	}, map[string]Note{"national registry": func() string { return "GRANTED" }}))
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "storage: bucket unreachable") || !strings.Contains(body, "nats: ok") {
		t.Errorf("/readyz with storage down = %d %q", code, body)
	}
	storageUp = true
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, "national registry: GRANTED (informational)") {
		t.Errorf("/readyz all up = %d", code)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "kybflow_test_total 1") {
		t.Errorf("/metrics = %d %q", code, body)
	}
}

func TestServeShutsDownWhenContextEnds(t *testing.T) {
	ln, err := Listen("HTTP_ADDR", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, &http.Server{Handler: http.NotFoundHandler()}, ln, time.Second, slog.New(slog.DiscardHandler))
	}()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the context ended")
	}
	if _, err := Listen("HTTP_ADDR", "256.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "HTTP_ADDR") {
		t.Errorf("Listen error %v does not name the setting", err)
	}
}

// An idle keep-alive connection to an ops server is closed once its idle
// timeout passes (a shorter one here than the real IdleTimeout).
func TestOpsServerClosesIdleConnections(t *testing.T) {
	srv := NewServer(Handler(prometheus.NewRegistry(), nil, nil), slog.New(slog.DiscardHandler))
	if srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 || srv.ReadHeaderTimeout <= 0 {
		t.Fatalf("ops server timeouts %s %s %s %s: all must be set", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
	srv.IdleTimeout = 200 * time.Millisecond
	ln, err := Listen("HTTP_ADDR", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, srv, ln, time.Second, slog.New(slog.DiscardHandler)) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	if _, err := conn.Read(buf); err != nil {
		t.Fatalf("no answer: %v", err)
	}
	// Then nothing: the server must close the idle connection (EOF), well
	// before our 10 s read deadline.
	start := time.Now()
	for {
		if _, err := conn.Read(buf); err != nil {
			if errors.Is(err, io.EOF) && time.Since(start) < 5*time.Second {
				return
			}
			t.Fatalf("idle connection: %v after %s, want it closed by the server", err, time.Since(start))
		}
	}
}
