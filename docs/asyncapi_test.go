package docs

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/bridge"
	"github.com/kybflow/kybflow/internal/streams"
)

// The AsyncAPI document (asyncapi.yaml) is checked twice: here, against the
// code (subjects, streams, event types, headers, consumers), and by
// scripts/contract-check/check.mjs, with the AsyncAPI parser and Ajv, which
// TestContractCheck runs.

// draft2020 is the schemaFormat of every payload given by a JSON Schema of
// schemas/.
const draft2020 = "application/schema+json;version=draft-2020-12"

type asyncAPIRef struct {
	Ref string `yaml:"$ref"`
}

// asyncAPIHeaders is a headers schema, inline or by $ref.
type asyncAPIHeaders struct {
	Ref        string   `yaml:"$ref"`
	Required   []string `yaml:"required"`
	Properties map[string]struct {
		Const     string `yaml:"const"`
		MaxLength int    `yaml:"maxLength"`
	} `yaml:"properties"`
}

type asyncAPIDoc struct {
	AsyncAPI string `yaml:"asyncapi"`
	Channels map[string]struct {
		Address    string                 `yaml:"address"`
		Stream     string                 `yaml:"x-jetstream-stream"`
		Parameters map[string]any         `yaml:"parameters"`
		Messages   map[string]asyncAPIRef `yaml:"messages"`
	} `yaml:"channels"`
	Operations map[string]struct {
		Action   string        `yaml:"action"`
		Channel  asyncAPIRef   `yaml:"channel"`
		Messages []asyncAPIRef `yaml:"messages"`
		Bindings struct {
			NATS *struct {
				Queue          string `yaml:"queue"`
				BindingVersion string `yaml:"bindingVersion"`
			} `yaml:"nats"`
		} `yaml:"bindings"`
	} `yaml:"operations"`
	Components struct {
		Messages map[string]struct {
			Name        string          `yaml:"name"`
			ContentType string          `yaml:"contentType"`
			Headers     asyncAPIHeaders `yaml:"headers"`
			Payload     struct {
				SchemaFormat string      `yaml:"schemaFormat"`
				Schema       asyncAPIRef `yaml:"schema"`
			} `yaml:"payload"`
			CloudEventsType string `yaml:"x-cloudevents-type"`
			DataSchema      string `yaml:"x-dataschema"`
		} `yaml:"messages"`
		Schemas map[string]asyncAPIHeaders `yaml:"schemas"`
	} `yaml:"components"`
}

func readAsyncAPI(t *testing.T) *asyncAPIDoc {
	t.Helper()
	b, err := os.ReadFile("asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc asyncAPIDoc
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("asyncapi.yaml: %v", err)
	}
	if doc.AsyncAPI != "3.0.0" {
		t.Fatalf("asyncapi.yaml: asyncapi %q, want 3.0.0", doc.AsyncAPI)
	}
	return &doc
}

// lookupParam stands for the lookupId in the code's subjects, so that they
// can be compared with the channel addresses.
const lookupParam = "{lookupId}"

// codeChannel is what the code says about a channel.
type codeChannel struct {
	stream   string
	kind     kybflow.Kind // for an event channel
	consumer string       // the worker's durable consumer, for a channel it receives
}

// codeChannels is every subject of the contract, by address with the
// default prefix.
func codeChannels() map[string]codeChannel {
	s, _ := kybflow.NewSubjects(kybflow.DefaultPrefix)
	out := map[string]codeChannel{
		s.CommandLookup():      {stream: s.CommandsStream(), consumer: streams.ConsumerCommands},
		s.DeadLetterCommands(): {stream: s.DeadLetterStream()},
		s.Webhook(lookupParam): {stream: s.WebhooksStream(), consumer: streams.ConsumerWebhooks},
		s.Check(lookupParam):   {stream: s.ChecksStream(), consumer: streams.ConsumerChecks},
	}
	for _, k := range kybflow.Kinds() {
		out[s.Event(lookupParam, k)] = codeChannel{stream: s.EventsStream(), kind: k}
	}
	return out
}

// TestAsyncAPIChannels checks the channels of asyncapi.yaml against the
// code: the same subjects, each in its stream, and each with a send and a
// receive operation; the worker's receive operations name its durable
// consumers as their NATS queue.
func TestAsyncAPIChannels(t *testing.T) {
	doc := readAsyncAPI(t)
	want := codeChannels()

	// The stream constants are the default prefix's stream names.
	s, _ := kybflow.NewSubjects(kybflow.DefaultPrefix)
	for _, c := range [][2]string{
		{kybflow.StreamCommands, s.CommandsStream()}, {kybflow.StreamEvents, s.EventsStream()},
		{kybflow.StreamWebhooks, s.WebhooksStream()}, {kybflow.StreamChecks, s.ChecksStream()},
		{kybflow.StreamDeadLetter, s.DeadLetterStream()},
	} {
		if c[0] != c[1] {
			t.Errorf("stream constant %s, but Subjects names it %s", c[0], c[1])
		}
	}

	byID := map[string]string{} // channel id -> address
	var got []string
	for id, ch := range doc.Channels {
		byID[id] = ch.Address
		got = append(got, ch.Address)
		c, ok := want[ch.Address]
		if !ok {
			t.Errorf("channel %s: address %q is no subject of the code", id, ch.Address)
			continue
		}
		if ch.Stream != c.stream {
			t.Errorf("channel %s (%s): x-jetstream-stream %q, want %q", id, ch.Address, ch.Stream, c.stream)
		}
		if _, has := ch.Parameters["lookupId"]; has != strings.Contains(ch.Address, lookupParam) || len(ch.Parameters) > 1 {
			t.Errorf("channel %s (%s): parameters %v, want lookupId exactly when the address has it", id, ch.Address, keys(ch.Parameters))
		}
		if len(ch.Messages) != 1 {
			t.Errorf("channel %s: %d messages, want 1", id, len(ch.Messages))
		}
	}
	var wantAddrs []string
	for a := range want {
		wantAddrs = append(wantAddrs, a)
	}
	slices.Sort(got)
	slices.Sort(wantAddrs)
	if !slices.Equal(got, wantAddrs) {
		t.Errorf("asyncapi.yaml channels %q,\nthe code's subjects %q", got, wantAddrs)
	}

	actions := map[string][]string{} // address -> actions
	for id, op := range doc.Operations {
		addr, ok := byID[strings.TrimPrefix(op.Channel.Ref, "#/channels/")]
		if !ok {
			t.Errorf("operation %s: channel %q is not a channel of the document", id, op.Channel.Ref)
			continue
		}
		actions[addr] = append(actions[addr], op.Action)
		queue := ""
		if n := op.Bindings.NATS; n != nil {
			queue = n.Queue
			if n.BindingVersion != "0.1.0" {
				t.Errorf("operation %s: NATS bindingVersion %q, want 0.1.0", id, n.BindingVersion)
			}
		}
		if op.Action == "receive" && queue != "" && queue != want[addr].consumer {
			t.Errorf("operation %s receives %s with queue %q; the worker's consumer of it is %q", id, addr, queue, want[addr].consumer)
		}
		if op.Action == "send" && queue != "" {
			t.Errorf("operation %s sends, with a queue %q", id, queue)
		}
	}
	for addr, c := range want {
		a := actions[addr]
		if !slices.Contains(a, "send") || !slices.Contains(a, "receive") {
			t.Errorf("channel %s: operations %q, want a send and a receive", addr, a)
		}
		if c.consumer == "" {
			continue
		}
		found := false
		for _, op := range doc.Operations {
			if byID[strings.TrimPrefix(op.Channel.Ref, "#/channels/")] == addr && op.Action == "receive" &&
				op.Bindings.NATS != nil && op.Bindings.NATS.Queue == c.consumer {
				found = true
			}
		}
		if !found {
			t.Errorf("channel %s: no receive operation with the NATS queue %s (the worker's consumer)", addr, c.consumer)
		}
	}
}

// TestAsyncAPIMessages checks the messages of asyncapi.yaml against the
// code: the events' type, dataschema and headers, the dead letters' and
// webhooks' headers, and that every JSON Schema payload is a file of
// schemas/ in draft 2020-12.
func TestAsyncAPIMessages(t *testing.T) {
	doc := readAsyncAPI(t)
	want := codeChannels()
	headers := func(h asyncAPIHeaders) asyncAPIHeaders {
		if name, ok := strings.CutPrefix(h.Ref, "#/components/schemas/"); ok {
			return doc.Components.Schemas[name]
		}
		return h
	}
	for id, ch := range doc.Channels {
		c := want[ch.Address]
		for _, ref := range ch.Messages {
			name, ok := strings.CutPrefix(ref.Ref, "#/components/messages/")
			m, found := doc.Components.Messages[name]
			if !ok || !found {
				t.Errorf("channel %s: message %q is not in components/messages", id, ref.Ref)
				continue
			}
			h := headers(m.Headers)
			if m.Payload.SchemaFormat != "" {
				if m.Payload.SchemaFormat != draft2020 {
					t.Errorf("message %s: schemaFormat %q, want %q", name, m.Payload.SchemaFormat, draft2020)
				}
				file := filepath.FromSlash(strings.TrimPrefix(m.Payload.Schema.Ref, "./"))
				if dir, _ := filepath.Split(file); dir != "schemas"+string(filepath.Separator) || !strings.HasSuffix(file, ".schema.json") {
					t.Errorf("message %s: payload $ref %q is not a file of schemas/", name, m.Payload.Schema.Ref)
				} else if _, err := os.Stat(file); err != nil {
					t.Errorf("message %s: payload: %v", name, err)
				}
			}
			if !slices.Contains(h.Required, "Nats-Msg-Id") && c.stream != kybflow.StreamChecks {
				t.Errorf("message %s: Nats-Msg-Id is not a required header", name)
			}
			if _, ok := h.Properties["Nats-Msg-Id"]; !ok {
				t.Errorf("message %s: no Nats-Msg-Id header", name)
			}
			switch {
			case c.kind != "":
				if m.Name != string(c.kind) {
					t.Errorf("message %s: name %q, want the kind %q", name, m.Name, c.kind)
				}
				if m.CloudEventsType != c.kind.EventType() {
					t.Errorf("message %s: x-cloudevents-type %q, want %q", name, m.CloudEventsType, c.kind.EventType())
				}
				if m.DataSchema != c.kind.DataSchema() {
					t.Errorf("message %s: x-dataschema %q, want %q", name, m.DataSchema, c.kind.DataSchema())
				}
				if m.ContentType != kybflow.ContentTypeCloudEvents {
					t.Errorf("message %s: contentType %q, want %q", name, m.ContentType, kybflow.ContentTypeCloudEvents)
				}
				if got := h.Properties["Content-Type"].Const; got != kybflow.ContentTypeCloudEvents || !slices.Contains(h.Required, "Content-Type") {
					t.Errorf("message %s: header Content-Type %q (required: %v), want the required constant %q",
						name, got, slices.Contains(h.Required, "Content-Type"), kybflow.ContentTypeCloudEvents)
				}
				for _, hdr := range []string{kybflow.HeaderTraceparent, kybflow.HeaderTracestate} {
					if _, ok := h.Properties[hdr]; !ok || slices.Contains(h.Required, hdr) {
						t.Errorf("message %s: no optional header %s", name, hdr)
					}
				}
				if m.Payload.Schema.Ref != "./schemas/event.schema.json" {
					t.Errorf("message %s: payload %q, want ./schemas/event.schema.json", name, m.Payload.Schema.Ref)
				}
			case c.stream == kybflow.StreamDeadLetter:
				for _, hdr := range []string{kybflow.HeaderDeadLetterReason, kybflow.HeaderDeadLetterSubject,
					kybflow.HeaderDeadLetterStream, kybflow.HeaderDeadLetterSequence} {
					if _, ok := h.Properties[hdr]; !ok || !slices.Contains(h.Required, hdr) {
						t.Errorf("message %s: no required header %s", name, hdr)
					}
				}
				code := deadLetterHeaders(t)
				for _, hdr := range code {
					if _, ok := h.Properties[hdr]; !ok {
						t.Errorf("message %s: no header %s (deadletter.go)", name, hdr)
					}
				}
				for hdr := range h.Properties {
					if strings.HasPrefix(hdr, "Kybflow-Dead-Letter-") && !slices.Contains(code, hdr) {
						t.Errorf("message %s: header %s is no HeaderDeadLetter constant of deadletter.go", name, hdr)
					}
				}
				if got := h.Properties[kybflow.HeaderDeadLetterReason].MaxLength; got != kybflow.MaxDeadLetterReasonLength {
					t.Errorf("message %s: %s maxLength %d, want %d", name, kybflow.HeaderDeadLetterReason, got, kybflow.MaxDeadLetterReasonLength)
				}
			case c.stream == kybflow.StreamWebhooks:
				for _, hdr := range []string{bridge.HeaderReceivedAt, amlapi.HeaderWebhookID, amlapi.HeaderWebhookTimestamp} {
					if _, ok := h.Properties[hdr]; !ok {
						t.Errorf("message %s: no header %s (the bridge adds it)", name, hdr)
					}
				}
				if _, ok := h.Properties[amlapi.HeaderWebhookSignature]; ok {
					t.Errorf("message %s: header %s, which the bridge does not copy", name, amlapi.HeaderWebhookSignature)
				}
			case c.stream == kybflow.StreamCommands:
				if m.Payload.Schema.Ref != "./schemas/lookup-command.schema.json" {
					t.Errorf("message %s: payload %q, want ./schemas/lookup-command.schema.json", name, m.Payload.Schema.Ref)
				}
			}
		}
	}
}

// deadLetterHeaders is the value of every HeaderDeadLetter* constant of
// deadletter.go, read from the source so that a header added there must be
// added to asyncapi.yaml too.
func deadLetterHeaders(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "deadletter.go"), nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, id := range vs.Names {
			if !strings.HasPrefix(id.Name, "HeaderDeadLetter") || i >= len(vs.Values) {
				continue
			}
			if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if v, err := strconv.Unquote(lit.Value); err == nil {
					out = append(out, v)
				}
			}
		}
		return true
	})
	if len(out) < 4 {
		t.Fatalf("deadletter.go: %d HeaderDeadLetter constants found, want at least 4: %q", len(out), out)
	}
	return out
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestContractCheck runs scripts/contract-check/check.mjs: the AsyncAPI
// parser on asyncapi.yaml, Ajv 2020 (strict) on every schema, and the golden
// files against them. It needs node and the script's packages (make
// contract-tools); without them it skips, unless REQUIRE_NODE_CHECKS=1
// (make test), which makes that a failure.
func TestContractCheck(t *testing.T) {
	const script = "scripts/contract-check/check.mjs"
	required := os.Getenv("REQUIRE_NODE_CHECKS") == "1"
	missing := ""
	node, err := exec.LookPath("node")
	if err != nil {
		missing = "node is not installed (not on PATH)"
	} else if _, err := os.Stat(filepath.Join("..", "scripts", "contract-check", "node_modules")); err != nil {
		missing = "scripts/contract-check/node_modules is missing (make contract-tools, or npm ci --prefix scripts/contract-check)"
	}
	if missing != "" {
		if required {
			t.Fatalf("REQUIRE_NODE_CHECKS=1, but %s", missing)
		}
		t.Skipf("skipping node %s: %s; set REQUIRE_NODE_CHECKS=1 to make this a failure", script, missing)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.FromSlash(script))
	cmd.Dir = ".." // the repository root
	out, err := cmd.CombinedOutput()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("node %s exited with %d:\n%s", script, exit.ExitCode(), out)
		}
		t.Fatalf("node %s: %v\n%s", script, err, out)
	}
	t.Logf("node %s:\n%s", script, out)
}
