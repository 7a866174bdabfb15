package docs

// The alerting rules: operations.md shows deploy/prometheus/kybflow-alerts.yaml,
// and every series a rule reads is one that is exported, with the labels and
// values the rule matches on.

import (
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/bridge"
	"github.com/kybflow/kybflow/internal/handler"
	"github.com/kybflow/kybflow/internal/streams"
)

// shippedRules is the rules file deploy/ ships.
const shippedRules = "../deploy/prometheus/kybflow-alerts.yaml"

// A rule is one alerting rule of a Prometheus rules file.
type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

// parseRules reads a rules file's alerting rules, by name, in order.
func parseRules(t *testing.T, what string, text []byte) ([]string, map[string]rule) {
	t.Helper()
	var f ruleFile
	if err := yaml.Unmarshal(text, &f); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var names []string
	rules := map[string]rule{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if _, dup := rules[r.Alert]; dup {
				t.Errorf("%s: alert %s twice", what, r.Alert)
			}
			names = append(names, r.Alert)
			rules[r.Alert] = r
		}
	}
	if len(names) == 0 {
		t.Fatalf("%s: no alerting rules", what)
	}
	return names, rules
}

func shipped(t *testing.T) ([]string, map[string]rule) {
	t.Helper()
	b, err := os.ReadFile(shippedRules)
	if err != nil {
		t.Fatal(err)
	}
	return parseRules(t, shippedRules, b)
}

// suggestedAlerts is the YAML block under operations.md's "Suggested alerts".
func suggestedAlerts(t *testing.T) []byte {
	t.Helper()
	doc, err := os.ReadFile("operations.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)### Suggested alerts\n.*?```yaml\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("operations.md has no YAML block under \"### Suggested alerts\"")
	}
	return m[1]
}

// TestDocsAlertsAreTheShippedRules keeps the rules operations.md shows
// equal to the rules file an operator loads.
func TestDocsAlertsAreTheShippedRules(t *testing.T) {
	fileNames, file := shipped(t)
	docNames, doc := parseRules(t, "operations.md, Suggested alerts", suggestedAlerts(t))
	for _, n := range docNames {
		f, ok := file[n]
		switch {
		case !ok:
			t.Errorf("operations.md suggests the alert %s, which %s does not have", n, shippedRules)
		case !reflect.DeepEqual(doc[n], f):
			t.Errorf("alert %s: operations.md shows %+v, %s has %+v", n, doc[n], shippedRules, f)
		}
	}
	for _, n := range fileNames {
		if _, ok := doc[n]; !ok {
			t.Errorf("%s has the alert %s, which operations.md does not show", shippedRules, n)
		}
	}
}

// TestDocsNameOnlyShippedAlerts: an alert the docs name (`KybflowStreamFilling`
// in a runbook line) is one of the shipped rules.
func TestDocsNameOnlyShippedAlerts(t *testing.T) {
	_, file := shipped(t)
	name := regexp.MustCompile(`\bKybflow[A-Z][A-Za-z0-9]*\b`)
	for doc, text := range docFiles(t) {
		for _, n := range name.FindAllString(text, -1) {
			if _, ok := file[n]; !ok {
				t.Errorf("%s names the alert %s, which %s does not have", doc, n, shippedRules)
			}
		}
	}
}

// descRecorder is a prometheus.Registerer that keeps what each collector
// describes: every metric's name and labels, without a registry to gather.
type descRecorder struct{ labels map[string][]string }

func (r *descRecorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }() // owned: ends when Describe returns
	for d := range ch {
		name, labels, ok := parseDesc(d.String())
		if !ok {
			return &descError{d.String()}
		}
		r.labels[name] = labels
	}
	return nil
}

func (r *descRecorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

func (r *descRecorder) Unregister(prometheus.Collector) bool { return false }

type descError struct{ desc string }

func (e *descError) Error() string { return "cannot read the name and labels of " + e.desc }

// parseDesc reads a Desc's name and variable labels off its String.
func parseDesc(s string) (name string, labels []string, ok bool) {
	m := regexp.MustCompile(`^Desc\{fqName: "([^"]+)",`).FindStringSubmatch(s)
	i := strings.LastIndex(s, "variableLabels: {")
	if m == nil || i < 0 || !strings.HasSuffix(s, "}}") {
		return "", nil, false
	}
	if l := s[i+len("variableLabels: {") : len(s)-2]; l != "" {
		for _, x := range strings.Split(l, ",") {
			labels = append(labels, strings.TrimSuffix(strings.TrimPrefix(x, "c("), ")"))
		}
	}
	return m[1], labels, true
}

// registeredMetrics is every metric the handler, the bridge and the stream
// collector register, with its labels. The worker's own two
// (kybflow_messages_handled_seconds, kybflow_national_registry_access) are
// registered inside worker.New, which needs NATS: they are known by name
// only (a string literal of the code), their labels not checked.
func registeredMetrics(t *testing.T) (labels map[string][]string, byNameOnly map[string]bool) {
	t.Helper()
	rec := &descRecorder{labels: map[string][]string{}}
	handler.NewMetrics(rec)
	bridge.NewMetrics(rec)
	subjects, err := kybflow.NewSubjects(kybflow.DefaultPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Register(streams.NewFillCollector(nil, streams.Topology{Subjects: subjects}, 0)); err != nil {
		t.Fatal(err)
	}
	byNameOnly = map[string]bool{}
	for _, s := range codeStrings(t) {
		if _, ok := rec.labels[s]; !ok && regexp.MustCompile(`^kybflow_[a-z0-9_]+$`).MatchString(s) {
			byNameOnly[s] = true
		}
	}
	return rec.labels, byNameOnly
}

// A rule's expression, taken apart as far as these rules need: each
// selector (metric and matchers), and the labels of by and without.
var (
	selectorRE = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?`)
	matcherRE  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	groupingRE = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	rangeRE    = regexp.MustCompile(`\[[^\]]*\]`)
	// Words of PromQL that are not series: keywords (functions are
	// followed by a parenthesis).
	promqlWords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true,
		"on": true, "ignoring": true, "group_left": true, "group_right": true}
)

type selector struct {
	metric   string
	matchers [][3]string // label, operator, value
}

// parseExpr returns expr's selectors and grouping labels.
func parseExpr(expr string) (sels []selector, grouping []string) {
	for _, m := range groupingRE.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				grouping = append(grouping, l)
			}
		}
	}
	rest := rangeRE.ReplaceAllString(groupingRE.ReplaceAllString(expr, " "), " ")
	for _, loc := range selectorRE.FindAllStringSubmatchIndex(rest, -1) {
		name := rest[loc[2]:loc[3]]
		after := strings.TrimLeft(rest[loc[1]:], " ")
		if promqlWords[name] || (loc[4] < 0 && strings.HasPrefix(after, "(")) {
			continue // a keyword, or a function
		}
		if loc[2] > 0 && strings.ContainsAny(rest[loc[2]-1:loc[2]], "0123456789.") {
			continue // the unit of a number
		}
		s := selector{metric: name}
		if loc[4] >= 0 {
			for _, mm := range matcherRE.FindAllStringSubmatch(rest[loc[4]:loc[5]], -1) {
				s.matchers = append(s.matchers, [3]string{mm[1], mm[2], mm[3]})
			}
		}
		sels = append(sels, s)
	}
	return sels, grouping
}

// externalSeries are the series of other exporters the rules read, with
// what their labels must name: kybflow's streams and consumers, and its
// namespace and Deployment in deploy/k8s.
func externalSeries(t *testing.T) map[string]map[string][]string {
	t.Helper()
	subjects, err := kybflow.NewSubjects(kybflow.DefaultPrefix)
	if err != nil {
		t.Fatal(err)
	}
	names := streams.NamesOf(subjects)
	k8s := struct {
		Namespace string `yaml:"namespace"`
	}{}
	b, err := os.ReadFile("../deploy/k8s/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &k8s); err != nil {
		t.Fatal(err)
	}
	var deployment struct {
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
	}
	b, err = os.ReadFile("../deploy/k8s/worker-deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &deployment); err != nil {
		t.Fatal(err)
	}
	return map[string]map[string][]string{
		// prometheus-nats-exporter -jsz=all
		"jetstream_consumer_num_pending": {
			"stream_name":   {subjects.CommandsStream(), names.ChecksStream(), names.WebhooksStream()},
			"consumer_name": {streams.ConsumerCommands, streams.ConsumerChecks, streams.ConsumerWebhooks},
		},
		"jetstream_consumer_num_ack_pending": {
			"stream_name":   {subjects.CommandsStream(), names.ChecksStream(), names.WebhooksStream()},
			"consumer_name": {streams.ConsumerCommands, streams.ConsumerChecks, streams.ConsumerWebhooks},
		},
		// kube-state-metrics
		"kube_deployment_status_replicas_available": {
			"namespace":  {k8s.Namespace},
			"deployment": {deployment.Metadata.Name},
		},
	}
}

// TestAlertRulesReadRealSeries: every series a shipped rule reads is one
// kybflow registers, with the labels the rule matches and groups on, and
// label values the code uses; or one of another exporter whose labels name
// kybflow's streams, consumers and Deployment. A rule on a series or a
// label that does not exist never fires.
func TestAlertRulesReadRealSeries(t *testing.T) {
	names, rules := shipped(t)
	ours, byNameOnly := registeredMetrics(t)
	external := externalSeries(t)
	code := map[string]bool{}
	for _, s := range codeStrings(t) {
		code[s] = true
	}
	for _, n := range names {
		sels, grouping := parseExpr(rules[n].Expr)
		if len(sels) == 0 {
			t.Errorf("alert %s: no series read in %q", n, rules[n].Expr)
		}
		var known []string // labels every series of the rule has
		for i, s := range sels {
			labels, isOurs := ours[s.metric]
			ext, isExternal := external[s.metric]
			switch {
			case isOurs:
			case byNameOnly[s.metric]:
				continue
			case isExternal:
				labels = slices.Collect(maps.Keys(ext))
			default:
				t.Errorf("alert %s reads %s, which no code registers and no exporter listed here exports", n, s.metric)
				continue
			}
			if i == 0 {
				known = slices.Clone(labels)
			} else {
				known = slices.DeleteFunc(known, func(l string) bool { return !slices.Contains(labels, l) })
			}
			for _, m := range s.matchers {
				label, value := m[0], m[2]
				if !slices.Contains(labels, label) {
					t.Errorf("alert %s matches %s on the label %s, which it does not have (it has %v)", n, s.metric, label, labels)
					continue
				}
				for _, v := range strings.Split(value, "|") {
					switch {
					case isExternal && !slices.Contains(ext[label], v):
						t.Errorf("alert %s matches %s{%s=%q}; kybflow's are %v", n, s.metric, label, v, ext[label])
					case isOurs && !code[v]:
						t.Errorf("alert %s matches %s{%s=%q}, a value the code never gives that label", n, s.metric, label, v)
					}
				}
			}
		}
		for _, l := range grouping {
			if known != nil && !slices.Contains(known, l) {
				t.Errorf("alert %s groups by %s, a label not every series of %q has", n, l, rules[n].Expr)
			}
		}
	}
}

// TestAlertFailureCodesAreReal: a rule on failed lookups names failure
// codes the contract has.
func TestAlertFailureCodesAreReal(t *testing.T) {
	_, rules := shipped(t)
	for n, r := range rules {
		sels, _ := parseExpr(r.Expr)
		for _, s := range sels {
			for _, m := range s.matchers {
				if m[0] != "code" {
					continue
				}
				for _, v := range strings.Split(m[2], "|") {
					if !kybflow.FailureCode(v).Known() {
						t.Errorf("alert %s matches code=%q, which is not a failure code (%v)", n, v, kybflow.FailureCodes())
					}
				}
			}
		}
	}
}
