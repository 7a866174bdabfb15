package sandbox

import (
	"github.com/kybflow/kybflow/identifier"
	"github.com/kybflow/kybflow/internal/amlapi"
)

// OrgTypeOf is the organization type code of the synthetic organization of
// a national identifier (for tests that need, say, a sole proprietorship).
func OrgTypeOf(c amlapi.Country, id string) string {
	k, _ := identifier.ForCountry(string(c))
	return newOrg(c, k, id).typ.code
}

// Running reports whether Run is running (for a test that must call Run
// again while it does).
func (s *Sandbox) Running() bool { return s.running.Load() }
