package sandbox_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow/identifier"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox"
)

func TestChangingIdentifiersAreValid(t *testing.T) {
	t.Parallel()
	changing := sandbox.ChangingIdentifiers()
	if len(changing) != 15 {
		t.Fatalf("%d changing identifiers", len(changing))
	}
	seen := map[string]bool{}
	for _, s := range sandbox.SpecialIdentifiers() {
		seen[string(s.Country)+s.Identifier] = true
	}
	for _, s := range changing {
		k, _ := identifier.ForCountry(string(s.Country))
		if canon, err := identifier.Normalize(k, s.Identifier); err != nil || canon != s.Identifier {
			t.Errorf("%s %s: %q, %v", s.Country, s.Identifier, canon, err)
		}
		if seen[string(s.Country)+s.Identifier] {
			t.Errorf("%s %s: twice among the special and changing identifiers", s.Country, s.Identifier)
		}
		seen[string(s.Country)+s.Identifier] = true
	}
}

// monitoredBlocks are the blocks a monitor compares, each marshalled; a
// block missing from doc is "".
func monitoredBlocks(t *testing.T, doc map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	get := func(name string, v any, ok bool) {
		if ok {
			b, _ := json.Marshal(v)
			out[name] = string(b)
		}
	}
	for _, k := range []string{"keyInformation", "address", "roles", "authorities", "financials", "sanction"} {
		v, ok := doc[k]
		get(k, v, ok)
	}
	own, _ := doc["ownership"].(map[string]any)
	for _, k := range []string{"beneficials", "subsidiaries", "shareholders", "indicators"} {
		v, ok := own[k]
		get("ownership."+k, v, ok)
	}
	return out
}

// changedBlocks names the monitored blocks that differ between a and b.
func changedBlocks(t *testing.T, a, b map[string]any) []string {
	t.Helper()
	ba, bb := monitoredBlocks(t, a), monitoredBlocks(t, b)
	if len(ba) != 10 || len(bb) != 10 {
		t.Fatalf("not every block is in the documents: %d, %d", len(ba), len(bb))
	}
	var out []string
	for k, v := range ba {
		if bb[k] != v {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// listOf is a list in a decoded document, each element's field f where
// keep says.
func listOf(t *testing.T, v any, f string, keep func(map[string]any) bool) []string {
	t.Helper()
	var out []string
	for _, x := range v.([]any) {
		if m := x.(map[string]any); keep == nil || keep(m) {
			out = append(out, fmt.Sprint(m[f]))
		}
	}
	return out
}

// changingCase is a changing identifier's expected sequence over sessions
// 1 to 4: the blocks that change from each session to the next, and a
// summary of each session's document.
type changingCase struct {
	b       sandbox.Behaviour
	changes [3][]string
	summary func(t *testing.T, doc map[string]any) string
	want    [4]string
}

var (
	rolesChange  = []string{"roles"}
	ownersChange = []string{"ownership.beneficials", "ownership.shareholders"}
)

var changingCases = []changingCase{
	{b: sandbox.BehaviourSteady, summary: func(t *testing.T, doc map[string]any) string { return "" }},
	{b: sandbox.BehaviourChangingRoles, changes: [3][]string{rolesChange, rolesChange, nil},
		summary: func(t *testing.T, doc map[string]any) string {
			return fmt.Sprint(len(listOf(t, doc["roles"], "name", func(m map[string]any) bool { return m["type"] == "BOARD_MEMBER" })))
		}},
	{b: sandbox.BehaviourChangingOwners, changes: [3][]string{ownersChange, ownersChange, nil},
		summary: func(t *testing.T, doc map[string]any) string {
			return fmt.Sprintf("%v %v", listOf(t, path(t, doc, "ownership", "beneficials"), "share", nil),
				listOf(t, path(t, doc, "ownership", "shareholders"), "share", nil))
		},
		want: [4]string{"[60] [60 40]", "[60 30] [60 30 10]", "[90] [90 10]", "[90] [90 10]"}},
	{b: sandbox.BehaviourChangingStatus, changes: [3][]string{{"keyInformation"}, {"keyInformation"}, nil},
		summary: func(t *testing.T, doc map[string]any) string {
			return path(t, doc, "keyInformation", "status").(string)
		},
		want: [4]string{"ACTIVE", "BANKRUPT", "DISSOLVED", "DISSOLVED"}},
	{b: sandbox.BehaviourChangingSanction, changes: [3][]string{{"sanction"}, {"sanction"}, nil},
		summary: func(t *testing.T, doc map[string]any) string {
			return fmt.Sprintf("%v %v", path(t, doc, "sanction", "status"), listOf(t, path(t, doc, "sanction", "matches"), "matchIndicator", nil))
		},
		want: [4]string{"NO_HIT []", "HIT [500 480]", "HIT [500 430 480]", "HIT [500 430 480]"}},
}

// changingID is the changing identifier of behaviour b in country c.
func changingID(t *testing.T, c amlapi.Country, b sandbox.Behaviour) string {
	t.Helper()
	for _, s := range sandbox.ChangingIdentifiers() {
		if s.Country == c && s.Behaviour == b {
			return s.Identifier
		}
	}
	t.Fatalf("no %s identifier for %s", b, c)
	return ""
}

// TestChangingIdentifiers runs four sessions of each changing identifier
// in each country, as a monitor would, and checks that each step changes
// the planted blocks and nothing else, in the JSON and the AML report.
func TestChangingIdentifiers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{ReadyAfter: 50 * time.Millisecond})
	org := amlapi.KindOrganization
	for _, c := range []amlapi.Country{amlapi.NO, amlapi.SE, amlapi.FI} {
		for _, tc := range changingCases {
			t.Run(string(c)+"/"+string(tc.b), func(t *testing.T) {
				t.Parallel()
				e := *e
				e.t = t
				id := changingID(t, c, tc.b)
				var sids []string
				for range 4 {
					sids = append(sids, e.create(amlapi.CreateOrganizationPath(c), amlapi.CreateSessionRequest{
						Identifier: id, Expands: everyExpand, Reports: []amlapi.ReportType{amlapi.ReportAML}}))
				}
				var docs []map[string]any
				var raw [][]byte
				for i, sid := range sids {
					s := e.wait(org, sid, 3*time.Second, done)
					resp, body := e.do(http.MethodGet, s.JSONData.Link, e.token, nil)
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("session %d: GET json %d %s", i+1, resp.StatusCode, body)
					}
					var doc map[string]any
					mustJSON(t, body, &doc)
					docs, raw = append(docs, doc), append(raw, body)
					if got := tc.summary(t, doc); tc.want[i] != "" && got != tc.want[i] {
						t.Errorf("session %d: %s, want %s", i+1, got, tc.want[i])
					}
					// The client's decoder reads the changed values.
					dec, err := amlapi.DecodeOrganization(bytes.NewReader(body))
					if err != nil {
						t.Fatalf("session %d: DecodeOrganization: %v", i+1, err)
					}
					ki, _ := dec.KeyInformation.Found()
					sanction, _ := dec.Sanction.Found()
					if tc.b == sandbox.BehaviourChangingStatus && string(ki.Status) != tc.want[i] ||
						tc.b == sandbox.BehaviourChangingSanction && !strings.HasPrefix(tc.want[i], string(sanction.Status)+" ") {
						t.Errorf("session %d: the client decodes status %q, sanction %q", i+1, ki.Status, sanction.Status)
					}
				}
				for i := range 3 {
					if got := changedBlocks(t, docs[i], docs[i+1]); !slices.Equal(got, tc.changes[i]) {
						t.Errorf("session %d → %d: blocks %v changed, want %v", i+1, i+2, got, tc.changes[i])
					}
				}
				if got := changedBlocks(t, docs[0], docs[2]); !slices.Equal(got, tc.changes[0]) {
					t.Errorf("session 1 → 3: blocks %v changed, want %v", got, tc.changes[0])
				}
				// A session's document is fixed at create: the first is
				// the same after the others were made.
				if _, body := e.do(http.MethodGet, amlapi.JSONLinkPath(org, sids[0]), e.token, nil); !bytes.Equal(body, raw[0]) {
					t.Error("session 1's JSON changed after later sessions were created")
				}
				checkChangingReports(t, &e, tc.b, sids)
				if tc.b == sandbox.BehaviourChangingRoles {
					checkRoleSequence(t, docs)
				}
			})
		}
	}
}

// checkChangingReports: the AML report shows the status and sanction
// changes.
func checkChangingReports(t *testing.T, e *env, b sandbox.Behaviour, sids []string) {
	t.Helper()
	want := map[sandbox.Behaviour][2]string{
		sandbox.BehaviourChangingStatus:   {"(ACTIVE)", "(BANKRUPT)"},
		sandbox.BehaviourChangingSanction: {"(NO_HIT)", "(HIT)"},
	}[b]
	if want[0] == "" {
		return
	}
	for i, w := range want {
		resp, pdf := e.do(http.MethodGet, amlapi.ReportLinkPath(amlapi.KindOrganization, sids[i], amlapi.ReportAML), e.token, nil)
		if resp.StatusCode != http.StatusOK || !bytes.Contains(pdf, []byte(w)) {
			t.Errorf("session %d: AML report (%d) does not show %s", i+1, resp.StatusCode, w)
		}
	}
}

// checkRoleSequence: session 2 adds a board member who joined on the
// data date, session 3 removes the first of session 1's.
func checkRoleSequence(t *testing.T, docs []map[string]any) {
	t.Helper()
	board := func(doc map[string]any, f string) []string {
		return listOf(t, doc["roles"], f, func(m map[string]any) bool { return m["type"] == "BOARD_MEMBER" })
	}
	b1, b2, b3 := board(docs[0], "name"), board(docs[1], "name"), board(docs[2], "name")
	joined := b2[len(b2)-1]
	if !reflect.DeepEqual(b2, append(slices.Clone(b1), joined)) || !reflect.DeepEqual(b3, append(slices.Clone(b1[1:]), joined)) ||
		slices.Contains(b1, joined) || strings.TrimSpace(joined) == "" {
		t.Errorf("board members %q, %q, %q; want %q joining, then %q leaving", b1, b2, b3, joined, b1[0])
	}
	if since := board(docs[1], "since"); since[len(since)-1] != "2025-06-30" {
		t.Errorf("the new board member's since is %s", since[len(since)-1])
	}
}
