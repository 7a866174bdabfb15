package amlapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Shape outlines a JSON body for a log line, without any of its values:
// the keys of objects (two levels deep, sorted, at most shapeKeys of them,
// each cut to shapeKeyLen bytes) and the type of each value. It is how a
// body this client cannot read is described to an operator, who can then
// correct model.go, with nothing personal in the log:
//
//	{"aml-report":string,"jsonData":{"status":string},"sessionId":string}
func Shape(body []byte) string {
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Sprintf("not JSON (%d bytes)", len(body))
	}
	var b strings.Builder
	outline(&b, v, 2)
	return b.String()
}

const (
	shapeKeys   = 20
	shapeKeyLen = 40
)

func outline(b *strings.Builder, v any, depth int) {
	switch x := v.(type) {
	case map[string]any:
		if depth == 0 {
			b.WriteString("{…}")
			return
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i == shapeKeys {
				fmt.Fprintf(b, ",…%d more", len(keys)-i)
				break
			}
			if i > 0 {
				b.WriteByte(',')
			}
			name := k
			if len(name) > shapeKeyLen {
				name = name[:shapeKeyLen] + "…"
			}
			fmt.Fprintf(b, "%q:", name)
			outline(b, x[k], depth-1)
		}
		b.WriteByte('}')
	case []any:
		fmt.Fprintf(b, "array(%d)", len(x))
	case string:
		b.WriteString("string")
	case json.Number:
		b.WriteString("number")
	case bool:
		b.WriteString("bool")
	case nil:
		b.WriteString("null")
	}
}
