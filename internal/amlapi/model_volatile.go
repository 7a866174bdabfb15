package amlapi

// Volatile fields (model; see model.go): the fields of the API's JSON that
// change from one session to the next although nothing changed in the
// organization, so that a comparison of two runs (internal/changes) leaves
// them out. None of this is confirmed by the API: the public material says
// which blocks a document has, not which of their fields are retrieval
// times or links. Correct the list here, in one edit.

import "strings"

// VolatileFields are the volatile fields, as dotted paths of object keys
// from the root of a JSON document, with list indices left out
// ("sanction.screenedAt" is the screenedAt of the sanction block;
// "ownership.beneficials.name" the name of every beneficial owner). A
// leading "**." matches any number of keys, none included: "**.link" is a
// key named link at any depth. Keys are matched without regard to case.
//
// They are, by kind (all model):
//   - links: any key named link, links, href, url or urls: the links
//     block of an organization document (links.reports holds report links
//     with the session id in them), an entity's link, a source's url, a
//     sanction match's urls. They say where data can be read, not what it
//     is. A registered web page (keyInformation.webPage) is a fact, not a
//     link, and is compared;
//   - retrieval times: when the sanction screening ran
//     (sanction.screenedAt), and when a source was read or last updated
//     (Source.Updated, metadata.sources.updated in every block), which
//     moves with the source, not with the organization;
//   - expiry: an entity's expires (Entity.Expires);
//   - ids and times of a session, not of the organization: sessionId
//     anywhere, a session's created, an error's traceId and a webhook's
//     timestamp.
var VolatileFields = []string{
	"**.link",
	"**.links",
	"**.href",
	"**.url",
	"**.urls",
	"sanction.screenedAt",
	"**.metadata.sources.updated",
	"**.expires",
	"**.sessionId",
	"created",
	"**.traceId",
	"timestamp",
}

// anyDepth is the prefix of a VolatileFields pattern that matches any
// number of keys.
const anyDepth = "**."

// IsVolatile reports whether the field at path (object keys from the root of
// a document, list indices left out) is volatile: it or one of the fields
// it is inside matches a pattern of VolatileFields.
func IsVolatile(path []string) bool {
	for n := 1; n <= len(path); n++ {
		if IsVolatileField(path[:n]) {
			return true
		}
	}
	return false
}

// IsVolatileField reports whether the field at path itself matches a
// pattern of VolatileFields, whatever the fields it is inside. It is for a
// walk of a document that leaves out a volatile field with all it holds,
// and so never asks about the fields inside one: it costs the same at any
// depth, where IsVolatile costs the depth.
func IsVolatileField(path []string) bool {
	for _, p := range VolatileFields {
		if matchPath(p, path) {
			return true
		}
	}
	return false
}

// matchPath reports whether pattern (see VolatileFields) matches path
// exactly. It reads the pattern from its end, key by key, and allocates
// nothing.
func matchPath(pattern string, path []string) bool {
	rest, deep := strings.CutPrefix(pattern, anyDepth)
	i := len(path)
	for rest != "" {
		key := rest
		rest = ""
		if j := strings.LastIndexByte(key, '.'); j >= 0 {
			key, rest = key[j+1:], key[:j]
		}
		i--
		if i < 0 || !strings.EqualFold(key, path[i]) {
			return false
		}
	}
	return deep || i == 0
}
