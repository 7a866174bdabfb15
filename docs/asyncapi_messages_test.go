// The messages of asyncapi.yaml checked against the code (the document's types are in asyncapi_test.go).

package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/bridge"
	"github.com/kybflow/kybflow/internal/streams"
)

// draft2020 is the schemaFormat of every payload given by a JSON Schema of
// schemas/.
const draft2020 = "application/schema+json;version=draft-2020-12"

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
				ref, _, _ := strings.Cut(m.Payload.Schema.Ref, "#") // an event's payload is a $def of event.schema.json
				file := filepath.FromSlash(strings.TrimPrefix(ref, "./"))
				if dir, _ := filepath.Split(file); dir != "schemas"+string(filepath.Separator) || !strings.HasSuffix(file, ".schema.json") {
					t.Errorf("message %s: payload $ref %q is not a file of schemas/", name, m.Payload.Schema.Ref)
				} else if _, err := os.Stat(file); err != nil {
					t.Errorf("message %s: payload: %v", name, err)
				}
			}
			if !slices.Contains(h.Required, "Nats-Msg-Id") && c.stream != streams.StreamChecks {
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
				// Each event type has its own payload, its data typed by
				// the kind's data schema (schema_test.go checks the $def).
				if want := "./schemas/event.schema.json#/$defs/" + string(c.kind); m.Payload.Schema.Ref != want {
					t.Errorf("message %s: payload %q, want %s", name, m.Payload.Schema.Ref, want)
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
			case c.stream == streams.StreamWebhooks:
				for _, hdr := range []string{bridge.HeaderReceivedAt, amlapi.HeaderWebhookID, amlapi.HeaderWebhookTimestamp} {
					if _, ok := h.Properties[hdr]; !ok {
						t.Errorf("message %s: no header %s (the bridge adds it)", name, hdr)
					}
				}
				if _, ok := h.Properties[amlapi.HeaderWebhookSignature]; ok {
					t.Errorf("message %s: header %s, which the bridge does not copy", name, amlapi.HeaderWebhookSignature)
				}
			case c.stream == kybflow.StreamCommands:
				if m.Payload.Schema.Ref != c.payload {
					t.Errorf("message %s: payload %q, want %s", name, m.Payload.Schema.Ref, c.payload)
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
