package console

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDecodeTree(t *testing.T) {
	root, err := decodeTree([]byte(`{"b": [1, 2.50, {"c": null}], "a": "x<y", "e": {}, "f": [], "t": true}`))
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, c := range root.Children {
		labels = append(labels, c.Label+"="+c.Kind+":"+c.Value)
	}
	if got := strings.Join(labels, " "); got != `b=array: a=string:"x<y" e=object:{} f=array:[] t=boolean:true` {
		t.Errorf("members in order: %s", got)
	}
	b := root.Children[0]
	if !b.Open || b.Meta() != "[3]" || b.Children[1].Value != "2.50" || b.Children[1].Label != "[1]" || b.Children[2].Open {
		t.Errorf("array: %+v", b)
	}
	for _, bad := range []string{``, `{`, `{"a":1}{}`, `[1,]`, `{"a" 1}`, strings.Repeat("[", MaxTreeDepth+2) + strings.Repeat("]", MaxTreeDepth+2)} {
		if _, err := decodeTree([]byte(bad)); !errors.Is(err, ErrTree) {
			t.Errorf("decodeTree(%.20q): %v, want ErrTree", bad, err)
		}
	}
}

// FuzzDecodeTree: whatever the stored JSON, decodeTree returns a tree or
// ErrTree, never panics, and takes only valid JSON.
func FuzzDecodeTree(f *testing.F) {
	for _, s := range []string{`{"a":[1,{"b":null}],"c":"d"}`, `[]`, `"x"`, `1e400`, `{"a":1}{}`, `[[[[[]]]]]`, "{\"\\u00e9\":true}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		root, err := decodeTree(data)
		if err != nil {
			if !errors.Is(err, ErrTree) {
				t.Fatalf("error %v does not wrap ErrTree", err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("decodeTree took invalid JSON %q", data)
		}
		if root == nil || root.Kind == "" {
			t.Fatalf("no root for %q", data)
		}
	})
}

func TestTraceID(t *testing.T) {
	for tp, want := range map[string]string{
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01": "0af7651916cd43dd8448eb211c80319c",
		"00-00000000000000000000000000000000-b7ad6b7169203331-01": "",
		"00-0af7651916cd43dd8448eb211c80319z-b7ad6b7169203331-01": "",
		"": "", "00-short": "",
	} {
		id, ok := traceID(tp)
		got := ""
		if ok {
			got = strings.ToLower(strings.TrimSpace(hexString(id[:])))
		}
		if got != want {
			t.Errorf("traceID(%q) = %q, want %q", tp, got, want)
		}
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
