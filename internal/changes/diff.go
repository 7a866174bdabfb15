package changes

// Comparing two values: objects key by key, lists entry by entry (entries
// matched by their identity, identity.go, so that the order of a list
// never matters), anything else by value. The result is the structured
// diff, Diff, and the counts of each block (see BlockChange for how they
// are counted).

import (
	"log/slog"
	"slices"
)

// DiffVersion is the version of Diff's JSON shape. It changes when the
// shape does, so that a reader of stored diffs can tell an old one.
const DiffVersion = 1

// Diff is the full structured diff of two documents: personal data, stored
// like the results. LogValue logs only its counts.
type Diff struct {
	Version int         `json:"version"`
	Kind    Kind        `json:"kind"`
	Blocks  []BlockDiff `json:"blocks"`
}

// BlockDiff is the diff of one block: its counts and what changed in it.
type BlockDiff struct {
	BlockChange
	Changes []Change `json:"changes"`
}

// Op is what happened to a field or an entry.
type Op string

// The operations of a Change.
const (
	OpAdded    Op = "added"
	OpRemoved  Op = "removed"
	OpModified Op = "modified"
)

// Change is one change in a block: at a field of an object (Key is the
// field's name) or at an entry of a list (Key is the entry's identity, the
// canonical JSON of its identity fields, see identity.go). An added field
// or entry has After, a removed one Before; a modified one has Changes,
// what changed inside it, when both sides are non-empty objects or both
// lists, and Before and After otherwise. A change to a whole block that
// is not an object or a list has an empty Key.
type Change struct {
	Op      Op       `json:"op"`
	Key     string   `json:"key"`
	Before  any      `json:"before,omitempty"`
	After   any      `json:"after,omitempty"`
	Changes []Change `json:"changes,omitempty"`
}

// LogValue logs the counts of each block, never a value.
func (d Diff) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, len(d.Blocks))
	for _, b := range d.Blocks {
		attrs = append(attrs, slog.Group(b.Block, "presence", string(b.Presence),
			"added", b.Added, "removed", b.Removed, "modified", b.Modified))
	}
	return slog.GroupValue(attrs...)
}

// counts are the entries added, removed and modified in a block.
type counts struct{ added, removed, modified int }

func (n *counts) add(m counts) {
	n.added += m.added
	n.removed += m.removed
	n.modified += m.modified
}

// contents lists what v holds as changes of op, for a block that appeared
// (OpAdded) or disappeared (OpRemoved): each field of an object, each entry
// of a list, or v itself.
func contents(path []string, v any, op Op) ([]Change, counts) {
	one := func(key string, v any) Change {
		if op == OpAdded {
			return Change{Op: op, Key: key, After: v}
		}
		return Change{Op: op, Key: key, Before: v}
	}
	var out []Change
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			out = append(out, one(k, x[k]))
		}
	case []any:
		for _, e := range x {
			out = append(out, one(identity(path, e), e))
		}
	default:
		out = append(out, one("", v))
	}
	var n counts
	if op == OpAdded {
		n.added = len(out)
	} else {
		n.removed = len(out)
	}
	return out, n
}

// inside compares a block present in both documents.
func inside(path []string, a, b any) ([]Change, counts, bool) {
	am, aObject := a.(map[string]any)
	bm, bObject := b.(map[string]any)
	if aObject && bObject {
		cs, n := objectChanges(path, am, bm)
		return cs, n, len(cs) > 0
	}
	al, aList := a.([]any)
	bl, bList := b.([]any)
	if aList && bList {
		cs, n := listChanges(path, al, bl)
		return cs, n, len(cs) > 0
	}
	if canonical(a) == canonical(b) {
		return nil, counts{}, false
	}
	return []Change{{Op: OpModified, Before: a, After: b}}, counts{modified: 1}, true
}

// objectChanges compares two objects at path key by key, in key order.
func objectChanges(path []string, a, b map[string]any) ([]Change, counts) {
	var out []Change
	var n counts
	keys := sortedKeys(a)
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		av, inA := a[k]
		bv, inB := b[k]
		switch {
		case !inA:
			out = append(out, Change{Op: OpAdded, Key: k, After: bv})
			n.added++
		case !inB:
			out = append(out, Change{Op: OpRemoved, Key: k, Before: av})
			n.removed++
		default:
			if c, m, ok := field(append(path, k), k, av, bv); ok { // a stack: see normalizeObject
				out = append(out, c)
				n.add(m)
			}
		}
	}
	return out, n
}

// field compares the values of a field present in both objects. An empty
// object on one side is the field's object found where nothing was, or
// lost: added or removed as a whole.
func field(path []string, key string, a, b any) (Change, counts, bool) {
	am, aObject := a.(map[string]any)
	bm, bObject := b.(map[string]any)
	al, aList := a.([]any)
	bl, bList := b.([]any)
	var cs []Change
	var n counts
	switch {
	case aObject && bObject && len(am) == 0 && len(bm) == 0:
		return Change{}, counts{}, false
	case aObject && bObject && len(am) == 0:
		return Change{Op: OpAdded, Key: key, After: b}, counts{added: 1}, true
	case aObject && bObject && len(bm) == 0:
		return Change{Op: OpRemoved, Key: key, Before: a}, counts{removed: 1}, true
	case aObject && bObject:
		cs, n = objectChanges(path, am, bm)
	case aList && bList:
		cs, n = listChanges(path, al, bl)
	default:
		if canonical(a) == canonical(b) {
			return Change{}, counts{}, false
		}
		return Change{Op: OpModified, Key: key, Before: a, After: b}, counts{modified: 1}, true
	}
	if len(cs) == 0 {
		return Change{}, counts{}, false
	}
	return Change{Op: OpModified, Key: key, Changes: cs}, n, true
}

// listChanges compares two lists at path entry by entry. Entries are
// matched by identity: equal entries first, so that neither the order of
// the list nor that of entries sharing an identity matters; then, in
// order, the remaining entries of each identity, which are modified. An
// entry left over is added or removed. Changes come in the order of b
// (added and modified), then of a (removed); a modified entry counts once.
func listChanges(path []string, a, b []any) ([]Change, counts) {
	type entry struct{ id, canon string }
	info := func(l []any) []entry {
		out := make([]entry, len(l))
		for i, e := range l {
			out[i] = entry{identity(path, e), canonical(e)}
		}
		return out
	}
	ai, bi := info(a), info(b)
	paired := make([]bool, len(a))
	match := make([]int, len(b)) // index in a of b's partner, or -1
	exact := make(map[entry][]int)
	byID := make(map[string][]int)
	for i, e := range ai {
		exact[e] = append(exact[e], i)
		byID[e.id] = append(byID[e.id], i)
	}
	for j, e := range bi {
		match[j] = -1
		if q := exact[e]; len(q) > 0 {
			match[j], exact[e] = q[0], q[1:]
			paired[q[0]] = true
		}
	}
	for j, e := range bi {
		if match[j] >= 0 {
			continue
		}
		q := byID[e.id]
		for len(q) > 0 && paired[q[0]] {
			q = q[1:]
		}
		if len(q) > 0 {
			match[j], paired[q[0]] = q[0], true
			q = q[1:]
		}
		byID[e.id] = q
	}

	var out []Change
	var n counts
	for j, e := range bi {
		i := match[j]
		switch {
		case i < 0:
			out = append(out, Change{Op: OpAdded, Key: e.id, After: b[j]})
			n.added++
		case ai[i].canon != e.canon:
			out = append(out, entryChange(path, e.id, a[i], b[j]))
			n.modified++
		}
	}
	for i, e := range ai {
		if !paired[i] {
			out = append(out, Change{Op: OpRemoved, Key: e.id, Before: a[i]})
			n.removed++
		}
	}
	return out, n
}

// entryChange is the change of an entry present in both lists but
// different: what changed inside it when both are non-empty objects, else
// the entry before and after.
func entryChange(path []string, id string, a, b any) Change {
	am, aObject := a.(map[string]any)
	bm, bObject := b.(map[string]any)
	if aObject && bObject && len(am) > 0 && len(bm) > 0 {
		if cs, _ := objectChanges(path, am, bm); len(cs) > 0 {
			return Change{Op: OpModified, Key: id, Changes: cs}
		}
	}
	return Change{Op: OpModified, Key: id, Before: a, After: b}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
