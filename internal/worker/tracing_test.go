package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/handler"
	"github.com/kybflow/kybflow/internal/testenv"
	"github.com/kybflow/kybflow/internal/tracing"
)

// tracedEnv is an env whose workers and bridge record their spans in
// memory.
func tracedEnv(t *testing.T, webhooks bool) (*env, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	e := newEnv(t, envOptions{tracing: tracing.Use(tp)})
	e.start(webhooks, 1)
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) }) // after the workers stopped (cleanups run last first)
	return e, exp
}

// publishTraced publishes a command with a traceparent header ("" for
// none), as a traced platform would.
func (e *env) publishTraced(c cmd, traceparent string) {
	e.t.Helper()
	data, _ := json.Marshal(c)
	msg := &nats.Msg{Subject: "aml.commands.lookup", Data: data, Header: nats.Header{}}
	if traceparent != "" {
		msg.Header.Set(kybflow.HeaderTraceparent, traceparent)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := e.js.PublishMsg(ctx, msg, jetstream.WithMsgID(c.LookupID)); err != nil {
		e.t.Fatal(err)
	}
}

// spansOf are the ended spans with the lookup's id, and every span of
// their traces.
func spansOf(exp *tracetest.InMemoryExporter, lookupID string) (mine, all tracetest.SpanStubs) {
	all = exp.GetSpans()
	for _, s := range all {
		for _, a := range s.Attributes {
			if a.Key == handler.AttrLookupID && a.Value.AsString() == lookupID {
				mine = append(mine, s)
			}
		}
	}
	return mine, all
}

func attr(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

// waitSpans waits until every wanted "name" or "name artifact" span of
// lookupID has ended in trace tid, and returns the lookup's spans.
func waitSpans(t *testing.T, exp *tracetest.InMemoryExporter, lookupID string, tid trace.TraceID, want ...string) tracetest.SpanStubs {
	t.Helper()
	var mine tracetest.SpanStubs
	testenv.Eventually(t, 10*time.Second, func() error {
		mine, _ = spansOf(exp, lookupID)
		have := map[string]bool{}
		for _, s := range mine {
			if s.SpanContext.TraceID() != tid {
				return fmt.Errorf("span %s of %s in trace %s, want %s", s.Name, lookupID, s.SpanContext.TraceID(), tid)
			}
			have[s.Name] = true
			if a := attr(s, string(handler.AttrArtifact)); a != "" {
				have[s.Name+" "+a] = true
			}
		}
		for _, w := range want {
			if !have[w] {
				return fmt.Errorf("no span %q of %s yet (have %v)", w, lookupID, have)
			}
		}
		return nil
	})
	return mine
}

// eventHeader is a NATS header of the last event of lookupID of kind.
func (e *env) eventHeader(lookupID string, kind kybflow.Kind, name string) string {
	e.t.Helper()
	s, err := e.js.Stream(context.Background(), "AML_EVENTS")
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(context.Background(), "aml.events."+lookupID+"."+string(kind))
	if err != nil {
		e.t.Fatal(err)
	}
	return m.Header.Get(name)
}

// TestTraceOfALookup: a command with a traceparent is one trace, through
// session creation, the checks, each download and upload and the events,
// and the events carry it (envelope and header); a command without one
// starts a trace of its own. No span carries the identifier, the
// correlationId or the metadata.
func TestTraceOfALookup(t *testing.T) {
	e, exp := tracedEnv(t, false)

	const (
		parentTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		parent      = "00-" + parentTrace + "-00f067aa0ba902b7-01"
		canaryID    = "923609016"        // the organization's identifier
		canaryCorr  = "corr-canary-7d31" // and the caller's own data
		canaryMeta  = "meta-canary-5e02"
	)
	c := cmd{LookupID: "traced-1", Type: "organization", Country: "NO", Identifier: canaryID,
		Reports: []string{"aml"}, CorrelationID: canaryCorr, Metadata: json.RawMessage(`{"note":"` + canaryMeta + `"}`)}
	e.publishTraced(c, parent)
	ev := e.terminal(c.LookupID, 30*time.Second)
	completedData(t, ev)
	tid, _ := trace.TraceIDFromHex(parentTrace)

	mine := waitSpans(t, exp, c.LookupID, tid, "lookup command", "create session", "lookup check", "session status",
		"download json", "upload json", "download report:aml", "upload report:aml", "publish accepted", "publish session_opened", "publish completed")
	for _, s := range mine {
		if s.Name == "lookup command" && s.Parent.SpanID().String() != "00f067aa0ba902b7" {
			t.Errorf("command span's parent %s, want the command's traceparent", s.Parent.SpanID())
		}
		if strings.HasPrefix(s.Name, "upload") && attr(s, string(handler.AttrSize)) == "" {
			t.Errorf("%s span without its size", s.Name)
		}
	}

	// The completed event carries the trace, in its envelope and its header.
	if !strings.HasPrefix(ev.TraceParent, "00-"+parentTrace+"-") {
		t.Errorf("completed event traceparent %q, want one of trace %s", ev.TraceParent, parentTrace)
	}
	if h := e.eventHeader(c.LookupID, kybflow.KindCompleted, kybflow.HeaderTraceparent); h != ev.TraceParent {
		t.Errorf("completed event's traceparent header %q, envelope %q", h, ev.TraceParent)
	}

	// Without a traceparent, the worker starts the trace.
	c2 := cmd{LookupID: "traced-2", Type: "organization", Country: "SE", Identifier: "556036-0793"}
	e.publishTraced(c2, "")
	ev2 := e.terminal(c2.LookupID, 30*time.Second)
	tid2, err := trace.TraceIDFromHex(strings.Split(ev2.TraceParent+"-", "-")[1])
	if err != nil || tid2 == tid {
		t.Fatalf("event of an untraced command: traceparent %q (%v)", ev2.TraceParent, err)
	}
	for _, s := range waitSpans(t, exp, c2.LookupID, tid2, "lookup command", "lookup check", "publish completed") {
		if s.Name == "lookup command" && s.Parent.IsValid() {
			t.Errorf("untraced command's span has a parent %v", s.Parent)
		}
	}

	// No personal data, nor the caller's own, in any span.
	_, all := spansOf(exp, "")
	if len(all) < 20 {
		t.Fatalf("%d spans recorded", len(all))
	}
	for _, s := range all {
		text := []string{s.Name, s.Status.Description}
		for _, a := range s.Attributes {
			text = append(text, string(a.Key), a.Value.String())
		}
		for _, ev := range s.Events {
			text = append(text, ev.Name)
			for _, a := range ev.Attributes {
				text = append(text, a.Value.String())
			}
		}
		for _, l := range s.Links {
			for _, a := range l.Attributes {
				text = append(text, a.Value.String())
			}
		}
		joined := strings.Join(text, " ")
		for _, canary := range []string{canaryID, canaryCorr, canaryMeta, "556036", "5560360793"} {
			if strings.Contains(joined, canary) {
				t.Errorf("span %q carries %q: %s", s.Name, canary, joined)
			}
		}
	}
}

// TestTraceOfAWebhook: the bridge makes a span for each webhook, and the
// worker's span that handles it is in the lookup's trace, linked to it.
func TestTraceOfAWebhook(t *testing.T) {
	e, exp := tracedEnv(t, true)
	c := cmd{LookupID: "traced-wh", Type: "organization", Country: "NO", Identifier: "974760673", Reports: []string{"aml"}}
	e.publishTraced(c, "")
	ev := e.terminal(c.LookupID, 30*time.Second)
	completedData(t, ev)
	tid, err := trace.TraceIDFromHex(strings.Split(ev.TraceParent+"-", "-")[1])
	if err != nil {
		t.Fatalf("traceparent %q: %v", ev.TraceParent, err)
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		mine, all := spansOf(exp, c.LookupID)
		bridgeSpans := map[trace.SpanID]tracetest.SpanStub{}
		for _, s := range all {
			if s.Name == "webhook" && s.SpanKind == trace.SpanKindServer {
				bridgeSpans[s.SpanContext.SpanID()] = s
			}
		}
		for _, s := range mine {
			if s.Name != "lookup webhook" {
				continue
			}
			if s.SpanContext.TraceID() != tid {
				return fmt.Errorf("webhook span in trace %s, want the lookup's %s", s.SpanContext.TraceID(), tid)
			}
			for _, l := range s.Links {
				if b, ok := bridgeSpans[l.SpanContext.SpanID()]; ok {
					if attr(b, "kybflow.lookup_id") != c.LookupID || attr(b, "kybflow.outcome") != "published" {
						return fmt.Errorf("bridge span attributes %v", b.Attributes)
					}
					return nil
				}
			}
		}
		return fmt.Errorf("no worker webhook span linked to a bridge span yet (%d bridge spans)", len(bridgeSpans))
	})
}
