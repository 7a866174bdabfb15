package changes_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/changes"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/testenv"
)

// The sandbox's changing identifiers (docs/sandbox.md, "Changing
// identifiers") change named blocks from one session to the next and
// nothing else, while every session has its own id in its links. Compare
// finds exactly the planted changes, with the counts the sandbox's
// sequence implies, and nothing between sessions 3 and 4.

// everyExpand asks for every block, OFAC and credit included.
var everyExpand = []string{"address", "financials", "financials.credit", "ownership", "authorities", "roles", "sanction.ofac"}

// changingSteps are, per behaviour, the blocks that change from session 1
// to 2, 2 to 3 and 3 to 4 (in outline's notation), then from 1 to 3.
var changingSteps = map[sandbox.Behaviour][4]string{
	sandbox.BehaviourSteady: {"", "", "", ""},
	// A board member joins, then the first one leaves.
	sandbox.BehaviourChangingRoles: {"roles +1", "roles -1", "", "roles +1 -1"},
	// A newcomer buys 30 % from the investment company, then the
	// chairman's 60 %.
	sandbox.BehaviourChangingOwners: {
		"ownership.beneficials +1; ownership.shareholders +1 ~1",
		"ownership.beneficials -1 ~1; ownership.shareholders -1 ~1",
		"",
		"ownership.beneficials +1 -1; ownership.shareholders +1 -1 ~1",
	},
	sandbox.BehaviourChangingStatus: {"keyInformation ~1", "keyInformation ~1", "", "keyInformation ~1"},
	// NO_HIT, then HIT on EU and OFAC (status and message change), then on UN too.
	sandbox.BehaviourChangingSanction: {"sanction +2 ~2", "sanction +1", "", "sanction +3 ~2"},
}

func TestChangingIdentifiers(t *testing.T) {
	t.Parallel()
	c := sandboxClient(t)
	for _, s := range sandbox.ChangingIdentifiers() {
		want, ok := changingSteps[s.Behaviour]
		if !ok {
			t.Fatalf("no expectation for behaviour %s", s.Behaviour)
		}
		t.Run(string(s.Country)+"/"+string(s.Behaviour), func(t *testing.T) {
			t.Parallel()
			var docs [][]byte
			for range 4 {
				docs = append(docs, runOrganization(t, c, s.Country, s.Identifier))
			}
			checkSteps(t, changes.Organization, docs, want)
			if bytes.Equal(docs[2], docs[3]) {
				t.Error("sessions 3 and 4 have the same JSON: nothing volatile was left out")
			}
		})
	}
}

func TestChangingBeneficialOwners(t *testing.T) {
	t.Parallel()
	c := sandboxClient(t)
	for id, want := range map[string][4]string{
		sandbox.SteadyNO:         {"", "", "", ""},
		sandbox.ChangingOwnersNO: {"beneficialOwners +1", "beneficialOwners -1 ~1", "", "beneficialOwners +1 -1"},
		// Only ownership changes in a beneficial owners document.
		sandbox.ChangingSanctionNO: {"", "", "", ""},
	} {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			var docs [][]byte
			for range 4 {
				docs = append(docs, runBeneficial(t, c, id))
			}
			checkSteps(t, changes.BeneficialOwners, docs, want)
		})
	}
}

// checkSteps compares sessions 1→2, 2→3, 3→4 and 1→3.
func checkSteps(t *testing.T, k changes.Kind, docs [][]byte, want [4]string) {
	t.Helper()
	steps := [][2]int{{0, 1}, {1, 2}, {2, 3}, {0, 2}}
	for i, s := range steps {
		got := outline(compare(t, k, string(docs[s[0]]), string(docs[s[1]])))
		if got != want[i] {
			t.Errorf("session %d → %d: %q, want %q", s[0]+1, s[1]+1, got, want[i])
		}
	}
}

// sandboxClient starts a sandbox whose results are ready at once and
// returns a client of it allowed every scope.
func sandboxClient(t *testing.T) *amlapi.Client {
	t.Helper()
	srv, err := sandbox.Start(sandbox.Config{ReadyAfter: 20 * time.Millisecond, ReportInterval: 10 * time.Millisecond}, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("start the sandbox: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	c, err := amlapi.New(amlapi.Config{
		BaseURL: srv.URL(), IssuerURL: srv.IssuerURL(), ClientID: "sandbox", ClientSecret: "sandbox-secret",
		Scopes:    []string{amlapi.ScopeBasic, amlapi.ScopeOFAC, amlapi.ScopeFinancialsCredit},
		RateLimit: rate.Inf, // the subtests share the client: no cap on our own sandbox
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func runOrganization(t *testing.T, c *amlapi.Client, country amlapi.Country, id string) []byte {
	t.Helper()
	sid, err := c.CreateOrganizationSession(context.Background(), country, amlapi.CreateSessionRequest{
		Identifier: id, Expands: everyExpand, Reports: []amlapi.ReportType{amlapi.ReportAML},
	}, amlapi.CreateOptions{})
	if err != nil {
		t.Fatalf("create a session for %s %s: %v", country, id, err)
	}
	return jsonOf(t, c, amlapi.KindOrganization, sid)
}

func runBeneficial(t *testing.T, c *amlapi.Client, id string) []byte {
	t.Helper()
	sid, err := c.CreateBeneficialSession(context.Background(), amlapi.CreateSessionRequest{Identifier: id}, amlapi.CreateOptions{})
	if err != nil {
		t.Fatalf("create a beneficial owners session for %s: %v", id, err)
	}
	return jsonOf(t, c, amlapi.KindBeneficial, sid)
}

// jsonOf waits for the JSON of a session and downloads it.
func jsonOf(t *testing.T, c *amlapi.Client, k amlapi.Kind, sid string) []byte {
	t.Helper()
	ctx := context.Background()
	var link string
	testenv.Eventually(t, 10*time.Second, func() error {
		s, err := c.Session(ctx, k, sid)
		if err != nil {
			return fmt.Errorf("session %s: %w", sid, err)
		}
		if s.JSONData.Status != amlapi.EntityReady {
			return fmt.Errorf("session %s: json %s", sid, s.JSONData.Status)
		}
		link = s.JSONData.Link
		return nil
	})
	d, err := c.Download(ctx, link)
	if err != nil {
		t.Fatalf("download %s: %v", link, err)
	}
	defer d.Body.Close()
	body, err := io.ReadAll(d.Body)
	if err != nil {
		t.Fatalf("read %s: %v", link, err)
	}
	return body
}
