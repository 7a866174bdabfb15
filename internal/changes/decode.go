package changes

// Reading a document: the raw JSON becomes a tree of map[string]any, []any,
// string, json.Number, bool and (in lists only) nil, without its volatile
// fields and its nulls, and with the bare strings the model reads as
// objects made objects (bareFields). Two trees are then compared by their
// canonical form (canonical), in which neither the order of keys nor the
// order of a list's entries nor the spelling of a number matters.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/kybflow/kybflow/internal/amlapi"
)

// ErrNotDocument: the bytes are not one JSON object (or null): empty, not
// JSON, another kind of JSON value, or followed by more than whitespace.
var ErrNotDocument = errors.New("not a JSON document")

// decode reads one JSON object (null is an object without keys) and
// returns it normalized (see normalize).
func decode(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers compared by value, whatever their size
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: empty", ErrNotDocument)
		}
		return nil, fmt.Errorf("%w: %w", ErrNotDocument, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the document", ErrNotDocument)
	}
	switch d := v.(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return normalizeObject(nil, d), nil
	}
	return nil, fmt.Errorf("%w: a JSON %s, not an object", ErrNotDocument, jsonKind(v))
}

// bareFields name, by path, the field that a bare string stands for where
// the typed decoders read a string or an object (amlapi.Code,
// amlapi.Registry, amlapi.Source, amlapi.Birthplace): the registry
// "Foretaksregisteret" is {"name": "Foretaksregisteret"}, so that one
// written either way is no change. A list's entries have the list's path;
// every list of sources (its last key is sources) is read as names.
var bareFields = map[string]string{
	"keyInformation.organizationType":    "code",
	"keyInformation.sectors":             "code",
	"keyInformation.institutionalSector": "code",
	"keyInformation.industrySector":      "code",
	"keyInformation.registries":          "name",
	"organization.organizationType":      "code",
	"ownership.beneficials.roles":        "code",
	"beneficialOwners.roles":             "code",
	"ownership.beneficials.birthplace":   "place",
	"beneficialOwners.birthplace":        "place",
}

// bareField is the field a bare string at path stands for, or "".
func bareField(path []string) string {
	if len(path) > 0 && path[len(path)-1] == sources {
		return "name"
	}
	return bareFields[strings.Join(path, ".")]
}

// normalize returns v without its volatile fields (amlapi.VolatileFields, by
// path: the object keys from the root, list indices left out), without
// the keys whose value is null (a null field is an absent field, as in the
// API's model: new elements are nullable; null is "not requested"), and
// with a bare string made an object where bareField says.
func normalize(path []string, v any) any {
	switch x := v.(type) {
	case string:
		if f := bareField(path); f != "" {
			return map[string]any{f: x}
		}
	case map[string]any:
		return normalizeObject(path, x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(path, e)
		}
		return out
	}
	return v
}

// normalizeObject is normalize of an object.
//
// The paths of a walk (here, and in objectChanges and field in diff.go)
// are a stack: path = append(path, key) on the way down, sharing one
// array, so that the walk costs the size of the document, not its size
// times its depth. So nothing may keep a path after the call it was
// given to.
func normalizeObject(path []string, m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		p := append(path, k) // a stack: see above
		// The walk stops at a volatile field: the fields inside it need
		// no asking.
		if v == nil || amlapi.IsVolatileField(p) {
			continue
		}
		out[k] = normalize(p, v)
	}
	return out
}

// jsonKind names the JSON kind of a decoded value.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	}
	return "number"
}

// isEmpty reports whether v is an empty node, {} or [].
func isEmpty(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// canonical is v as JSON with the keys of its objects sorted, its numbers
// written by value (1, 1.0 and 1e0 are 1) and the entries of its lists
// sorted: two values are equal, with no change between them, exactly when
// their canonical forms are.
func canonical(v any) string {
	var b strings.Builder
	writeCanonical(&b, v)
	return b.String()
}

func writeCanonical(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case json.Number:
		b.WriteString(number(x))
	case string:
		b.WriteString(quote(x))
	case []any:
		entries := make([]string, len(x))
		for i, e := range x {
			entries[i] = canonical(e)
		}
		slices.Sort(entries)
		b.WriteByte('[')
		b.WriteString(strings.Join(entries, ","))
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(quote(k))
			b.WriteByte(':')
			writeCanonical(b, x[k])
		}
		b.WriteByte('}')
	}
}

// quote is s as a JSON string.
func quote(s string) string {
	q, _ := json.Marshal(s) // a string always encodes
	return string(q)
}

// number is n written by value, in decimal without an exponent: an integer
// as its digits (exactly, however long), any other number in the shortest
// form that reads back as the same float64 (1.0 and 1e0 are 1, 1e6 is
// 1000000). A number float64 cannot hold (1e400) is kept as sent.
func number(n json.Number) string {
	s := string(n)
	if isInteger(s) {
		if s == "-0" {
			return "0"
		}
		return s
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	if f == 0 {
		return "0"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// isInteger reports whether s is a JSON integer: an optional minus and
// digits (JSON has no leading zeros, so the digits are canonical).
func isInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
