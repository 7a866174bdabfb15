package streams

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/testenv"
)

func TestVerifyMakesNothingAndNamesWhatIsMissing(t *testing.T) {
	js := testenv.JetStream(t)
	topo := boundedTopology(t)

	var mu sync.Mutex
	var seen []error
	failed := func(err error) { mu.Lock(); seen = append(seen, err); mu.Unlock() }
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := Verify(ctx, js, topo, failed)
	if !errors.Is(err, ErrMissing) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "stream AML_COMMANDS not found: run `worker topology`") {
		t.Fatalf("Verify without a topology: %v; want the deadline and ErrMissing naming AML_COMMANDS", err)
	}
	mu.Lock()
	if len(seen) < 2 || !errors.Is(seen[0], ErrMissing) {
		t.Errorf("failed was told %v; want every attempt's error (retried until the deadline)", seen)
	}
	mu.Unlock()
	for n := range js.StreamNames(context.Background()).Name() {
		t.Errorf("Verify made stream %s", n)
	}

	// Streams without the bucket: Verify names the bucket.
	for _, cfg := range topo.streams() {
		if _, err := js.CreateStream(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel = context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := Verify(ctx, js, topo, nil); !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "bucket AML_LOOKUPS not found") {
		t.Errorf("Verify without the bucket: %v", err)
	}

	// Made by the operator (Ensure): Verify returns what Ensure does.
	if _, err := Ensure(context.Background(), js, topo); err != nil {
		t.Fatal(err)
	}
	res, err := Verify(context.Background(), js, topo, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Commands.CachedInfo().Name != ConsumerCommands || res.Checks.CachedInfo().Name != ConsumerChecks ||
		res.Webhooks.CachedInfo().Name != ConsumerWebhooks || res.Lookups.Bucket() != "AML_LOOKUPS" ||
		res.Events.CachedInfo().Config.Name != "AML_EVENTS" {
		t.Errorf("Verify's resources: %+v", res)
	}
}

// TestVerifyRefusesAnEventsStreamWithoutDirectGets: an events stream made
// by an older version (no AllowDirect) is named as outdated, not used: the
// worker's user could not read it.
func TestVerifyRefusesAnEventsStreamWithoutDirectGets(t *testing.T) {
	js := testenv.JetStream(t)
	topo := boundedTopology(t)
	if _, err := Ensure(context.Background(), js, topo); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range topo.streams() {
		if cfg.Name == "AML_EVENTS" {
			cfg.AllowDirect = false
			if _, err := js.UpdateStream(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := Verify(ctx, js, topo, nil); !errors.Is(err, ErrOutdated) || !strings.Contains(err.Error(), "AML_EVENTS does not allow direct gets") {
		t.Fatalf("Verify of an events stream without AllowDirect: %v", err)
	}
}
