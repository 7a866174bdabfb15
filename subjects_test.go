package kybflow_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/kybflow/kybflow"
)

func TestSubjects(t *testing.T) {
	var s kybflow.Subjects // the zero value uses the default prefix
	got := []string{
		s.CommandLookup(), s.CommandsAll(),
		s.Event("L-1", kybflow.KindCompleted), s.EventsFor("L-1"), s.EventsAll(),
		s.DeadLetterCommands(), s.DeadLetterAll(),
		s.CommandsStream(), s.EventsStream(), s.DeadLetterStream(),
	}
	want := []string{
		"aml.commands.lookup", "aml.commands.>",
		"aml.events.L-1.completed", "aml.events.L-1.*", "aml.events.>",
		"aml.deadletter.commands", "aml.deadletter.>",
		kybflow.StreamCommands, kybflow.StreamEvents, kybflow.StreamDeadLetter,
	}
	assertEqual(t, got, want)

	s, err := kybflow.NewSubjects("acme.aml-test")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Event("L-1", kybflow.KindFailed); got != "acme.aml-test.events.L-1.failed" {
		t.Errorf("Event = %s", got)
	}
	if got := s.EventsStream(); got != "ACME_AML-TEST_EVENTS" {
		t.Errorf("EventsStream = %s", got)
	}
}

func TestSubjectsValidate(t *testing.T) {
	for _, p := range []string{"", "aml", "acme.aml", "a-b-c.d9", "my-aml", "x1.y2-", strings.Repeat("a", 64)} {
		if _, err := kybflow.NewSubjects(p); err != nil {
			t.Errorf("NewSubjects(%q): %v", p, err)
		}
	}
	for _, p := range []string{
		"aml.", ".aml", "a..b", "a b", "aml.*", "aml.>", ">", "a\tb", "$JS", "aml/x", "ø", strings.Repeat("a", 65),
		"AML", "Aml", "acme.AML", "a_b", "my_aml", "1aml", "aml.9", "-aml", // case, '_', a token not starting with a letter
		"aml.events", "acme.commands.x", "deadletter", "webhooks", "checks", "schedules", // words of the subjects
	} {
		_, err := kybflow.NewSubjects(p)
		if !errors.Is(err, kybflow.ErrInvalidPrefix) {
			t.Errorf("NewSubjects(%q) = %v, want ErrInvalidPrefix", p, err)
		}
	}
}

// TestSubjectsDistinct checks what the prefix rule is for: distinct valid
// prefixes make distinct stream names (each of a-z A-Z 0-9 _ -), no
// stream's subjects hold another deployment's, and every dead letter's
// message id matches the AsyncAPI document's pattern.
func TestSubjectsDistinct(t *testing.T) {
	prefixes := []string{"aml", "a", "b", "a.b", "a-b", "ab", "a.b.c", "a.bc", "ab.c", "a-b.c", "a.b-c", "my-aml", "acme.aml", "acme", "aml.acme", "x9"}
	streamName := regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	dlID := regexp.MustCompile(`^[A-Z0-9_-]+\.[0-9]+$`) // docs/asyncapi.yaml, deadLetter's Nats-Msg-Id
	owner := map[string]string{}
	for _, p := range prefixes {
		s, err := kybflow.NewSubjects(p)
		if err != nil {
			t.Fatalf("NewSubjects(%q): %v", p, err)
		}
		for _, name := range []string{s.CommandsStream(), s.EventsStream(), s.DeadLetterStream()} {
			if !streamName.MatchString(name) {
				t.Errorf("prefix %q: stream name %q is not a valid one", p, name)
			}
			if other, ok := owner[name]; ok {
				t.Errorf("prefixes %q and %q share the stream name %s", other, p, name)
			}
			owner[name] = p
		}
		if id := kybflow.DeadLetterMsgID(s.CommandsStream(), 42); !dlID.MatchString(id) {
			t.Errorf("prefix %q: dead letter id %q fails the AsyncAPI pattern", p, id)
		}
		for _, q := range prefixes {
			o := kybflow.Subjects{Prefix: q}
			for _, filter := range []string{s.CommandsAll(), s.EventsAll(), s.DeadLetterAll()} {
				for _, subj := range []string{o.CommandLookup(), o.CommandMonitor(), o.Event("x", kybflow.KindCompleted), o.DeadLetterCommands()} {
					if p != q && matches(filter, subj) {
						t.Errorf("prefix %q's filter %s holds prefix %q's subject %s", p, filter, q, subj)
					}
				}
			}
		}
	}
}

// matches reports whether a NATS subject filter (with a trailing >) holds
// subject.
func matches(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, tok := range f {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || tok != "*" && tok != s[i] {
			return false
		}
	}
	return len(f) == len(s)
}

func TestTenants(t *testing.T) {
	s := kybflow.Subjects{}
	for _, tc := range []struct {
		subject, tenant string
		ok              bool
	}{
		{"aml.commands.lookup", "", true},
		{"aml.commands.lookup.acme", "acme", true},
		{"aml.commands.lookup.acme.x", "", false},
		{"aml.commands.lookup.a*", "", false},
		{"aml.commands.other", "", false},
	} {
		tenant, ok := s.CommandTenant(tc.subject)
		if ok != tc.ok || (ok && tenant != tc.tenant) {
			t.Errorf("CommandTenant(%q) = %q, %t; want %q, %t", tc.subject, tenant, ok, tc.tenant, tc.ok)
		}
	}
	if got := s.CommandLookupOf("acme"); got != "aml.commands.lookup.acme" {
		t.Errorf("CommandLookupOf = %q", got)
	}
	key := kybflow.LookupKey("acme", "onb-1")
	if key != "acme.onb-1" || kybflow.LookupKey("", "onb-1") != "onb-1" {
		t.Fatalf("LookupKey = %q", key)
	}
	if tenant, id, ok := kybflow.SplitLookupKey(key); !ok || tenant != "acme" || id != "onb-1" {
		t.Errorf("SplitLookupKey(%q) = %q, %q, %t", key, tenant, id, ok)
	}
	for _, bad := range []string{"", "a.b.c", ".x", "x.", "a b.c", strings.Repeat("t", 65) + ".x"} {
		if kybflow.ValidLookupKey(bad) {
			t.Errorf("ValidLookupKey(%q) = true", bad)
		}
	}
	// A tenant's events and an untenanted lookup named like the tenant
	// never match each other's subjects.
	tenantEvent := s.Event(key, kybflow.KindCompleted)
	plainEvent := s.Event("acme", kybflow.KindCompleted)
	if tenantEvent != "aml.events.acme.onb-1.completed" {
		t.Fatalf("Event(%q) = %q", key, tenantEvent)
	}
	for _, tc := range []struct {
		filter, subject string
		match           bool
	}{
		{s.EventsFor("acme"), tenantEvent, false},
		{s.EventsFor("acme"), plainEvent, true},
		{s.EventsOfTenant("acme"), plainEvent, false},
		{s.EventsOfTenant("acme"), tenantEvent, true},
		{s.EventsFor(key), tenantEvent, true},
		{s.EventsAll(), tenantEvent, true},
	} {
		if got := subjectMatches(tc.filter, tc.subject); got != tc.match {
			t.Errorf("%q matches %q = %t, want %t", tc.filter, tc.subject, got, tc.match)
		}
	}
}

// subjectMatches is NATS's subject matching of a filter with * and >.
func subjectMatches(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, tok := range f {
		switch {
		case tok == ">":
			return len(s) > i
		case i >= len(s):
			return false
		case tok != "*" && tok != s[i]:
			return false
		}
	}
	return len(f) == len(s)
}

// TestMonitorCommandSubjects: monitor commands have subjects of their own
// in the commands stream, with or without a tenant, and each kind of
// command subject is recognised by its own function only.
func TestMonitorCommandSubjects(t *testing.T) {
	s := kybflow.Subjects{}
	if got := s.CommandMonitor(); got != "aml.commands.monitor" {
		t.Errorf("CommandMonitor = %q", got)
	}
	if got, want := s.CommandMonitorOf(""), s.CommandMonitor(); got != want {
		t.Errorf("CommandMonitorOf(\"\") = %q, want %q", got, want)
	}
	if got := s.CommandMonitorOf("acme"); got != "aml.commands.monitor.acme" {
		t.Errorf("CommandMonitorOf = %q", got)
	}
	if !subjectMatches(s.CommandsAll(), s.CommandMonitorOf("acme")) || !subjectMatches(s.CommandsAll(), s.CommandMonitor()) {
		t.Error("monitor commands are not in the commands stream")
	}
	for _, tc := range []struct {
		subject       string
		lookup, monit bool
		tenant        string
	}{
		{"aml.commands.lookup", true, false, ""},
		{"aml.commands.lookup.acme", true, false, "acme"},
		{"aml.commands.monitor", false, true, ""},
		{"aml.commands.monitor.acme", false, true, "acme"},
		{"aml.commands.lookup.monitor", true, false, "monitor"}, // a tenant named monitor
		{"aml.commands.monitor.acme.x", false, false, ""},
		{"aml.commands.monitor.a*", false, false, ""},
		{"aml.commands.monitors", false, false, ""},
		{"aml.commands.monitor.", false, false, ""},
		{"acme.aml.commands.monitor", false, false, ""},
	} {
		lt, lok := s.CommandTenant(tc.subject)
		mt, mok := s.MonitorCommandTenant(tc.subject)
		if lok != tc.lookup || mok != tc.monit {
			t.Errorf("%q: lookup %t, monitor %t; want %t, %t", tc.subject, lok, mok, tc.lookup, tc.monit)
		}
		if (lok && lt != tc.tenant) || (mok && mt != tc.tenant) {
			t.Errorf("%q: tenant %q / %q, want %q", tc.subject, lt, mt, tc.tenant)
		}
	}
	p, err := kybflow.NewSubjects("acme.aml")
	if err != nil {
		t.Fatal(err)
	}
	if tenant, ok := p.MonitorCommandTenant("acme.aml.commands.monitor.t1"); !ok || tenant != "t1" {
		t.Errorf("prefixed MonitorCommandTenant = %q, %t", tenant, ok)
	}
	if _, ok := p.MonitorCommandTenant("aml.commands.monitor.t1"); ok {
		t.Error("another prefix's monitor subject was recognised")
	}
}
