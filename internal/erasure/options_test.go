package erasure_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/erasure"
	"github.com/kybflow/kybflow/internal/testenv"
)

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		opts erasure.Options
		want string // in the error; "" for valid
	}{
		{erasure.Options{Source: "urn:kybflow:worker"}, ""},
		{erasure.Options{Source: "https://kyb.example.com/worker", Keys: kybflow.ObjectKeys{Prefix: "a/b"}, Subjects: kybflow.Subjects{Prefix: "acme.aml"}}, ""},
		{erasure.Options{}, "Source"},
		{erasure.Options{Source: "not a uri"}, "Source"},
		{erasure.Options{Source: "urn:x", Keys: kybflow.ObjectKeys{Prefix: "../up"}}, "Keys"},
		{erasure.Options{Source: "urn:x", Subjects: kybflow.Subjects{Prefix: "a b"}}, "Subjects"},
	} {
		err := c.opts.Validate()
		if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want an error naming %q", c.opts, err, c.want)
		}
	}
}

func TestErasedEvent(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 2, 9, 30, 19, 123e6, time.UTC)
	ev, err := erasure.ErasedEvent("urn:kybflow:worker", "acme.onb-1", at)
	if err != nil {
		t.Fatal(err)
	}
	b, err := kybflow.EncodeEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"data":{"lookupId":"onb-1","tenant":"acme","erasedAt":"2026-03-02T09:30:19.123Z"}`) ||
		strings.Contains(string(b), "correlationId") || ev.ID != "acme.onb-1.erased" {
		t.Errorf("erased event %s: want the lookupId, tenant and erasedAt only", b)
	}
}

// TestNewMissing names the stream that is missing: the worker makes them.
func TestNewMissing(t *testing.T) {
	t.Parallel()
	d, err := blob.NewDir(filepath.Join(t.TempDir(), "results"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = erasure.New(t.Context(), testenv.JetStream(t), d, erasure.Options{Source: "urn:x"})
	var se *erasure.StreamError
	if !errors.As(err, &se) || se.Stream != "AML_LOOKUPS" || !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("New without the topology: %v, want a StreamError of AML_LOOKUPS, stream not found", err)
	}
}
