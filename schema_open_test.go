package kybflow_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kybflow/kybflow"
)

// The open variants of the schemas (docs/schemas/open) are the closed ones
// without additionalProperties false, with every enumeration of strings
// open to other strings (an enum outside an "if" becomes anyOf the enum
// and any string) and times of any precision, under their own $id. They
// are generated here, never edited: go test . -update rewrites them, and
// TestOpenSchemas fails when they drift from the closed ones.

// closedPhrase is the sentence part of the closed schemas' descriptions
// that the open variants replace with openPhrase.
const (
	closedPhrase = "Closed (additionalProperties false) so that the producer's tests catch drift"
	openPhrase   = "Open (no additionalProperties false), for consumers that must tolerate additions"
)

var (
	// closedLine and closedInline are the ways the closed schemas write
	// additionalProperties false: on a line of its own, or inside an
	// object written on one line.
	closedLine   = regexp.MustCompile(`(?m)^[ \t]*"additionalProperties": false,\n`)
	closedInline = regexp.MustCompile(`"additionalProperties": false, |, "additionalProperties": false\b`)
)

// The time patterns: the closed schemas' (UTC, at most milliseconds,
// what the producer writes) and the open variants' (any RFC 3339 time,
// what events of earlier versions carry too).
const (
	closedTimePattern = `^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,3})?Z$`
	openTimePattern   = `^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$`
)

// openComment is the $comment of the open variant of the schema file name.
func openComment(name string) string {
	return "Generated from ../" + name + " by go test . -update (schema_open_test.go): the same schema without additionalProperties false, with its enumerations open to other strings and times of any precision. Do not edit."
}

// openEnum is what an enumeration of strings becomes in the open variants.
func openEnum(enum any) any {
	return []any{map[string]any{"enum": enum}, map[string]any{"type": "string"}}
}

// onlyConst is the string of a schema that is {"const": <string>} alone.
func onlyConst(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", false
	}
	c, ok := m["const"].(string)
	return c, ok
}

// stringsOnly reports whether v is a JSON array of strings.
func stringsOnly(v any) bool {
	a, ok := v.([]any)
	for _, e := range a {
		if _, isString := e.(string); !isString {
			return false
		}
	}
	return ok
}

// textEdit replaces text[start:end] with repl.
type textEdit struct {
	start, end int
	repl       []byte
}

// openEdits finds in a closed schema's text what the open variant changes
// besides additionalProperties: each "enum" of strings outside an "if"
// (with its name, to become anyOf) and each closedTimePattern (its value).
// It walks the JSON token by token, so that the rest of the text keeps its
// layout.
func openEdits(text []byte) ([]textEdit, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	var edits []textEdit
	var walk func(inIf bool) error
	walk = func(inIf bool) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				key := kt.(string)
				keyEnd := int(dec.InputOffset())
				keyStart := bytes.LastIndexByte(text[:keyEnd-1], '"')
				if key == "dataschema" {
					// An event type's dataschema, fixed in the closed
					// schemas: the open ones take any URI (events of
					// earlier versions carry other ones).
					var v any
					if err := dec.Decode(&v); err != nil {
						return err
					}
					end := int(dec.InputOffset())
					if c, ok := onlyConst(v); ok {
						valueStart := keyEnd + bytes.IndexByte(text[keyEnd:], '{')
						q, _ := json.Marshal(c)
						edits = append(edits, textEdit{valueStart, end, fmt.Appendf(nil, `{ "anyOf": [{ "const": %s }, { "type": "string" }] }`, q)})
					}
					continue
				}
				if key == "enum" || key == "pattern" {
					var v any
					if err := dec.Decode(&v); err != nil {
						return err
					}
					end := int(dec.InputOffset())
					valueStart := keyEnd + bytes.IndexAny(text[keyEnd:], "[\"")
					switch {
					case key == "enum" && !inIf && stringsOnly(v):
						edits = append(edits, textEdit{keyStart, end,
							fmt.Appendf(nil, `"anyOf": [{ "enum": %s }, { "type": "string" }]`, text[valueStart:end])})
					case key == "pattern" && v == closedTimePattern:
						q, _ := json.Marshal(openTimePattern)
						edits = append(edits, textEdit{valueStart, end, q})
					}
					continue
				}
				if err := walk(inIf || key == "if"); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for dec.More() {
				if err := walk(inIf); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		return nil
	}
	return edits, walk(false)
}

// openSchema is the open variant of the closed schema file name: the same
// text with another $id, a $comment, the description's closedPhrase
// replaced and every additionalProperties false removed, so that the two
// files differ only there. checkOpenSchema checks the result.
func openSchema(name string, closed []byte) ([]byte, error) {
	idLine := fmt.Sprintf("  \"$id\": %q,\n", kybflow.SchemaBaseURI+name)
	if bytes.Count(closed, []byte(idLine)) != 1 {
		return nil, fmt.Errorf("%s: want exactly one line %q", name, strings.TrimSpace(idLine))
	}
	edits, err := openEdits(closed)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	open := slices.Clone(closed)
	for i := len(edits) - 1; i >= 0; i-- { // from the end: the offsets before stay right
		e := edits[i]
		open = slices.Concat(open[:e.start], e.repl, open[e.end:])
	}
	open = bytes.Replace(open, []byte(idLine), fmt.Appendf(nil, "  \"$id\": %q,\n  \"$comment\": %q,\n",
		openSchemaBaseURI+name, openComment(name)), 1)
	open = bytes.ReplaceAll(open, []byte(closedPhrase), []byte(openPhrase))
	open = closedLine.ReplaceAll(open, nil)
	open = closedInline.ReplaceAll(open, nil)
	if err := checkOpenSchema(name, closed, open); err != nil {
		return nil, err
	}
	return open, nil
}

// checkOpenSchema checks that open is closed with the changes openSchema
// means to make and no others, compared as JSON values: the text
// replacements cannot have missed an additionalProperties false or broken
// the JSON.
func checkOpenSchema(name string, closed, open []byte) error {
	var want, got any
	if err := json.Unmarshal(closed, &want); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := json.Unmarshal(open, &got); err != nil {
		return fmt.Errorf("open/%s is not JSON: %w", name, err)
	}
	want = openValue(want, false)
	root := want.(map[string]any)
	root["$id"] = openSchemaBaseURI + name
	root["$comment"] = openComment(name)
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("open/%s is not %s without additionalProperties false; the generator missed something", name, name)
	}
	return nil
}

// openValue removes every additionalProperties false from a decoded
// schema, replaces closedPhrase in its descriptions, opens its
// enumerations of strings outside an "if" and its time patterns.
func openValue(v any, inIf bool) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range v {
			switch s, isString := val.(string); {
			case k == "additionalProperties" && val == false:
				continue
			case k == "description" && isString:
				val = strings.ReplaceAll(s, closedPhrase, openPhrase)
			case k == "pattern" && s == closedTimePattern:
				val = openTimePattern
			case k == "enum" && !inIf && stringsOnly(val):
				out["anyOf"] = openEnum(val)
				continue
			case k == "dataschema":
				if c, ok := onlyConst(val); ok {
					out[k] = map[string]any{"anyOf": []any{map[string]any{"const": c}, map[string]any{"type": "string"}}}
					continue
				}
			}
			out[k] = openValue(val, inIf || k == "if")
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, val := range v {
			out[i] = openValue(val, inIf)
		}
		return out
	}
	return v
}

// TestOpenSchemas generates docs/schemas/open from docs/schemas (with
// -update) or checks that it is what the closed schemas generate.
func TestOpenSchemas(t *testing.T) {
	closed, err := filepath.Glob(filepath.Join(schemaDir, "*.schema.json"))
	if err != nil || len(closed) == 0 {
		t.Fatalf("no schemas in %s: %v", schemaDir, err)
	}
	if *update {
		if err := os.MkdirAll(openSchemaDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]bool{}
	for _, f := range closed {
		name := filepath.Base(f)
		want[name] = true
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		gen, err := openSchema(name, b)
		if err != nil {
			t.Error(err)
			continue
		}
		path := filepath.Join(openSchemaDir, name)
		if *update {
			if err := os.WriteFile(path, gen, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		have, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (run go test . -update to generate it)", err)
			continue
		}
		if !bytes.Equal(have, gen) {
			t.Errorf("%s is not what %s generates: it drifted (run go test . -update, never edit it)", path, f)
		}
	}
	files, _ := filepath.Glob(filepath.Join(openSchemaDir, "*"))
	for _, f := range files {
		if !want[filepath.Base(f)] {
			t.Errorf("%s has no closed schema in %s: remove it", f, schemaDir)
		}
	}
}

// TestGoldenEventsOpen validates every golden event against the open
// variant too, and checks the difference the variant exists for: an
// event with a field added (to the envelope's data and to an artifact)
// passes the open schema and fails the closed one.
func TestGoldenEventsOpen(t *testing.T) {
	closed, open := schemas(t), openSchemas(t)
	files, err := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	if err != nil || len(files) != len(kybflow.Kinds()) {
		t.Fatalf("%d golden events, want %d: %v", len(files), len(kybflow.Kinds()), err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate(open.event, b); err != nil {
			t.Errorf("%s: open event schema: %v", f, err)
		}
		var e map[string]any
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		if err := validate(open.data[kybflow.Kind(strings.TrimSuffix(filepath.Base(f), ".json"))], mustJSON(t, e["data"])); err != nil {
			t.Errorf("%s: open data schema: %v", f, err)
		}
		data := e["data"].(map[string]any)
		data["addedLater"] = "a field of a later v1"
		if as, ok := data["artifacts"].([]any); ok {
			as[0].(map[string]any)["addedLater"] = true
		}
		grown := mustJSON(t, e)
		if err := validate(open.event, grown); err != nil {
			t.Errorf("%s with a field added: open event schema: %v", f, err)
		}
		if validate(closed.event, grown) == nil {
			t.Errorf("%s with a field added: the closed event schema accepts it", f)
		}
		// An event of an earlier version names its schema otherwise (the
		// schemas-v1 URIs): read as the same file, accepted by the open
		// schema only.
		delete(data, "addedLater")
		if as, ok := data["artifacts"].([]any); ok {
			delete(as[0].(map[string]any), "addedLater")
		}
		e["dataschema"] = "https://github.com/kybflow/kybflow/blob/schemas-v1/docs/schemas/" + filepath.Base(f)
		older := mustJSON(t, e)
		if err := validate(open.event, older); err != nil {
			t.Errorf("%s with an earlier dataschema: open event schema: %v", f, err)
		}
		if validate(closed.event, older) == nil {
			t.Errorf("%s with an earlier dataschema: the closed event schema accepts it", f)
		}
	}
}

// TestGoldenCommandsOpen checks that the open command schema accepts the
// golden commands the closed one accepts.
func TestGoldenCommandsOpen(t *testing.T) {
	closed, open := schemas(t), openSchemas(t)
	files, err := filepath.Glob(filepath.Join("testdata", "commands", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no command files: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if validate(closed.command, b) == nil {
			if err := validate(open.command, b); err != nil {
				t.Errorf("%s: the closed command schema accepts it, the open one does not: %v", f, err)
			}
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
