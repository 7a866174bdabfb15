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
		s.Webhook("L-1"), s.WebhooksAll(),
		s.Check("L-1"), s.ChecksAll(),
		s.DeadLetterCommands(), s.DeadLetterAll(),
		s.CommandsStream(), s.EventsStream(), s.WebhooksStream(), s.ChecksStream(), s.DeadLetterStream(),
	}
	want := []string{
		"aml.commands.lookup", "aml.commands.>",
		"aml.events.L-1.completed", "aml.events.L-1.>", "aml.events.>",
		"aml.webhooks.L-1", "aml.webhooks.>",
		"aml.checks.L-1", "aml.checks.>",
		"aml.deadletter.commands", "aml.deadletter.>",
		kybflow.StreamCommands, kybflow.StreamEvents, kybflow.StreamWebhooks, kybflow.StreamChecks, kybflow.StreamDeadLetter,
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

func TestWebhookLookupIDAndBucket(t *testing.T) {
	s, err := kybflow.NewSubjects("acme.aml")
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := s.WebhookLookupID(s.Webhook("lk-1")); !ok || id != "lk-1" {
		t.Errorf("WebhookLookupID(Webhook(lk-1)) = %q, %t", id, ok)
	}
	for _, subject := range []string{"aml.webhooks.lk-1", "acme.aml.webhooks.", "acme.aml.webhooks.a.b", "acme.aml.checks.lk-1"} {
		if id, ok := s.WebhookLookupID(subject); ok {
			t.Errorf("WebhookLookupID(%q) = %q, true; want false", subject, id)
		}
	}
	if got := s.LookupsBucket(); got != "ACME_AML_LOOKUPS" {
		t.Errorf("LookupsBucket = %q", got)
	}
	if got := kybflow.CheckMsgID("lk-1"); got != "lk-1.check" {
		t.Errorf("CheckMsgID = %q", got)
	}
}
