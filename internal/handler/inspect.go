package handler

// Inspecting: what a JSON result says, read from the bounded copy taken
// while it was stored (store.go): its summary for the completed event, and
// the requested expands the API left out. A result that cannot be read is
// stored all the same; its summary says why it has none.

import (
	"slices"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
)

// inspection is what a JSON result says: its summary, and, for a
// beneficial owners lookup with expands, the expands the API left out for
// lack of access (an empty, non-nil list when none, or when the JSON could
// not be read; nil when the question does not apply).
type inspection struct {
	summary *kybflow.Summary
	omitted []string
	// links are the report links the JSON gives (links.reports), by type
	// as it names them, and until when it says the results can be read
	// (links.expires): nil and zero when it says neither (collect.go).
	links map[string]string
	until time.Time
}

// inspect reads the summary of the JSON result doc of cmd; it never fails.
func (h *Handlers) inspect(cmd kybflow.LookupCommand, doc *boundedBuffer) inspection {
	kind := amlapi.KindOrganization
	if cmd.Type == kybflow.TypeBeneficialOwners {
		kind = amlapi.KindBeneficial
	}
	var found inspection
	if kind == amlapi.KindBeneficial && len(cmd.Expands) > 0 {
		found.omitted = []string{}
	}
	if !doc.overflow {
		links, until := amlapi.ResultLinks(doc.buf.Bytes())
		for t, l := range links {
			if found.links == nil {
				found.links = make(map[string]string, len(links))
			}
			found.links[string(t)] = l
		}
		found.until = until
	}
	if doc.overflow {
		h.log.Warn("JSON result too large to summarize", "lookup_id", cmd.Key(), "limit", maxInspectedJSON)
		found.summary = &kybflow.Summary{Unavailable: kybflow.SummaryTooLarge}
		return found
	}
	s, err := amlapi.Summarize(kind, doc.buf.Bytes(), sentExpands(cmd))
	if err == nil {
		found.summary = contractSummary(s)
		err = found.summary.Validate() // never: amlapi makes only what the contract allows
	}
	if err != nil {
		// The outline names keys and types, never values (amlapi.Shape).
		h.log.Warn("JSON result unreadable: no summary (model.go may not match the API)", "lookup_id", cmd.Key(),
			"shape", amlapi.Shape(doc.buf.Bytes()), "err", err)
		found.summary = &kybflow.Summary{Unavailable: kybflow.SummaryUnreadable}
		return found
	}
	if found.omitted != nil {
		for _, x := range s.Omitted {
			if slices.Contains(cmd.Expands, x) {
				found.omitted = append(found.omitted, x)
			}
		}
		if len(found.omitted) > 0 {
			h.log.Info("the API left requested expands out (no National Registry access?)", "lookup_id", cmd.Key(), "omitted", found.omitted)
		}
	}
	return found
}

// sentExpands are the expands the create call sent for cmd (createSession):
// its own, and for an organization lookup links.reports.<type> for each
// report it asks for.
func sentExpands(cmd kybflow.LookupCommand) []string {
	out := slices.Clone(cmd.Expands)
	if cmd.Type != kybflow.TypeOrganization {
		return out
	}
	for _, r := range requestedReports(cmd) {
		if x := amlapi.ReportExpand(amlapi.ReportType(r)); !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// contractSummary is the contract's form of an amlapi summary: the same
// fields.
func contractSummary(s *amlapi.Summary) *kybflow.Summary {
	out := &kybflow.Summary{Empty: slices.Clone(s.Empty), Omitted: slices.Clone(s.Omitted)}
	if o := s.Organization; o != nil {
		out.Organization = &kybflow.OrganizationSummary{
			Status: kybflow.OrganizationStatus(o.Status), Sanction: kybflow.SanctionOutcome(o.Sanction),
			Roles: o.Roles, SignatureRights: o.SignatureRights,
			BeneficialOwners: o.BeneficialOwners, Shareholders: o.Shareholders, Subsidiaries: o.Subsidiaries,
		}
	}
	if b := s.BeneficialOwners; b != nil {
		out.BeneficialOwners = &kybflow.BeneficialOwnersSummary{Owners: b.Owners, DetailsWithheld: b.DetailsWithheld}
	}
	return out.Clone()
}
