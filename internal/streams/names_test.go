package streams

import (
	"testing"

	"github.com/kybflow/kybflow"
)

func TestInternalNames(t *testing.T) {
	s := NamesOf(kybflow.Subjects{}) // the default prefix
	for got, want := range map[string]string{
		s.Webhook("L-1"): "aml.webhooks.L-1", s.WebhooksAll(): "aml.webhooks.>",
		s.Check("L-1"): "aml.checks.L-1", s.ChecksAll(): "aml.checks.>",
		s.WebhooksStream(): StreamWebhooks, s.ChecksStream(): StreamChecks, s.LookupsBucket(): BucketLookups,
		s.Check("acme.L-1"): "aml.checks.acme.L-1",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	p, _ := kybflow.NewSubjects("acme.aml-test")
	if got := NamesOf(p).ChecksStream(); got != "ACME_AML-TEST_CHECKS" {
		t.Errorf("ChecksStream = %s", got)
	}
}

func TestWebhookLookupIDAndBucket(t *testing.T) {
	p, err := kybflow.NewSubjects("acme.aml")
	if err != nil {
		t.Fatal(err)
	}
	s := NamesOf(p)
	if id, ok := s.WebhookLookupID(s.Webhook("lk-1")); !ok || id != "lk-1" {
		t.Errorf("WebhookLookupID(Webhook(lk-1)) = %q, %t", id, ok)
	}
	for _, subject := range []string{"aml.webhooks.lk-1", "acme.aml.webhooks.", "acme.aml.webhooks.a.b.c", "acme.aml.webhooks.a*.b", "acme.aml.checks.lk-1"} {
		if id, ok := s.WebhookLookupID(subject); ok {
			t.Errorf("WebhookLookupID(%q) = %q, true; want false", subject, id)
		}
	}
	if got := s.LookupsBucket(); got != "ACME_AML_LOOKUPS" {
		t.Errorf("LookupsBucket = %q", got)
	}
}
