package amlapi_test

import (
	"bytes"
	"context"
	"io"
	"slices"
	"testing"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox"
)

// TestSummarizeSandboxDocuments summarises the sandbox's documents and
// checks each field against what the typed decoder reads from the same
// document: the summary says what the document says.
func TestSummarizeSandboxDocuments(t *testing.T) {
	ctx := context.Background()
	for _, access := range []amlapi.NationalRegistryAccess{amlapi.AccessGranted, amlapi.AccessMissing} {
		srv := startSandbox(t, sandbox.Config{NationalRegistry: access})
		c := client(t, srv, nil)
		fetch := func(kind amlapi.Kind, country amlapi.Country, id string, expands []string) []byte {
			t.Helper()
			req := amlapi.CreateSessionRequest{Identifier: id, Expands: expands}
			var sid string
			var err error
			if kind == amlapi.KindBeneficial {
				sid, err = c.CreateBeneficialSession(ctx, req, amlapi.CreateOptions{})
			} else {
				sid, err = c.CreateOrganizationSession(ctx, country, req, amlapi.CreateOptions{})
			}
			if err != nil {
				t.Fatalf("%s %s: %v", kind, id, err)
			}
			dl, err := c.Download(ctx, waitReady(ctx, t, c, kind, sid).JSONData.Link)
			if err != nil {
				t.Fatal(err)
			}
			defer dl.Body.Close()
			b, err := io.ReadAll(dl.Body)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		if access == amlapi.AccessGranted {
			every := []string{"address", "financials", "ownership", "authorities", "roles", "sanction"}
			for _, org := range []struct {
				country  amlapi.Country
				id       string
				expands  []string
				sanction amlapi.SanctionOutcome
			}{
				{amlapi.NO, "923609016", every, amlapi.OutcomeNoHit},
				{amlapi.SE, "5560360793", every, amlapi.OutcomeNoHit},
				{amlapi.FI, "2077474-0", every, amlapi.OutcomeNoHit},
				{amlapi.NO, sandbox.SanctionHitNO, []string{"sanction"}, amlapi.OutcomeHit},
				{amlapi.NO, sandbox.NoOwnersNO, []string{"ownership.beneficials", "roles"}, amlapi.OutcomeNotRequested},
			} {
				doc := fetch(amlapi.KindOrganization, org.country, org.id, org.expands)
				s, err := amlapi.Summarize(amlapi.KindOrganization, doc, org.expands)
				if err != nil {
					t.Fatalf("%s %s: %v", org.country, org.id, err)
				}
				d, err := amlapi.DecodeOrganization(bytes.NewReader(doc))
				if err != nil {
					t.Fatal(err)
				}
				checkOrganizationSummary(t, org.id, s, d, org.expands)
				if s.Organization.Sanction != org.sanction || s.Organization.Status != "active" {
					t.Errorf("%s: sanction %s, status %s; want %s, active", org.id, s.Organization.Sanction, s.Organization.Status, org.sanction)
				}
				if org.id == sandbox.NoOwnersNO && (!slices.Contains(s.Empty, "ownership.beneficials") || *s.Organization.BeneficialOwners != 0) {
					t.Errorf("no owners: empty %q, beneficialOwners %v", s.Empty, s.Organization.BeneficialOwners)
				}
			}
		}
		nr := []string{"citizenship", "birthplace"}
		for _, id := range []string{"974760673", sandbox.NoOwnersNO} {
			doc := fetch(amlapi.KindBeneficial, "", id, nr)
			s, err := amlapi.Summarize(amlapi.KindBeneficial, doc, nr)
			if err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			d, err := amlapi.DecodeBeneficialOwners(bytes.NewReader(doc))
			if err != nil {
				t.Fatal(err)
			}
			owners := len(d.BeneficialOwners.Value)
			missing := access == amlapi.AccessMissing
			if s.BeneficialOwners == nil || s.BeneficialOwners.Owners == nil || *s.BeneficialOwners.Owners != owners ||
				s.BeneficialOwners.DetailsWithheld != (missing && owners > 0) || (id == sandbox.NoOwnersNO) != (owners == 0) {
				t.Errorf("%s, access %s: %+v, want %d owners", id, access, s.BeneficialOwners, owners)
			}
			if got := slices.DeleteFunc(slices.Clone(s.Omitted), func(x string) bool { return x == "beneficialOwners" }); missing != slices.Equal(got, nr) || !missing && len(got) > 0 {
				t.Errorf("%s, access %s: omitted %q", id, access, s.Omitted)
			}
		}
	}
}

// checkOrganizationSummary checks a summary's counts and block lists
// against the decoded document.
func checkOrganizationSummary(t *testing.T, id string, s *amlapi.Summary, d *amlapi.OrganizationDocument, expands []string) {
	t.Helper()
	o, want := s.Organization, d.Ownership.Value
	for _, c := range []struct {
		name  string
		got   *int
		state amlapi.Presence
		n     int
	}{
		{"roles", o.Roles, d.Roles.State, len(d.Roles.Value)},
		{"beneficialOwners", o.BeneficialOwners, want.Beneficials.State, len(want.Beneficials.Value)},
		{"shareholders", o.Shareholders, want.Shareholders.State, len(want.Shareholders.Value)},
		{"subsidiaries", o.Subsidiaries, want.Subsidiaries.State, len(want.Subsidiaries.Value)},
	} {
		switch {
		case c.state == amlapi.NotRequested && d.Ownership.State != amlapi.Empty:
			if c.got != nil {
				t.Errorf("%s: %s %d, want none", id, c.name, *c.got)
			}
		case c.got == nil || *c.got != c.n:
			t.Errorf("%s: %s %v, want %d", id, c.name, c.got, c.n)
		}
	}
	if sr, ok := d.Authorities.Value.SignatureRights.Found(); ok && (o.SignatureRights == nil || *o.SignatureRights != 1 || sr.Description == "") {
		t.Errorf("%s: signatureRights %v, want 1", id, o.SignatureRights)
	}
	states := map[string]amlapi.Presence{}
	for _, p := range d.Presences() {
		states[p.Path] = p.State
	}
	for _, b := range amlapi.RequestedBlocks(expands) {
		empty, omitted := slices.Contains(s.Empty, b), slices.Contains(s.Omitted, b)
		if empty != (states[b] == amlapi.Empty) || omitted != (states[b] == amlapi.NotRequested) {
			t.Errorf("%s: block %s is %s; empty %q, omitted %q", id, b, states[b], s.Empty, s.Omitted)
		}
	}
	if len(s.Omitted) > 0 {
		t.Errorf("%s: the sandbox left out %q", id, s.Omitted) // it returns every requested block
	}
}
