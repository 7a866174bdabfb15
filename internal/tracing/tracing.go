// Package tracing is the worker's and the bridge's OpenTelemetry wiring:
// a tracer provider set up from the standard OTEL_* environment (exporting
// by OTLP over HTTP only when an endpoint is set; otherwise a no-op), and
// W3C Trace Context carried in NATS headers and in text form (a lookup's
// record, an event's traceparent attribute).
//
// Nothing here is global: Setup's provider is handed to the program that
// uses it, and that program's Run flushes it at the end (Shutdown).
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/kybflow/kybflow/internal/envconfig"
)

// W3C Trace Context header names, as NATS headers (lower case, as the
// W3C recommends; Extract also reads other spellings).
const (
	HeaderTraceparent = "traceparent"
	HeaderTracestate  = "tracestate"
)

// Provider is a tracer provider and the flush that ends it.
type Provider struct {
	trace.TracerProvider
	shutdown func(context.Context) error
	enabled  bool
}

// Disabled is a provider that records and exports nothing (a no-op: a span
// started from a context that carries a remote span context keeps that
// span context, so propagation still works).
func Disabled() *Provider { return &Provider{TracerProvider: noop.NewTracerProvider()} }

// Use wraps a provider its caller owns (a test's, with an in-memory
// exporter): Shutdown leaves it alone.
func Use(tp trace.TracerProvider) *Provider { return &Provider{TracerProvider: tp, enabled: true} }

// Enabled reports whether spans are recorded.
func (p *Provider) Enabled() bool { return p != nil && p.enabled }

// Shutdown flushes the spans not exported yet and stops the exporter (a
// no-op for Disabled and Use).
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil || p.shutdown == nil {
		return nil
	}
	return p.shutdown(ctx)
}

// ShutdownTimeout bounds the flush at the end of a program's Run.
const ShutdownTimeout = 5 * time.Second

// Variables Setup reads itself. The exporter and the SDK read the other
// OTEL_* variables from the process environment (headers, timeout,
// certificates, sampler, batch sizes, resource attributes): see
// docs/operations.md.
const (
	EnvEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvSDKDisabled    = "OTEL_SDK_DISABLED"
	EnvTracesExporter = "OTEL_TRACES_EXPORTER"
)

// Setup returns the provider the environment asks for: spans exported by
// OTLP over HTTP (protobuf) to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as
// is) or OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1/traces) when one is set, in
// batches; Disabled otherwise, and when OTEL_SDK_DISABLED is true or
// OTEL_TRACES_EXPORTER is none. service is the default service.name
// (OTEL_SERVICE_NAME wins). Export errors are logged on log, as warnings.
// An endpoint that is not an http(s) URL, or a protocol other than
// http/protobuf, is an error naming its variable.
func Setup(ctx context.Context, lookup envconfig.Lookup, service string, log *slog.Logger) (*Provider, error) {
	get := func(name string) string { v, _ := lookup(name); return strings.TrimSpace(v) }
	if strings.EqualFold(get(EnvSDKDisabled), "true") || strings.EqualFold(get(EnvTracesExporter), "none") {
		return Disabled(), nil
	}
	endpoint, variable := get(EnvTracesEndpoint), EnvTracesEndpoint
	if endpoint == "" && get(EnvEndpoint) != "" {
		endpoint, variable = strings.TrimRight(get(EnvEndpoint), "/")+"/v1/traces", EnvEndpoint
	}
	if endpoint == "" {
		return Disabled(), nil
	}
	if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: %q is not an http or https URL", variable, endpoint)
	}
	for _, name := range []string{EnvTracesProtocol, EnvProtocol} {
		if p := get(name); p != "" {
			if p != "http/protobuf" {
				return nil, fmt.Errorf("%s: %q is not supported; only http/protobuf is", name, p)
			}
			break
		}
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", variable, err)
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(attribute.String("service.name", service)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("tracing resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	if log != nil {
		// The SDK reports export failures through its one error handler.
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing", "err", err) }))
	}
	return &Provider{TracerProvider: tp, shutdown: tp.Shutdown, enabled: true}, nil
}

// propagator is W3C Trace Context (traceparent, tracestate).
var propagator = propagation.TraceContext{}

// headerCarrier carries trace context in NATS headers, which are
// case-sensitive: it writes the W3C (lower-case) names and reads any
// spelling.
type headerCarrier nats.Header

func (c headerCarrier) Get(key string) string {
	if v := nats.Header(c).Get(key); v != "" {
		return v
	}
	for k, v := range c {
		if strings.EqualFold(k, key) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func (c headerCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

func (c headerCarrier) Keys() []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	return out
}

// Extract returns ctx with the remote span context of h, if h carries a
// valid traceparent.
func Extract(ctx context.Context, h nats.Header) context.Context {
	if h == nil {
		return ctx
	}
	return propagator.Extract(ctx, headerCarrier(h))
}

// Inject writes the span context of ctx into h (nothing when it has none).
func Inject(ctx context.Context, h nats.Header) {
	propagator.Inject(ctx, headerCarrier(h))
}

// SpanContextOf is the span context h carries (invalid when none), for a
// link.
func SpanContextOf(h nats.Header) trace.SpanContext {
	return trace.SpanContextFromContext(Extract(context.Background(), h))
}

// Traceparent is the W3C traceparent and tracestate of the span context of
// ctx, "" when it has none.
func Traceparent(ctx context.Context) (traceparent, tracestate string) {
	m := propagation.MapCarrier{}
	propagator.Inject(ctx, m)
	return m[HeaderTraceparent], m[HeaderTracestate]
}

// WithTraceparent returns ctx with the remote span context of a
// traceparent (and tracestate), when it is valid.
func WithTraceparent(ctx context.Context, traceparent, tracestate string) context.Context {
	if traceparent == "" {
		return ctx
	}
	m := propagation.MapCarrier{HeaderTraceparent: traceparent}
	if tracestate != "" {
		m[HeaderTracestate] = tracestate
	}
	return propagator.Extract(ctx, m)
}
