package amlapi

import (
	"strings"
	"testing"
)

func TestIsVolatile(t *testing.T) {
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"links", true},
		{"links.reports", true},
		{"links.reports.aml", true},
		{"jsonData.link", true},
		{"reports.aml.link", true},
		{"reports.aml.expires", true},
		{"sessionId", true},
		{"created", true},
		{"traceId", true},
		{"timestamp", true},
		{"sanction.screenedAt", true},
		{"sanction.matches.urls", true},
		{"sanction.matches.URLs", true}, // case does not matter
		{"keyInformation.metadata.sources.updated", true},
		{"keyInformation.metadata.sources.url", true},
		{"metadata.sources.updated", true},
		{"financials.auditor.metadata.sources.updated", true},

		{"", false},
		{"keyInformation", false},
		{"keyInformation.webPage", false},
		{"keyInformation.status", false},
		{"keyInformation.registries.registrationDate", false},
		{"keyInformation.metadata.sources.name", false},
		{"metadata.sources", false},
		{"sanction.status", false},
		{"sanction.matches.updatedDate", false},
		{"sanction.screenedAt.x", true}, // inside a volatile field
		{"roles.since", false},
		{"roles.created", false}, // created is volatile at the top of a session only
		{"keyInformation.updated", false},
		{"ownership.beneficials.name", false},
	} {
		var path []string
		if tc.path != "" {
			path = strings.Split(tc.path, ".")
		}
		if got := IsVolatile(path); got != tc.want {
			t.Errorf("IsVolatile(%q) = %v, want %v", tc.path, got, tc.want)
		}
		// IsVolatileField says the same of a field outside any volatile
		// one, and nothing of what is inside one.
		inside := len(path) > 1 && IsVolatile(path[:len(path)-1])
		if got := IsVolatileField(path); !inside && got != tc.want || inside && got {
			t.Errorf("IsVolatileField(%q) = %v", tc.path, got)
		}
	}
}

// Every pattern is well formed: dotted keys, "**." only in front.
func TestVolatileFieldsAreWellFormed(t *testing.T) {
	for _, p := range VolatileFields {
		rest, _ := strings.CutPrefix(p, anyDepth)
		for k := range strings.SplitSeq(rest, ".") {
			if k == "" || strings.Contains(k, "*") {
				t.Errorf("pattern %q: bad key %q", p, k)
			}
		}
		if !IsVolatile(strings.Split(rest, ".")) {
			t.Errorf("pattern %q does not match itself", p)
		}
	}
}
