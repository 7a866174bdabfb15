package console

// The lookups page and a lookup's page.

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kybflow/kybflow"
)

// ages are the age filter's choices: lookups created within it.
var ages = []struct {
	Value, Label string
	Within       time.Duration
}{
	{"1h", "last hour", time.Hour},
	{"24h", "last 24 hours", 24 * time.Hour},
	{"7d", "last 7 days", 7 * 24 * time.Hour},
	{"30d", "last 30 days", 30 * 24 * time.Hour},
}

// option is a choice of a filter.
type option struct {
	Value, Label string
	Selected     bool
}

func options(selected string, values ...string) []option {
	out := make([]option, len(values))
	for i, v := range values {
		out[i] = option{Value: v, Label: v, Selected: v == selected}
	}
	return out
}

// listView is the lookups page.
type listView struct {
	States, Types, Countries, Ages []option
	Search                         string
	Page                           Page
	Filtered                       bool
	NextURL                        string
	CatchingUp                     string // why the index is not complete yet, or ""
}

// list is GET /: the lookups, newest first, filtered, 50 a page.
func (s *server) list(w http.ResponseWriter, r *http.Request) {
	in := r.URL.Query()
	var q Query
	var bad []string
	if v := in.Get("state"); v != "" {
		if st, ok := ParseState(v); ok {
			q.State = st
		} else {
			bad = append(bad, "state")
		}
	}
	q.Type, q.Country = in.Get("type"), in.Get("country")
	if q.Type != "" && q.Type != string(kybflow.TypeOrganization) && q.Type != string(kybflow.TypeBeneficialOwners) {
		bad = append(bad, "type")
	}
	if q.Country != "" && q.Country != string(kybflow.CountryNO) && q.Country != string(kybflow.CountrySE) && q.Country != string(kybflow.CountryFI) {
		bad = append(bad, "country")
	}
	age := in.Get("age")
	if age != "" {
		found := false
		for _, a := range ages {
			if a.Value == age {
				q.Since, found = s.Now().Add(-a.Within), true
			}
		}
		if !found {
			bad = append(bad, "age")
		}
	}
	q.Search = strings.TrimSpace(in.Get("q"))
	q.After = in.Get("after")
	if len(bad) > 0 {
		s.fail(w, r, http.StatusBadRequest, "These filters have values the console does not know: "+strings.Join(bad, ", ")+".")
		return
	}
	page, err := s.Index.Query(q)
	if errors.Is(err, ErrBadCursor) {
		s.fail(w, r, http.StatusBadRequest, "That page link is not valid any more: start from the first page.")
		return
	}
	v := listView{
		Types:     options(q.Type, string(kybflow.TypeOrganization), string(kybflow.TypeBeneficialOwners)),
		Countries: options(q.Country, string(kybflow.CountryNO), string(kybflow.CountrySE), string(kybflow.CountryFI)),
		Search:    q.Search, Page: page,
		Filtered: q.State != 0 || q.Type != "" || q.Country != "" || age != "" || q.Search != "",
	}
	for _, st := range States() {
		v.States = append(v.States, option{Value: st.String(), Label: st.String(), Selected: st == q.State})
	}
	for _, a := range ages {
		v.Ages = append(v.Ages, option{Value: a.Value, Label: a.Label, Selected: a.Value == age})
	}
	if page.Next != "" {
		next := url.Values{}
		for k, vs := range in {
			if k != "after" && len(vs) > 0 && vs[0] != "" {
				next.Set(k, vs[0])
			}
		}
		next.Set("after", page.Next)
		v.NextURL = "/?" + next.Encode()
	}
	if err := s.Index.Ready(r.Context()); err != nil {
		v.CatchingUp = err.Error()
	}
	s.render(w, r, http.StatusOK, "list", "Lookups", v)
}

// lookupView is a lookup's page.
type lookupView struct {
	Lookup
	Timeline  []timelineRow
	Summary   []fact
	Artifacts []artifactView
	Documents bool // the user may open the documents
}

type timelineRow struct {
	Event
	Since string // time since the event before, or ""
}

type fact struct{ Name, Value string }

type artifactView struct {
	kybflow.Artifact
	Link string // the document's page; "" when the user may not open it
}

// lookup is GET /lookups/{key}: the lookup's timeline, its summary and its
// artifacts.
func (s *server) lookup(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	l, ok := s.Index.Lookup(key)
	if !ok {
		s.fail(w, r, http.StatusNotFound, "The console knows no lookup "+key+".")
		return
	}
	u, _ := UserOf(r.Context())
	v := lookupView{Lookup: l, Summary: summaryFacts(l.Summary), Documents: u.Role.Allows(RoleOfficer)}
	for i, e := range l.Events {
		row := timelineRow{Event: e}
		if i > 0 {
			row.Since = "+" + l.Events[i].At.Sub(l.Events[i-1].At).Round(time.Millisecond).String()
		}
		v.Timeline = append(v.Timeline, row)
	}
	for _, a := range l.Artifacts {
		av := artifactView{Artifact: a}
		if v.Documents {
			av.Link = "/lookups/" + url.PathEscape(key) + "/artifacts/" + url.PathEscape(a.Name)
		}
		v.Artifacts = append(v.Artifacts, av)
	}
	s.render(w, r, http.StatusOK, "lookup", "Lookup "+key, v)
}

// summaryFacts lists what a summary says, in the order the contract
// describes it.
func summaryFacts(sum *kybflow.Summary) []fact {
	if sum == nil {
		return nil
	}
	var out []fact
	add := func(name, value string) { out = append(out, fact{name, value}) }
	count := func(name string, n *int) {
		if n != nil {
			add(name, strconv.Itoa(*n))
		}
	}
	if sum.Unavailable != "" {
		add("unavailable", string(sum.Unavailable))
	}
	if o := sum.Organization; o != nil {
		add("organization status", string(o.Status))
		add("sanction screening", string(o.Sanction))
		count("roles", o.Roles)
		count("signature rights", o.SignatureRights)
		count("beneficial owners", o.BeneficialOwners)
		count("shareholders", o.Shareholders)
		count("subsidiaries", o.Subsidiaries)
	}
	if b := sum.BeneficialOwners; b != nil {
		count("beneficial owners", b.Owners)
		add("details withheld", fmt.Sprint(b.DetailsWithheld))
	}
	if len(sum.Empty) > 0 {
		add("empty blocks", strings.Join(sum.Empty, ", "))
	}
	if len(sum.Omitted) > 0 {
		add("omitted blocks", strings.Join(sum.Omitted, ", "))
	}
	return out
}
