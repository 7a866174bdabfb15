package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"
)

func lookupOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// otlpServer counts the OTLP trace requests it receives.
func otlpServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			n.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestSetupWithoutEndpointIsDisabled(t *testing.T) {
	srv, n := otlpServer(t)
	for name, env := range map[string]map[string]string{
		"nothing":      {},
		"sdk disabled": {EnvEndpoint: srv.URL, EnvSDKDisabled: "true"},
		"exporter off": {EnvEndpoint: srv.URL, EnvTracesExporter: "none"},
		"only service": {"OTEL_SERVICE_NAME": "x"},
	} {
		p, err := Setup(t.Context(), lookupOf(env), "test", nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.Enabled() {
			t.Errorf("%s: enabled", name)
		}
		_, span := p.Tracer("t").Start(t.Context(), "s")
		if span.IsRecording() || span.SpanContext().IsValid() {
			t.Errorf("%s: a no-op provider made a real span", name)
		}
		span.End()
		if err := p.Shutdown(t.Context()); err != nil {
			t.Error(err)
		}
	}
	if n.Load() != 0 {
		t.Errorf("%d OTLP requests without an endpoint", n.Load())
	}
}

func TestSetupExportsToEndpoint(t *testing.T) {
	for _, variable := range []string{EnvEndpoint, EnvTracesEndpoint} {
		srv, n := otlpServer(t)
		url := srv.URL
		if variable == EnvTracesEndpoint {
			url += "/v1/traces"
		}
		p, err := Setup(t.Context(), lookupOf(map[string]string{variable: url}), "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		_, span := p.Tracer("t").Start(t.Context(), "s")
		span.End()
		if err := p.Shutdown(t.Context()); err != nil { // flushes
			t.Fatalf("%s: %v", variable, err)
		}
		if n.Load() == 0 {
			t.Errorf("%s: no OTLP request arrived", variable)
		}
	}
}

func TestSetupRejects(t *testing.T) {
	for _, env := range []map[string]string{
		{EnvEndpoint: "collector:4318"},
		{EnvTracesEndpoint: "ftp://collector/"},
		{EnvEndpoint: "http://collector:4318", EnvProtocol: "grpc"},
		{EnvEndpoint: "http://collector:4318", EnvTracesProtocol: "http/json", EnvProtocol: "http/protobuf"},
	} {
		_, err := Setup(context.Background(), lookupOf(env), "test", nil)
		if err == nil || !strings.Contains(err.Error(), "OTEL_") {
			t.Errorf("%v: err %v, want one naming the variable", env, err)
		}
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, key := range []string{"traceparent", "Traceparent", "TRACEPARENT"} {
		ctx := Extract(context.Background(), nats.Header{key: {tp}})
		sc := trace.SpanContextFromContext(ctx)
		if sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || !sc.IsRemote() {
			t.Fatalf("%s: extracted %v", key, sc)
		}
		h := nats.Header{}
		Inject(ctx, h)
		if got := h.Get(HeaderTraceparent); got != tp {
			t.Errorf("%s: injected %q, want %q", key, got, tp)
		}
		if got, _ := Traceparent(ctx); got != tp {
			t.Errorf("Traceparent %q", got)
		}
		if sc2 := trace.SpanContextFromContext(WithTraceparent(context.Background(), tp, "")); !sc2.Equal(sc) {
			t.Errorf("WithTraceparent: %v, want %v", sc2, sc)
		}
	}
	if sc := SpanContextOf(nats.Header{"traceparent": {"garbage"}}); sc.IsValid() {
		t.Errorf("garbage traceparent gave %v", sc)
	}
	if got, _ := Traceparent(context.Background()); got != "" {
		t.Errorf("no span context gave %q", got)
	}
}
