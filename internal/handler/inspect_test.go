package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/lookups"
)

// servedJSON is the real client whose sessions are done, with a JSON result
// served from docs, by session id, and an aml report.
type servedJSON struct {
	API
	docs map[string][]byte
}

func (s servedJSON) Session(_ context.Context, _ amlapi.Kind, id string) (*amlapi.Session, error) {
	return &amlapi.Session{SessionID: id, Status: amlapi.SessionDone,
		JSONData: amlapi.Entity{Status: amlapi.EntityReady, Link: "https://aml.example/" + id + "/json"},
		Reports:  map[amlapi.ReportType]amlapi.Entity{amlapi.ReportAML: {Status: amlapi.EntityReady, Link: "https://aml.example/" + id + "/report"}}}, nil
}

func (s servedJSON) Download(_ context.Context, link string) (*amlapi.Download, error) {
	if id, ok := strings.CutSuffix(strings.TrimPrefix(link, "https://aml.example/"), "/json"); ok {
		return &amlapi.Download{Body: io.NopCloser(bytes.NewReader(s.docs[id])), Size: -1, ContentType: amlapi.ContentTypeJSON}, nil
	}
	return &amlapi.Download{Body: io.NopCloser(strings.NewReader("%PDF-1.7")), Size: 8, ContentType: amlapi.ContentTypePDF}, nil
}

// TestCompletedEventsCarryTheSummary stores JSON results of every sort and
// reads the summary in each completed event: read from the JSON, too large
// or unreadable (the lookup completes all the same), and the omitted
// expands of a beneficial owners result beside it, as before.
func TestCompletedEventsCarryTheSummary(t *testing.T) {
	guide := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "amlapi", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	huge := []byte(`{"keyInformation": {"status": "ACTIVE", "purpose": "` + strings.Repeat("x", maxInspectedJSON) + `"}}`)
	one, two, four, none := 1, 2, 4, 0
	for _, tc := range []struct {
		id      string
		typ     kybflow.LookupType
		expands []string
		doc     []byte
		want    kybflow.Summary
		omitted []string
	}{
		{"org", kybflow.TypeOrganization, []string{"roles", "sanction", "financials.credit"}, guide("organization_no.json"), kybflow.Summary{
			Organization: &kybflow.OrganizationSummary{Status: "under_reorganisation", Sanction: kybflow.SanctionHit,
				Roles: &four, SignatureRights: &one, BeneficialOwners: &two, Shareholders: &two, Subsidiaries: &none},
			Omitted: []string{"financials.credit"},
		}, nil},
		{"too-large", kybflow.TypeOrganization, nil, huge, kybflow.Summary{Unavailable: kybflow.SummaryTooLarge}, nil},
		{"unreadable", kybflow.TypeOrganization, nil, []byte(`{"keyInformation": {"status": 7}}`), kybflow.Summary{Unavailable: kybflow.SummaryUnreadable}, nil},
		{"bo", kybflow.TypeBeneficialOwners, []string{"citizenship"}, guide("beneficial_owners_none.json"), kybflow.Summary{
			BeneficialOwners: &kybflow.BeneficialOwnersSummary{Owners: &none},
			Empty:            []string{"beneficialOwners"}, Omitted: []string{"citizenship"},
		}, []string{"citizenship"}},
		{"bo-unreadable", kybflow.TypeBeneficialOwners, []string{"ssn"}, []byte(`not json`), kybflow.Summary{Unavailable: kybflow.SummaryUnreadable}, nil},
	} {
		t.Run(tc.id, func(t *testing.T) {
			api := servedJSON{docs: map[string][]byte{}}
			h, store, js := newHandlersWith(t, func(a API) API { api.API = a; return api })
			ctx := context.Background()
			rec := openedRecord(tc.id, 0)
			rec.Command.Type, rec.Command.Expands = tc.typ, tc.expands
			api.docs[rec.SessionID] = tc.doc
			rev, err := store.Create(ctx, rec)
			if err != nil {
				t.Fatal(err)
			}
			if done, o := h.progress(ctx, rec, rev); !done || !o.IsAck() {
				t.Fatalf("progress: done %t, %v", done, o)
			}
			s, _ := js.Stream(ctx, "AML_EVENTS")
			msg, err := s.GetLastMsgForSubject(ctx, "aml.events."+tc.id+".completed")
			if err != nil {
				t.Fatalf("no completed event: %v", err)
			}
			ev, err := kybflow.DecodeEvent(msg.Data)
			if err != nil {
				t.Fatal(err)
			}
			d, _ := ev.Completed()
			if d.Summary == nil || fmt.Sprint(must(json.Marshal(d.Summary))) != fmt.Sprint(must(json.Marshal(tc.want))) {
				t.Errorf("summary %s, want %s", must(json.Marshal(d.Summary)), must(json.Marshal(tc.want)))
			}
			if !slices.Equal(d.OmittedExpands, tc.omitted) {
				t.Errorf("omittedExpands %q, want %q", d.OmittedExpands, tc.omitted)
			}
			got, _, err := store.Get(ctx, tc.id)
			if err != nil || got.State != lookups.Completed || !jsonEqual(got.Summary, d.Summary) {
				t.Errorf("record %+v (%v): want completed with the event's summary", got, err)
			}
			if a, ok := got.Artifact(kybflow.ArtifactJSON); !ok || a.Size != int64(len(tc.doc)) {
				t.Errorf("json artifact %+v: want the whole %d bytes stored", a, len(tc.doc))
			}
		})
	}
}

func must(b []byte, err error) string {
	if err != nil {
		panic(err)
	}
	return string(b)
}

func jsonEqual(a, b any) bool { return must(json.Marshal(a)) == must(json.Marshal(b)) }

// sentExpands are what createSession sends: the command's expands, and a
// links.reports.<type> for each report of an organization lookup.
func TestSentExpands(t *testing.T) {
	org := kybflow.LookupCommand{Type: kybflow.TypeOrganization, Expands: []string{"roles", "links.reports.aml"},
		Reports: []kybflow.ReportType{kybflow.ReportAML, kybflow.ReportCertificateOfIncorporation}}
	if got := sentExpands(org); !slices.Equal(got, []string{"roles", "links.reports.aml", "links.reports.certificate_of_incorporation"}) {
		t.Errorf("organization: %q", got)
	}
	bo := kybflow.LookupCommand{Type: kybflow.TypeBeneficialOwners, Expands: []string{"ssn"}, Reports: []kybflow.ReportType{kybflow.ReportAML}}
	if got := sentExpands(bo); !slices.Equal(got, []string{"ssn"}) {
		t.Errorf("beneficial owners: %q", got)
	}
}

// contractSummary keeps every field: the contract's summary encodes as the
// amlapi summary it was made from, for every guide-shaped document.
func TestContractSummaryIsTheSameJSON(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "amlapi", "testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		kind := amlapi.KindOrganization
		switch base := filepath.Base(f); {
		case strings.HasPrefix(base, "beneficial"):
			kind = amlapi.KindBeneficial
		case !strings.HasPrefix(base, "organization"):
			continue
		}
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := amlapi.Summarize(kind, doc, slices.Concat(amlapi.OrganizationExpands, amlapi.BeneficialExpands))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		c := contractSummary(s)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if a, b := must(json.Marshal(s)), must(json.Marshal(c)); a != b {
			t.Errorf("%s: amlapi summary %s, contract summary %s", f, a, b)
		}
		n++
	}
	if n < 5 {
		t.Fatalf("%d documents summarised, want the 5 of testdata", n)
	}
}

// A record's summary this worker cannot publish (a newer worker's, with a
// value this one does not know) is left out of the completed event, which
// goes out all the same.
func TestEndingWithASummaryItCannotPublish(t *testing.T) {
	h, store, js := newHandlers(t)
	ctx := context.Background()
	rec := openedRecord("newer-summary", 0)
	rec.State, rec.FinishedAt = lookups.Completed, rec.OpenedAt
	rec.Artifacts = []kybflow.Artifact{{Name: "json", Bucket: "b", Key: "lookups/newer-summary/json.json", Size: 2,
		SHA256: strings.Repeat("ab", 32), ContentType: "application/json"}}
	rec.Summary = &kybflow.Summary{Organization: &kybflow.OrganizationSummary{Status: "active", Sanction: "escalated"}}
	if _, err := store.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := failed(h.finish(ctx, rec)); err != nil {
		t.Fatal(err)
	}
	s, _ := js.Stream(ctx, "AML_EVENTS")
	msg, err := s.GetLastMsgForSubject(ctx, "aml.events.newer-summary.completed")
	if err != nil {
		t.Fatalf("no completed event: %v", err)
	}
	if strings.Contains(string(msg.Data), `"summary"`) {
		t.Errorf("completed event %s: want it without the summary", msg.Data)
	}
}
