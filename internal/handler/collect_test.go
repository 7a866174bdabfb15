package handler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
)

// sessionAnswers is the real client with every status call answered by err.
type sessionAnswers struct {
	API
	err  error
	sess *amlapi.Session
}

func (s sessionAnswers) Session(context.Context, amlapi.Kind, string) (*amlapi.Session, error) {
	return s.sess, s.err
}

func openedRecord(id string, openedAgo time.Duration) lookups.Record {
	return lookups.Record{State: lookups.Opened, SessionID: "s-" + id, OpenedAt: time.Now().Add(-openedAgo), AcceptedAt: time.Now().Add(-openedAgo),
		Command: kybflow.LookupCommand{LookupID: id, Type: kybflow.TypeOrganization, Country: kybflow.CountryNO,
			IdentifierType: kybflow.IdentifierOrganizationNumber, Identifier: "923609016"}}
}

// Nothing decoded after a paid create ends a lookup as rejected: an answer
// we cannot read, or a 404 soon after the create (our model's path is
// wrong), is retried, and only LOOKUP_MAX_WAIT ends it, as unavailable. A
// 404 once the results' lifetime has passed is an expiry.
func TestPaidSessionsAreNotRejectedForOurModel(t *testing.T) {
	unreadable := &amlapi.Error{Op: "get organization session", StatusCode: 200, Class: amlapi.Unreadable, Shape: "array(1)", Err: errors.New("not an object")}
	notFound := &amlapi.Error{Op: "get organization session", StatusCode: 404, Class: amlapi.Expired}
	for _, tc := range []struct {
		name      string
		err       error
		openedAgo time.Duration
		want      streams.Action
		code      kybflow.FailureCode
	}{
		{"unreadable, within the wait", unreadable, time.Minute, streams.ActRetry, ""},
		{"unreadable, past the wait", unreadable, 2 * time.Hour, streams.ActTerm, kybflow.CodeUnavailable},
		{"404 soon after the create", notFound, time.Minute, streams.ActRetry, ""},
		{"404 past the results' lifetime", notFound, amlapi.Lifetime + time.Minute, streams.ActTerm, kybflow.CodeExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, store, _ := newHandlersWith(t, func(a API) API { return sessionAnswers{API: a, err: tc.err} })
			h.c.MaxWait = time.Hour
			ctx := context.Background()
			rec := openedRecord("m-1", tc.openedAgo)
			rev, err := store.Create(ctx, rec)
			if err != nil {
				t.Fatal(err)
			}
			_, o := h.progress(ctx, rec, rev)
			act, delay := streams.Decide(ctx, o, 1, streams.Backoff{})
			if act != tc.want {
				t.Fatalf("%s: %s (%v), want %s", tc.name, act, o, tc.want)
			}
			if act == streams.ActRetry && delay != unreadableRetry {
				t.Errorf("retried after %s, want %s", delay, unreadableRetry)
			}
			got, _, _ := store.Get(ctx, "m-1")
			if tc.code == "" && got.State != lookups.Opened {
				t.Errorf("state %s, want still opened", got.State)
			}
			if tc.code != "" && (got.Failure == nil || got.Failure.Code != tc.code) {
				t.Errorf("failure %+v, want code %s", got.Failure, tc.code)
			}
		})
	}
}

// An entity status the model does not know is waited for; past
// LOOKUP_MAX_WAIT the lookup ends unavailable (our model's gap), not expired.
func TestUnknownStatusEndsUnavailable(t *testing.T) {
	odd := &amlapi.Session{JSONData: amlapi.Entity{Status: "PROCESSING"}}
	h, store, _ := newHandlersWith(t, func(a API) API { return sessionAnswers{API: a, sess: odd} })
	h.c.MaxWait = time.Hour
	ctx := context.Background()
	for _, tc := range []struct {
		ago  time.Duration
		done bool
	}{{time.Minute, false}, {2 * time.Hour, true}} {
		id := fmt.Sprintf("u-%t", tc.done)
		rec := openedRecord(id, tc.ago)
		rev, err := store.Create(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		done, o := h.progress(ctx, rec, rev)
		if done != tc.done {
			t.Fatalf("opened %s ago: done %t (%v), want %t", tc.ago, done, o, tc.done)
		}
		if tc.done {
			got, _, _ := store.Get(ctx, id)
			if got.Failure == nil || got.Failure.Code != kybflow.CodeUnavailable {
				t.Errorf("failure %+v, want unavailable", got.Failure)
			}
		}
	}
}

// A guide-shaped session answer lists no report at all for the sandbox's
// reports-late and reports-never identifiers: the reports are known only
// from the JSON's links.reports. Late reports are stored when they come,
// and the lookup completes with both; reports that never come end the
// lookup completed without them, listed missing, once the results can no
// longer be read (the JSON's links.expires: the sandbox's Lifetime after
// the JSON), not after LOOKUP_MAX_WAIT (an hour here).
func TestGuideShapedSessionsEndWhenEverythingListedIsStored(t *testing.T) {
	wantReports := []kybflow.ReportType{kybflow.ReportAML, kybflow.ReportCertificateOfIncorporation}
	for _, tc := range []struct {
		name, identifier string
		lifetime         time.Duration
		stored, missing  []string
	}{
		{"late", sandbox.ReportsLateNO, 0, []string{"json", "report:aml", "report:certificate_of_incorporation"}, nil},
		{"never", sandbox.ReportsNeverNO, 3 * time.Second, []string{"json"}, []string{"aml", "certificate_of_incorporation"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, store, js := newHandlersOn(t, sandbox.Config{SessionShape: sandbox.ShapeGuide, ReadyAfter: 100 * time.Millisecond,
				ReportInterval: 50 * time.Millisecond, Lifetime: tc.lifetime}, nil)
			ctx := context.Background()
			sid, err := h.c.API.CreateOrganizationSession(ctx, amlapi.NO, amlapi.CreateSessionRequest{Identifier: tc.identifier,
				Reports: []amlapi.ReportType{amlapi.ReportAML, amlapi.ReportCertificateOfIncorporation}}, amlapi.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rec := openedRecord(tc.name, 0)
			rec.SessionID, rec.Command.Identifier, rec.Command.Reports = sid, tc.identifier, wantReports
			if _, err := store.Create(ctx, rec); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			polls := 0
			testenv.Eventually(t, 20*time.Second, func() error {
				cur, rev, err := store.Get(ctx, tc.name)
				if err != nil {
					return err
				}
				polls++
				if done, o := h.progress(ctx, cur, rev); !done {
					return fmt.Errorf("not ended after %d polls (%v): artifacts %d", polls, o, len(cur.Artifacts))
				}
				return nil
			})
			got, _, err := store.Get(ctx, tc.name)
			if err != nil || got.State != lookups.Completed {
				t.Fatalf("record %+v (%v), want completed", got, err)
			}
			var names []string
			for _, a := range got.Artifacts {
				names = append(names, a.Name)
			}
			slices.Sort(names)
			if !slices.Equal(names, tc.stored) || !slices.Equal(got.MissingReports, tc.missing) {
				t.Errorf("stored %q, missing %q; want %q, %q", names, got.MissingReports, tc.stored, tc.missing)
			}
			if len(got.ReportLinks) != 2 || got.ResultsUntil.IsZero() {
				t.Errorf("the JSON's links %v, until %v: not recorded", got.ReportLinks, got.ResultsUntil)
			}
			if tc.missing != nil && time.Since(start) > tc.lifetime+5*time.Second {
				t.Errorf("ended %s after the start: not promptly after the results' lifetime %s", time.Since(start), tc.lifetime)
			}
			if ends := terminalEvents(t, js, tc.name); !slices.Equal(ends, []string{"completed"}) {
				t.Errorf("terminal events %q, want completed", ends)
			}
		})
	}
}

// Report types are matched in canonical form: a report listed under
// "certificate-of-incorporation-report" is the requested
// certificate_of_incorporation, stored as report:certificate_of_incorporation,
// and one the session lists unasked with a dash is stored too. A session
// done without a requested report completes without it at once.
func TestReportTypesWithDashes(t *testing.T) {
	h, store, js := newHandlersWith(t, func(a API) API { return dashedReports{API: a} })
	ctx := context.Background()
	rec := openedRecord("dashed", 0)
	rec.Command.Reports = []kybflow.ReportType{kybflow.ReportCertificateOfIncorporation, kybflow.ReportAML}
	rev, err := store.Create(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if done, o := h.progress(ctx, rec, rev); !done || !o.IsAck() {
		t.Fatalf("progress: done %t, %v", done, o)
	}
	got, _, _ := store.Get(ctx, "dashed")
	var names []string
	for _, a := range got.Artifacts {
		names = append(names, a.Name)
	}
	slices.Sort(names)
	want := []string{"json", "report:beneficial_owners_map", "report:certificate_of_incorporation"}
	if got.State != lookups.Completed || !slices.Equal(names, want) || !slices.Equal(got.MissingReports, []string{"aml"}) {
		t.Errorf("%s: stored %q, missing %q; want completed, %q, missing aml", got.State, names, got.MissingReports, want)
	}
	// The completed event says which reports are missing.
	stream, err := js.Stream(ctx, "AML_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	m, err := stream.GetLastMsgForSubject(ctx, "aml.events.dashed.completed")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := kybflow.DecodeEvent(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := ev.Data.(kybflow.CompletedData); !ok || !slices.Equal(d.MissingReports, []kybflow.ReportType{kybflow.ReportAML}) {
		t.Errorf("completed event %s: want missingReports [aml]", m.Data)
	}
}

// dashedReports answers every session done, in the guides' shape, with
// report types spelt with dashes and no aml report.
type dashedReports struct{ API }

func (dashedReports) Session(_ context.Context, _ amlapi.Kind, id string) (*amlapi.Session, error) {
	return amlapi.DecodeSession(strings.NewReader(`{"status": "DONE",
		"jsonData": {"status": "READY", "link": "https://aml.example/` + id + `/json"},
		"certificate-of-incorporation-report": {"status": "READY", "link": "https://aml.example/` + id + `/coi"},
		"Beneficial-Owners-Map-report": {"status": "READY", "link": "https://aml.example/` + id + `/map"}}`))
}

func (dashedReports) Download(_ context.Context, link string) (*amlapi.Download, error) {
	if strings.HasSuffix(link, "/json") {
		return &amlapi.Download{Body: io.NopCloser(strings.NewReader(`{"keyInformation": {"status": "ACTIVE"}}`)), Size: -1, ContentType: amlapi.ContentTypeJSON}, nil
	}
	return &amlapi.Download{Body: io.NopCloser(strings.NewReader("%PDF-1.7")), Size: 8, ContentType: amlapi.ContentTypePDF}, nil
}

// A report the session lists READY without a link (the guides' example)
// is downloaded from the JSON's links.reports, not from the path the
// model guesses (which answers 404 here, as an expiry would).
func TestListedReportWithoutLinkReadsTheJSONsLinks(t *testing.T) {
	h, store, _ := newHandlersWith(t, func(a API) API { return guideListed{API: a} })
	ctx := context.Background()
	rec := openedRecord("listed", 0)
	rec.Command.Reports = []kybflow.ReportType{kybflow.ReportAML}
	rev, err := store.Create(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if done, o := h.progress(ctx, rec, rev); !done || !o.IsAck() {
		t.Fatalf("progress: done %t, %v", done, o)
	}
	got, _, _ := store.Get(ctx, "listed")
	if _, ok := got.Artifact(kybflow.ReportArtifactName(kybflow.ReportAML)); got.State != lookups.Completed || !ok || len(got.MissingReports) != 0 {
		t.Errorf("%s, artifacts %v, missing %q; want completed with the aml report", got.State, got.Artifacts, got.MissingReports)
	}
}

// guideListed answers the guides' shape: statuses only, so the client
// guesses the links; the JSON links the report elsewhere.
type guideListed struct{ API }

func (guideListed) Session(_ context.Context, _ amlapi.Kind, id string) (*amlapi.Session, error) {
	s, err := amlapi.DecodeSession(strings.NewReader(`{"status": "DONE", "jsonData": "READY", "aml-report": "READY"}`))
	if err != nil {
		return nil, err
	}
	s.JSONData.Link, s.JSONData.Guessed = "https://aml.example/"+id+"/json", true
	for t, e := range s.Reports {
		e.Link, e.Guessed = "https://aml.example/guessed/"+string(t), true
		s.Reports[t] = e
	}
	return s, nil
}

func (guideListed) Download(_ context.Context, link string) (*amlapi.Download, error) {
	switch {
	case strings.HasSuffix(link, "/json"):
		return &amlapi.Download{Body: io.NopCloser(strings.NewReader(`{"keyInformation": {"status": "ACTIVE"}, "links": {"reports": {"aml": "https://aml.example/real/aml"}}}`)),
			Size: -1, ContentType: amlapi.ContentTypeJSON}, nil
	case strings.Contains(link, "/guessed/"):
		return nil, &amlapi.Error{Op: "download", StatusCode: 404, Class: amlapi.Expired, Err: errors.New("not found")}
	}
	return &amlapi.Download{Body: io.NopCloser(strings.NewReader("%PDF-1.7")), Size: 8, ContentType: amlapi.ContentTypePDF}, nil
}
