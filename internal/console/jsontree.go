package console

// The JSON result as a tree of nodes, for the document page to render as
// nested <details> elements: keys in the document's order, numbers as
// written, depth and size bounded.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Limits of a tree.
const (
	MaxTreeDepth = 64
	MaxTreeNodes = 200_000
)

// ErrTree is wrapped by decodeTree's errors.
var ErrTree = errors.New("cannot show the JSON as a tree")

// node is a value of the JSON: an object or an array has Children, a
// scalar a Value.
type node struct {
	Label    string // the member's name, or [index] in an array; "" at the root
	Kind     string // object, array, string, number, boolean, null
	Value    string // a scalar's text
	Children []*node
	Open     bool // shown unfolded (the first levels)
}

// Branch reports whether n has children to fold.
func (n *node) Branch() bool { return len(n.Children) > 0 }

// Meta describes a branch folded: {3} or [12].
func (n *node) Meta() string {
	if n.Kind == "object" {
		return "{" + strconv.Itoa(len(n.Children)) + "}"
	}
	return "[" + strconv.Itoa(len(n.Children)) + "]"
}

// openDepth is the number of levels shown unfolded.
const openDepth = 2

// decodeTree reads one JSON value, and nothing after it.
func decodeTree(data []byte) (*node, error) {
	d := &treeDecoder{dec: json.NewDecoder(bytes.NewReader(data))}
	d.dec.UseNumber()
	root, err := d.value("", 0)
	if err != nil {
		return nil, err
	}
	if _, err := d.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: more after the value", ErrTree)
	}
	return root, nil
}

type treeDecoder struct {
	dec   *json.Decoder
	nodes int
}

func (d *treeDecoder) value(label string, depth int) (*node, error) {
	if depth > MaxTreeDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrTree, MaxTreeDepth)
	}
	if d.nodes++; d.nodes > MaxTreeNodes {
		return nil, fmt.Errorf("%w: more than %d values", ErrTree, MaxTreeNodes)
	}
	tok, err := d.dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTree, err)
	}
	n := &node{Label: label, Open: depth < openDepth}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n.Kind = "object"
			for d.dec.More() {
				k, err := d.dec.Token()
				if err != nil {
					return nil, fmt.Errorf("%w: %w", ErrTree, err)
				}
				name, ok := k.(string)
				if !ok {
					return nil, fmt.Errorf("%w: a member name that is not a string", ErrTree)
				}
				c, err := d.value(name, depth+1)
				if err != nil {
					return nil, err
				}
				n.Children = append(n.Children, c)
			}
		case '[':
			n.Kind = "array"
			for i := 0; d.dec.More(); i++ {
				c, err := d.value("["+strconv.Itoa(i)+"]", depth+1)
				if err != nil {
					return nil, err
				}
				n.Children = append(n.Children, c)
			}
		default:
			return nil, fmt.Errorf("%w: unexpected %s", ErrTree, t)
		}
		if _, err := d.dec.Token(); err != nil { // the closing delimiter
			return nil, fmt.Errorf("%w: %w", ErrTree, err)
		}
	case string:
		n.Kind, n.Value = "string", strconv.Quote(t)
	case json.Number:
		n.Kind, n.Value = "number", t.String()
	case bool:
		n.Kind, n.Value = "boolean", strconv.FormatBool(t)
	case nil:
		n.Kind, n.Value = "null", "null"
	}
	if n.Kind == "object" && len(n.Children) == 0 {
		n.Value = "{}"
	} else if n.Kind == "array" && len(n.Children) == 0 {
		n.Value = "[]"
	}
	return n, nil
}
