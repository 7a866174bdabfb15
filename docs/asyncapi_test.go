package docs

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/streams"
)

// The AsyncAPI document (asyncapi.yaml) is checked twice: here, against the
// code (subjects, streams, event types, headers, consumers), and by
// scripts/contract-check/check.mjs, with the AsyncAPI parser and Ajv, which
// TestContractCheck runs.

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

// tenantParam stands for a tenant likewise.
const tenantParam = "{tenant}"

// monitorParam stands for a monitor's key (its monitorId, or
// <tenant>.<monitorId>) likewise.
const monitorParam = "{monitorKey}"

// codeChannel is what the code says about a channel.
type codeChannel struct {
	stream   string
	kind     kybflow.Kind // for an event channel
	consumer string       // the worker's durable consumer, for a channel it receives
	payload  string       // the schema of a command's payload
}

// codeChannels is every subject of the contract, by address with the
// default prefix.
func codeChannels() map[string]codeChannel {
	s, _ := kybflow.NewSubjects(kybflow.DefaultPrefix)
	out := map[string]codeChannel{
		s.CommandLookup():                       {stream: s.CommandsStream(), consumer: streams.ConsumerCommands, payload: lookupCommandSchema},
		s.CommandLookupOf(tenantParam):          {stream: s.CommandsStream(), consumer: streams.ConsumerCommands, payload: lookupCommandSchema},
		s.CommandMonitor():                      {stream: s.CommandsStream(), consumer: streams.ConsumerCommands, payload: monitorCommandSchema},
		s.CommandMonitorOf(tenantParam):         {stream: s.CommandsStream(), consumer: streams.ConsumerCommands, payload: monitorCommandSchema},
		s.DeadLetterCommands():                  {stream: s.DeadLetterStream()},
		streams.NamesOf(s).Webhook(lookupParam): {stream: streams.NamesOf(s).WebhooksStream(), consumer: streams.ConsumerWebhooks},
		streams.NamesOf(s).Check(lookupParam):   {stream: streams.NamesOf(s).ChecksStream(), consumer: streams.ConsumerChecks},
	}
	for _, k := range kybflow.Kinds() {
		key := lookupParam
		if k == kybflow.KindMonitor {
			key = monitorParam // a monitor's events are on its own key
		}
		out[s.Event(key, k)] = codeChannel{stream: s.EventsStream(), kind: k}
	}
	return out
}

// The payloads of commands.
const (
	lookupCommandSchema  = "./schemas/lookup-command.schema.json"
	monitorCommandSchema = "./schemas/monitor-command.schema.json"
)

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
		{streams.StreamWebhooks, streams.NamesOf(s).WebhooksStream()}, {streams.StreamChecks, streams.NamesOf(s).ChecksStream()},
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
		_, hasLookup := ch.Parameters["lookupId"]
		_, hasTenant := ch.Parameters["tenant"]
		_, hasMonitor := ch.Parameters["monitorKey"]
		if hasLookup != strings.Contains(ch.Address, lookupParam) || hasTenant != strings.Contains(ch.Address, tenantParam) ||
			hasMonitor != strings.Contains(ch.Address, monitorParam) || len(ch.Parameters) > btoi(hasLookup)+btoi(hasTenant)+btoi(hasMonitor) {
			t.Errorf("channel %s (%s): parameters %v, want lookupId, tenant and monitorKey exactly when the address has them", id, ch.Address, keys(ch.Parameters))
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

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
