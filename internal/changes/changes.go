// Package changes tells what changed between two runs of a lookup: it
// compares the JSON result document of a run with the previous run's, block
// by block, and reports the blocks that changed with counts of entries
// added, removed and modified (Report.Blocks, for the changed event: no
// personal data), and the full structured diff (Report.Diff, stored as an
// artifact beside the run's results: it holds personal data).
//
// It works on the raw JSON, not on the typed model of internal/amlapi, so
// that a field the model does not know is compared like any other. Only the
// volatile fields (amlapi.VolatileFields: links, retrieval times, expiry,
// session ids) are left out, and a null is the same as an absent field.
//
// The stages, one a file, in the order the data flows: decode.go (read and
// normalize a document), blocks.go (cut it into named blocks), diff.go
// (compare two values, list entries matched by identity.go), and Compare
// below, which puts them together.
package changes

import (
	"errors"
	"fmt"
)

// Kind is the kind of a result document. Its values are those of the
// contract's lookup type (kybflow.LookupType), so a caller converts one
// into the other.
type Kind string

// The kinds of document.
const (
	Organization     Kind = "organization"
	BeneficialOwners Kind = "beneficial_owners"
)

// ErrUnknownKind: Compare was given a Kind other than Organization and
// BeneficialOwners.
var ErrUnknownKind = errors.New("unknown kind of document")

// Presence says how a block's presence changed between two runs.
type Presence string

// The presence changes of a block. A block is absent when its key is
// missing or null ("not requested", see amlapi.Block); an empty node ({}
// or []) is present ("searched, nothing found").
const (
	// Kept: the block is in both documents.
	Kept Presence = ""
	// Appeared: absent in the previous document, present in the current.
	Appeared Presence = "appeared"
	// Disappeared: present in the previous document, absent in the
	// current.
	Disappeared Presence = "disappeared"
)

// BlockChange is what changed in one block, in counts only: it holds no
// personal data and goes into the changed event. How entries are counted:
// the entries of a list (matched by identity, see identity.go) count once
// each, however many of their fields changed; the fields of an object
// (keyInformation, sanction, and objects inside a block) count one by one,
// each nested object field by field and each nested list entry by entry.
// A block that appeared counts what it holds as added (each field of an
// object block, each entry of a list block, or 1), one that disappeared
// as removed; an empty node ({} or []) that appeared counts nothing, but
// its Presence says it appeared.
type BlockChange struct {
	// Block is the block's name: "keyInformation", "ownership.beneficials",
	// "beneficialOwners", or the key of a top-level block the fixed list
	// does not name.
	Block    string   `json:"block"`
	Presence Presence `json:"presence,omitempty"`
	Added    int      `json:"added"`
	Removed  int      `json:"removed"`
	Modified int      `json:"modified"`
}

// Report is what changed between two documents of one kind.
type Report struct {
	// Changed tells whether any block changed: Blocks is not empty.
	Changed bool `json:"changed"`
	// Blocks are the blocks that changed, in the fixed order of blocks.go.
	Blocks []BlockChange `json:"blocks"`
	// Diff is the full structured diff, with the values before and after:
	// personal data. It is never encoded with the Report (json:"-"), so
	// that an event built from a Report cannot carry it by accident; store
	// it on its own, like the results.
	Diff Diff `json:"-"`
}

// Compare compares the result document of a run (current) with the
// previous run's (previous), both the raw JSON of a document of kind k.
// It fails only on a kind it does not know or a document that is not one
// JSON object (null counts as a document without blocks); unknown fields
// and blocks are compared like the others.
func Compare(k Kind, previous, current []byte) (Report, error) {
	if k != Organization && k != BeneficialOwners {
		return Report{}, fmt.Errorf("compare %q documents: %w", k, ErrUnknownKind)
	}
	prev, err := decode(previous)
	if err != nil {
		return Report{}, fmt.Errorf("compare %s documents: previous: %w", k, err)
	}
	cur, err := decode(current)
	if err != nil {
		return Report{}, fmt.Errorf("compare %s documents: current: %w", k, err)
	}
	r := Report{Blocks: []BlockChange{}, Diff: Diff{Version: DiffVersion, Kind: k, Blocks: []BlockDiff{}}}
	for _, b := range blocksOf(k, prev, cur) {
		bd, ok := compareBlock(b)
		if !ok {
			continue
		}
		r.Blocks = append(r.Blocks, bd.BlockChange)
		r.Diff.Blocks = append(r.Diff.Blocks, bd)
	}
	r.Changed = len(r.Blocks) > 0
	return r, nil
}

// compareBlock compares the two sides of a block and returns its diff,
// or false when it did not change.
func compareBlock(b block) (BlockDiff, bool) {
	bd := BlockDiff{BlockChange: BlockChange{Block: b.name}}
	var n counts
	switch {
	case !b.inPrev && !b.inCur:
		return bd, false
	case !b.inPrev:
		bd.Presence = Appeared
		bd.Changes, n = contents(b.path, b.cur, OpAdded)
	case !b.inCur:
		bd.Presence = Disappeared
		bd.Changes, n = contents(b.path, b.prev, OpRemoved)
	default:
		var changed bool
		bd.Changes, n, changed = inside(b.path, b.prev, b.cur)
		if !changed {
			return bd, false
		}
	}
	if bd.Changes == nil {
		bd.Changes = []Change{} // an empty node appeared: "changes": []
	}
	bd.Added, bd.Removed, bd.Modified = n.added, n.removed, n.modified
	return bd, true
}
