package budget

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/testenv"
)

func TestParseLimits(t *testing.T) {
	got, err := ParseLimits(" 100/1h, 1000/24h ,3/5s")
	want := []Limit{{100, time.Hour}, {1000, 24 * time.Hour}, {3, 5 * time.Second}}
	if err != nil || len(got) != len(want) {
		t.Fatalf("ParseLimits = %v, %v", got, err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("limit %d = %v, want %v", i, got[i], want[i])
		}
	}
	if got[0].String() != "100/1h" || got[1].String() != "1000/24h" || got[2].String() != "3/5s" {
		t.Errorf("String: %v %v %v", got[0], got[1], got[2])
	}
	if l, err := ParseLimits(""); err != nil || l != nil {
		t.Errorf("the empty budget: %v, %v; want none", l, err)
	}
	for _, bad := range []string{"100", "x/1h", "-1/1h", "10/7s", "10/1.5s", "10/36h", "10/0s", "10/fortnight"} {
		if _, err := ParseLimits(bad); err == nil {
			t.Errorf("ParseLimits(%q) accepted", bad)
		}
	}
}

func newBucket(t *testing.T) jetstream.KeyValue {
	t.Helper()
	js := testenv.JetStream(t)
	kv, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "BUDGET", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func TestTakeUpToTheLimitThenWaitForTheNextWindow(t *testing.T) {
	kv := newBucket(t)
	ctx := context.Background()
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	c := &clock{t: start.Add(10 * time.Minute)}
	b := New(kv, []Limit{{2, time.Hour}, {3, 24 * time.Hour}}, c.now)
	for i := range 2 {
		if _, err := b.Take(ctx, OnDemand); err != nil {
			t.Fatalf("take %d: %v", i+1, err)
		}
	}
	_, err := b.Take(ctx, OnDemand)
	var ex *Exhausted
	if !errors.As(err, &ex) || !errors.Is(err, ErrExhausted) || ex.Limit.Window != time.Hour || !ex.Until.Equal(start.Add(time.Hour)) {
		t.Fatalf("third take in the hour: %v; want the hour exhausted until %s", err, start.Add(time.Hour))
	}
	left, err := b.Left(ctx)
	if err != nil || left[Limit{2, time.Hour}] != 0 || left[Limit{3, 24 * time.Hour}] != 1 {
		t.Fatalf("Left = %v, %v; want 0 this hour and 1 today (the refused take counted in neither)", left, err)
	}

	// The next hour: one more today, then the day is full.
	c.set(start.Add(time.Hour))
	g, err := b.Take(ctx, OnDemand)
	if err != nil {
		t.Fatalf("take in the next hour: %v", err)
	}
	if _, err := b.Take(ctx, OnDemand); !errors.As(err, &ex) || ex.Limit.Window != 24*time.Hour {
		t.Fatalf("a fourth take today: %v; want the day exhausted", err)
	}
	// A session not opened after all goes back to the budget.
	b.Give(ctx, g)
	if _, err := b.Take(ctx, OnDemand); err != nil {
		t.Fatalf("take after a give-back: %v", err)
	}
}

func TestMonitorRunsLeaveTheReserveToOnDemandLookups(t *testing.T) {
	kv := newBucket(t)
	ctx := context.Background()
	b := New(kv, []Limit{{10, time.Hour}}, nil)
	taken := 0
	for range 10 {
		if _, err := b.Take(ctx, Monitor); err != nil {
			break
		}
		taken++
	}
	if taken != 9 {
		t.Fatalf("monitor runs took %d of 10, want 9 (one kept for on-demand lookups)", taken)
	}
	if _, err := b.Take(ctx, OnDemand); err != nil {
		t.Fatalf("an on-demand lookup after the monitor runs: %v", err)
	}
}

// TestTakeAcrossReplicas: budgets of two workers on one bucket, taking
// at once, open no more than the limit together.
func TestTakeAcrossReplicas(t *testing.T) {
	kv := newBucket(t)
	ctx := context.Background()
	limits := []Limit{{5, time.Hour}}
	workers := []*Budget{New(kv, limits, nil), New(kv, limits, nil)}
	var granted, exhausted atomic.Int32
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Go(func() {
			_, err := workers[i%2].Take(ctx, OnDemand)
			switch {
			case err == nil:
				granted.Add(1)
			case errors.Is(err, ErrExhausted):
				exhausted.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if granted.Load() != 5 || exhausted.Load() != 19 {
		t.Fatalf("%d granted, %d exhausted; want 5 and 19", granted.Load(), exhausted.Load())
	}
}

func TestNoLimitsTakesWithoutRequests(t *testing.T) {
	b := New(nil, nil, nil) // a nil bucket: any request would panic
	if b.Limited() {
		t.Fatal("Limited without limits")
	}
	if _, err := b.Take(context.Background(), Monitor); err != nil {
		t.Fatal(err)
	}
}
