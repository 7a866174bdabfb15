package sandbox

import (
	"slices"
	"testing"

	"github.com/kybflow/kybflow/identifier"
	"github.com/kybflow/kybflow/internal/amlapi"
)

// The synthetic organizations hold, among them, all ten roles of the
// organization guide, in each country.
func TestSyntheticOrganizationsHoldTheGuidesTenRoles(t *testing.T) {
	for _, c := range []amlapi.Country{amlapi.NO, amlapi.SE, amlapi.FI} {
		seen := map[string]bool{}
		g := newGen("roles", string(c))
		k, _ := identifier.ForCountry(string(c))
		for i := 0; i < 2000 && len(seen) < len(amlapi.GuideRoles); i++ {
			o := newOrg(c, k, g.orgNumber(c))
			for _, r := range o.roles() {
				if slices.Contains(amlapi.GuideRoles, r.Type) {
					seen[r.Type] = true
				}
			}
		}
		for _, r := range amlapi.GuideRoles {
			if !seen[r] {
				t.Errorf("%s: no organization holds the role %s", c, r)
			}
		}
	}
}
