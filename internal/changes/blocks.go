package changes

// Cutting a document into blocks: the named blocks of its kind in a fixed
// order, then every other top-level key as a block of its own, by name, so
// that a block the model does not know is compared too.

import "slices"

// organizationOrder is the order of an organization document's blocks, by
// their top-level keys (the organization guide's blocks). ownership is cut
// into one block per list (ownershipOrder); links is volatile
// (amlapi.VolatileFields) and so never a block.
var organizationOrder = []string{
	"keyInformation", "address", "roles", "authorities", "ownership", "financials", "sanction",
}

// ownershipOrder is the order of the blocks inside ownership: each list,
// and the indicators, is a block of its own ("ownership.beneficials"), and
// an ownership key not named here follows them, by name.
var ownershipOrder = []string{"beneficials", "subsidiaries", "shareholders", "indicators"}

// splitBlock is the top-level key of an organization document whose
// children are the blocks.
const splitBlock = "ownership"

// beneficialOrder is the order of a beneficial owners document's blocks:
// the owners, then the organization they own.
var beneficialOrder = []string{"beneficialOwners", "organization"}

// block is one block of the two documents: its name, its path from the
// root (which the identity rules of its lists go by) and its two sides.
type block struct {
	name          string
	path          []string
	prev, cur     any
	inPrev, inCur bool
}

// blocksOf cuts the two documents of kind k into blocks: the named blocks
// of the kind in their order, then the other top-level keys by name.
func blocksOf(k Kind, prev, cur map[string]any) []block {
	order := beneficialOrder
	if k == Organization {
		order = organizationOrder
	}
	var out []block
	for _, key := range append(slices.Clone(order), otherKeys(order, prev, cur)...) {
		if k == Organization && key == splitBlock {
			out = append(out, split(key, prev, cur)...)
			continue
		}
		out = append(out, blockAt([]string{key}, prev, cur))
	}
	return out
}

// split cuts the container at key into one block per child, named
// key.child, in ownershipOrder and then by name. When the container is
// not an object on a side, it is one block; when it has no children on
// either side but is present on one side only ({} against absent), it is
// one block too, so that its appearing is reported.
func split(key string, prev, cur map[string]any) []block {
	pv, inPrev := prev[key]
	cv, inCur := cur[key]
	pm, prevObject := pv.(map[string]any)
	cm, curObject := cv.(map[string]any)
	if inPrev && !prevObject || inCur && !curObject {
		return []block{blockAt([]string{key}, prev, cur)}
	}
	if len(pm) == 0 && len(cm) == 0 && inPrev != inCur {
		return []block{blockAt([]string{key}, prev, cur)}
	}
	var out []block
	for _, child := range append(slices.Clone(ownershipOrder), otherKeys(ownershipOrder, pm, cm)...) {
		b := blockAt([]string{child}, pm, cm)
		b.name, b.path = key+"."+child, []string{key, child}
		out = append(out, b)
	}
	return out
}

// blockAt is the block at the one-key path in prev and cur.
func blockAt(path []string, prev, cur map[string]any) block {
	b := block{name: path[0], path: path}
	b.prev, b.inPrev = prev[path[0]]
	b.cur, b.inCur = cur[path[0]]
	return b
}

// otherKeys are the keys of the documents that are not in named, sorted.
func otherKeys(named []string, docs ...map[string]any) []string {
	seen := make(map[string]bool)
	var out []string
	for _, d := range docs {
		for k := range d {
			if !seen[k] && !slices.Contains(named, k) {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}
