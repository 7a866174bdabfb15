package streams

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/testenv"
	"github.com/nats-io/nats.go/jetstream"
)

// verifyUntil runs Verify until stop holds for an attempt's error, then
// cancels it: the test waits for what it checks, not for a deadline short
// enough to be hit by a slow machine's first attempt. It returns every
// attempt's error and Verify's.
func verifyUntil(t *testing.T, js jetstream.JetStream, topo Topology, stop func(seen []error) bool) ([]error, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var seen []error
	failed := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, err)
		if stop(seen) {
			cancel()
		}
	}
	_, err := Verify(ctx, js, topo, failed)
	mu.Lock()
	defer mu.Unlock()
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Verify: %v; the awaited error never came (attempts: %v)", err, seen)
	}
	return seen, err
}

func TestVerifyMakesNothingAndNamesWhatIsMissing(t *testing.T) {
	js := testenv.JetStream(t)
	topo := boundedTopology(t)

	// Nothing made: Verify names the first stream and retries (the
	// operator's job may still be running) until its context ends.
	seen, err := verifyUntil(t, js, topo, func(seen []error) bool { return len(seen) >= 2 })
	if !errors.Is(err, ErrMissing) || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "stream AML_COMMANDS not found: run `worker topology`") {
		t.Fatalf("Verify without a topology: %v; want the end of its context and ErrMissing naming AML_COMMANDS", err)
	}
	for _, e := range seen {
		if !errors.Is(e, ErrMissing) {
			t.Errorf("an attempt's error %v; want ErrMissing", e)
		}
	}
	for n := range js.StreamNames(context.Background()).Name() {
		t.Errorf("Verify made stream %s", n)
	}

	// Streams without the bucket: Verify names the bucket.
	for _, cfg := range topo.streams() {
		if _, err := js.CreateStream(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
	}
	bucketMissing := func(seen []error) bool { return errors.Is(seen[len(seen)-1], ErrMissing) }
	if _, err := verifyUntil(t, js, topo, bucketMissing); !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "bucket AML_LOOKUPS not found") {
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
	outdated := func(seen []error) bool { return errors.Is(seen[len(seen)-1], ErrOutdated) }
	if _, err := verifyUntil(t, js, topo, outdated); !errors.Is(err, ErrOutdated) || !strings.Contains(err.Error(), "AML_EVENTS does not allow direct gets") {
		t.Fatalf("Verify of an events stream without AllowDirect: %v", err)
	}
}
