package sandbox_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow/identifier"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox"
)

func TestSpecialIdentifiersAreValid(t *testing.T) {
	t.Parallel()
	specials := sandbox.SpecialIdentifiers()
	if len(specials) != 21 {
		t.Fatalf("%d special identifiers", len(specials))
	}
	for _, s := range specials {
		k, _ := identifier.ForCountry(string(s.Country))
		if canon, err := identifier.Normalize(k, s.Identifier); err != nil || canon != s.Identifier {
			t.Errorf("%s %s: %q, %v", s.Country, s.Identifier, canon, err)
		}
	}
}

// TestSpecialIdentifiers: each behaves its way in each country, whatever the
// fault rates.
func TestSpecialIdentifiers(t *testing.T) {
	t.Parallel()
	// FailRate 1 must not make the non-failing special ones fail.
	e := newEnv(t, sandbox.Config{ReadyAfter: 100 * time.Millisecond, Faults: sandbox.Faults{FailRate: 1}})
	for _, c := range []amlapi.Country{amlapi.NO, amlapi.SE, amlapi.FI} {
		t.Run(string(c), func(t *testing.T) {
			t.Parallel()
			e := *e
			e.t = t
			id := func(b sandbox.Behaviour) string {
				for _, s := range sandbox.SpecialIdentifiers() {
					if s.Country == c && s.Behaviour == b {
						return s.Identifier
					}
				}
				t.Fatalf("no %s identifier for %s", b, c)
				return ""
			}
			create := func(b sandbox.Behaviour, expands ...string) string {
				return e.create(amlapi.CreateOrganizationPath(c), amlapi.CreateSessionRequest{Identifier: id(b), Expands: expands,
					Reports: []amlapi.ReportType{"aml"}})
			}
			org := amlapi.KindOrganization
			fail, hit, hitOFAC := create(sandbox.BehaviourFail), create(sandbox.BehaviourSanctionHit, "sanction"), create(sandbox.BehaviourSanctionHit, "sanction.ofac")
			noOwners, slow, expires := create(sandbox.BehaviourNoOwners, "ownership"), create(sandbox.BehaviourSlow), create(sandbox.BehaviourExpires)

			if s := e.wait(org, fail, 2*time.Second, done); s.Status != amlapi.SessionFailed {
				t.Errorf("fail: %s", s.Status)
			}
			matches := func(sid string) []any {
				doc := e.fetchJSON(e.wait(org, sid, 2*time.Second, done))
				if st := path(t, doc, "sanction", "status"); st != "HIT" {
					t.Errorf("sanction hit: status %v", st)
				}
				return path(t, doc, "sanction", "matches").([]any)
			}
			m := matches(hit)
			if len(m) == 0 || path(t, m[0], "matchIndicator").(float64) != 500 {
				t.Errorf("sanction hit: matches %v", m)
			}
			lists := func(ms []any) (out []string) {
				for _, x := range ms {
					out = append(out, path(t, x, "listName").(string))
				}
				return out
			}
			if ofac := lists(matches(hitOFAC)); len(ofac) != len(m)+1 || !strings.Contains(strings.Join(ofac, ","), "SDN") {
				t.Errorf("sanction.ofac matches %v; without: %v", ofac, lists(m))
			}
			doc := e.fetchJSON(e.wait(org, noOwners, 2*time.Second, done))
			if b := path(t, doc, "ownership", "beneficials").([]any); len(b) != 0 {
				t.Errorf("no owners: %v", b)
			}
			if s := e.session(org, slow); s.Status != amlapi.SessionInProgress || s.JSONData.Status == amlapi.EntityReady {
				t.Errorf("slow: %+v", s)
			}
			s := e.wait(org, expires, 2*time.Second, func(s amlapi.Session) bool { return s.JSONData.Status == amlapi.EntityReady })
			if d := s.JSONData.Expires.Sub(s.Created.Time); d > 2*time.Second {
				t.Errorf("expires: lifetime %s", d)
			}
			s = e.wait(org, expires, 3*time.Second, func(s amlapi.Session) bool { return s.JSONData.Status == amlapi.EntityExpired })
			if resp, _ := e.do(http.MethodGet, amlapi.JSONLinkPath(org, expires), e.token, nil); resp.StatusCode != http.StatusGone {
				t.Errorf("expires: GET json %d, want 410", resp.StatusCode)
			}
			if s.Status != amlapi.SessionDone {
				t.Errorf("expires: session %s, want still DONE", s.Status)
			}
			s = e.wait(org, slow, 3*time.Second, done)
			if s.Status != amlapi.SessionDone || s.JSONData.Expires.Sub(s.Created.Time) < amlapi.Lifetime+sandbox.SlowFactor*100*time.Millisecond {
				t.Errorf("slow: %+v", s)
			}
		})
	}
}

// TestBeneficialOwners checks the National Registry rule and the content
// of the beneficial owners JSON.
func TestBeneficialOwners(t *testing.T) {
	t.Parallel()
	all := []string{"citizenship", "birthplace", "ssn"}
	for _, tc := range []struct {
		access  amlapi.NationalRegistryAccess
		ssn     bool
		want    []string
		omitted []string
	}{
		{amlapi.AccessGranted, true, all, nil},
		{amlapi.AccessGranted, false, []string{"citizenship", "birthplace"}, []string{"ssn"}},
		{amlapi.AccessPending, true, nil, all},
		{amlapi.AccessMissing, false, nil, all},
	} {
		t.Run(string(tc.access)+"/ssn="+strconv.FormatBool(tc.ssn), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, sandbox.Config{ReadyAfter: 50 * time.Millisecond, NationalRegistry: tc.access, SSNAccess: tc.ssn})
			id := e.create(amlapi.CreateBeneficialPath, amlapi.CreateSessionRequest{Identifier: "988077917", Expands: all, Reports: []amlapi.ReportType{"aml"}})
			s := e.wait(amlapi.KindBeneficial, id, 2*time.Second, done)
			if s.Status != amlapi.SessionDone {
				t.Fatalf("session %s", s.Status)
			}
			doc := e.fetchJSON(s)
			if path(t, doc, "organization", "organizationNumber") != "988077917" {
				t.Errorf("organization %v", doc["organization"])
			}
			owners := path(t, doc, "beneficialOwners").([]any)
			if len(owners) == 0 {
				t.Fatal("no beneficial owners")
			}
			for _, o := range owners {
				m := o.(map[string]any)
				for _, k := range []string{"name", "birthDate", "address", "share", "roles", "reason", "reasonPhrase", "integratedOwnership", "percentageControl"} {
					if _, ok := m[k]; !ok {
						t.Errorf("owner lacks %s: %v", k, m)
					}
				}
				for _, f := range all {
					field := f
					if f == "ssn" { // the expand's field has the guide's name
						field = "identificationNumber"
					}
					if _, ok := m[field]; ok != slices.Contains(tc.want, f) {
						t.Errorf("owner has %s: %v, want %v", field, ok, slices.Contains(tc.want, f))
					}
				}
				if _, ok := m["ssn"]; ok {
					t.Error("the identity number under the older name ssn")
				}
				if ssn, ok := m["identificationNumber"].(string); ok && !syntheticFNR(ssn) {
					t.Errorf("ssn %s is not a valid synthetic (month+80) number", ssn)
				}
			}
			var omitted []string
			if o, ok := path(t, doc, "metadata").(map[string]any)["omittedFields"]; ok {
				b, _ := json.Marshal(o)
				if err := json.Unmarshal(b, &omitted); err != nil {
					t.Errorf("omittedFields %s: %v", b, err)
				}
			}
			if !slices.Equal(omitted, tc.omitted) {
				t.Errorf("omittedFields %v, want %v", omitted, tc.omitted)
			}
		})
	}

	// No owners: an empty list, the session still DONE.
	e := newEnv(t, sandbox.Config{ReadyAfter: 50 * time.Millisecond})
	id := e.create(amlapi.CreateBeneficialPath, amlapi.CreateSessionRequest{Identifier: sandbox.NoOwnersNO})
	if owners := path(t, e.fetchJSON(e.wait(amlapi.KindBeneficial, id, 2*time.Second, done)), "beneficialOwners").([]any); len(owners) != 0 {
		t.Errorf("no-owners identifier: %v", owners)
	}
}

// syntheticFNR checks a Norwegian national identity number of the
// synthetic kind: month + 80 and both mod-11 control digits.
func syntheticFNR(s string) bool {
	if len(s) != 11 {
		return false
	}
	d := make([]int, 11)
	for i := range s {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		d[i] = int(s[i] - '0')
	}
	if month := d[2]*10 + d[3]; month < 81 || month > 92 {
		return false
	}
	ctl := func(w []int) int {
		sum := 0
		for i, x := range w {
			sum += x * d[i]
		}
		k := 11 - sum%11
		if k == 11 {
			k = 0
		}
		return k
	}
	return ctl([]int{3, 7, 6, 1, 8, 9, 4, 5, 2}) == d[9] && ctl([]int{5, 4, 3, 2, 7, 6, 5, 4, 3, 2}) == d[10]
}
