package worker

import (
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
)

// TestTenantsAreSeparateLookups: a tenant's command (published on its
// subject) and an untenanted one with the same lookupId are two lookups,
// each with its own session, events, objects and webhooks; a body that
// claims a tenant changes nothing, and a subject with more tokens is
// dead-lettered.
func TestTenantsAreSeparateLookups(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.start(true, 1)
	c := cmd{LookupID: "same-id", Type: "organization", Country: "NO", Identifier: "988077917", Reports: []string{"aml"}}
	e.publishOn("aml.commands.lookup.acme", c, "acme.same-id")
	e.publish(c, "same-id")
	// The body's tenant is not the platform's: ignored, so an untenanted
	// platform cannot reach a tenant's lookups.
	e.publish(`{"lookupId":"claims-acme","tenant":"acme","type":"organization","identifier":"988077917"}`, "claims-acme")

	tenant := completedData(t, e.terminal("acme.same-id", time.Minute))
	plain := completedData(t, e.terminal("same-id", time.Minute))
	if tenant.Tenant != "acme" || tenant.LookupID != "same-id" || plain.Tenant != "" {
		t.Fatalf("tenant data %q/%q, untenanted %q", tenant.Tenant, tenant.LookupID, plain.Tenant)
	}
	if tenant.SessionID == plain.SessionID {
		t.Fatalf("one session %s for two tenants' lookups", tenant.SessionID)
	}
	for _, a := range tenant.Artifacts {
		if !strings.HasPrefix(a.Key, "lookups/acme.same-id/") {
			t.Errorf("tenant artifact key %s, want under lookups/acme.same-id/", a.Key)
		}
	}
	for _, a := range plain.Artifacts {
		if !strings.HasPrefix(a.Key, "lookups/same-id/") {
			t.Errorf("artifact key %s, want under lookups/same-id/", a.Key)
		}
	}
	e.verifyArtifacts(tenant, kybflow.ArtifactJSON, kybflow.ReportArtifactName(kybflow.ReportAML))
	claims := completedData(t, e.terminal("claims-acme", time.Minute))
	if claims.Tenant != "" {
		t.Fatalf("a tenant in the body was taken: %q", claims.Tenant)
	}
	if n := e.sessions("organization", "NO", "988077917"); n != 3 {
		t.Fatalf("%d sessions, want 3 (two tenants' same-id and claims-acme)", n)
	}

	e.publishOn("aml.commands.lookup.acme.extra", c, "")
	e.marker()
	if got := e.deadLetters(); got != 1 {
		t.Fatalf("%d dead letters, want 1 for the command on aml.commands.lookup.acme.extra", got)
	}
	e.assertExactlyOnce("acme.same-id")
	e.assertExactlyOnce("same-id")
}
