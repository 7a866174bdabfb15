package kybflow_test

import (
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
	for _, p := range []string{"", "aml", "acme.aml", "a_b-c.D9"} {
		if _, err := kybflow.NewSubjects(p); err != nil {
			t.Errorf("NewSubjects(%q): %v", p, err)
		}
	}
	for _, p := range []string{"aml.", ".aml", "a..b", "a b", "aml.*", "aml.>", ">", "a\tb", "$JS", "aml/x", "ø", strings.Repeat("a", 65)} {
		if _, err := kybflow.NewSubjects(p); err == nil {
			t.Errorf("NewSubjects(%q): no error", p)
		}
	}
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
