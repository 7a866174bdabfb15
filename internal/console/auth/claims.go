package auth

import (
	"strings"
)

// RoleOf is the role an ID token's claims give: the values of the claim
// named claim (a list of strings, or one string), each mapped by roleMap
// (nil: each role's own name), the highest known role winning. "" when
// none is known: such a user may not use the console. A claim name with
// dots that is no claim of its own descends into objects, as Keycloak's
// realm_access.roles.
func RoleOf(claims map[string]any, claim string, roleMap map[string]Role) Role {
	var best Role
	for _, v := range claimValues(claims, claim) {
		r := Role(v)
		if roleMap != nil {
			r = roleMap[v]
		}
		if r.Valid() && (!best.Valid() || r.Allows(best)) {
			best = r
		}
	}
	return best
}

// claimValues are the strings of the claim at path.
func claimValues(claims map[string]any, path string) []string {
	v, ok := claims[path]
	if !ok {
		obj := claims
		parts := strings.Split(path, ".")
		for i, p := range parts {
			x, found := obj[p]
			if !found {
				return nil
			}
			if i == len(parts)-1 {
				v = x
				break
			}
			if obj, found = x.(map[string]any); !found {
				return nil
			}
		}
	}
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// nameOf is the user's name for people: name, else preferred_username,
// else the subject.
func nameOf(claims map[string]any, subject string) string {
	for _, c := range []string{"name", "preferred_username"} {
		if s, ok := claims[c].(string); ok && s != "" {
			return s
		}
	}
	return subject
}
