package handler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/budget"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/streams"
)

// TestBudgetBoundsSessionsAcrossReplicas: two replicas with a budget of
// two sessions an hour open two of four lookups; the other two wait
// (accepted, not failed) until the window ends, and open in the next one.
func TestBudgetBoundsSessionsAcrossReplicas(t *testing.T) {
	h1, store, js := newHandlers(t)
	ctx := context.Background()
	kv, err := js.KeyValue(ctx, streams.BucketBudget)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Date(2026, 12, 7, 10, 10, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	limits := []budget.Limit{{Max: 2, Window: time.Hour}}
	h2 := *h1
	h1.c.Budget, h2.c.Budget = budget.New(kv, limits, clock), budget.New(kv, limits, clock)
	replicas := []*Handlers{h1, &h2}

	cmd := func(i int) kybflow.LookupCommand {
		return kybflow.LookupCommand{LookupID: fmt.Sprintf("b-%d", i), Type: kybflow.TypeOrganization, Country: kybflow.CountryNO,
			IdentifierType: kybflow.IdentifierOrganizationNumber, Identifier: "923609016"}
	}
	var waiting []int
	for i := range 4 {
		o := replicas[i%2].advance(ctx, cmd(i), uint64(i+1))
		if o.Action() == streams.ActRetry && errors.Is(o.Err(), budget.ErrExhausted) {
			if o.Delay() < 50*time.Minute || o.Delay() > 51*time.Minute {
				t.Errorf("lookup %d waits %s, want the 50 minutes left of the hour (and a little spread)", i, o.Delay())
			}
			waiting = append(waiting, i)
			continue
		}
		if err := failed(o); err != nil {
			t.Fatalf("lookup %d: %v", i, err)
		}
	}
	if len(waiting) != 2 {
		t.Fatalf("%d lookups waited for the budget, want 2", len(waiting))
	}
	for _, i := range waiting {
		rec, _, err := store.Get(ctx, cmd(i).Key())
		if err != nil || rec.State != lookups.Accepted || rec.SessionID != "" {
			t.Fatalf("a lookup over the budget: %+v, %v; want accepted, waiting, no session", rec, err)
		}
	}

	mu.Lock()
	now = now.Add(50 * time.Minute) // the next hour
	mu.Unlock()
	for _, i := range waiting {
		if err := failed(replicas[i%2].advance(ctx, cmd(i), uint64(i+1))); err != nil {
			t.Fatalf("lookup %d in the next window: %v", i, err)
		}
	}
	sessions := map[string]bool{}
	for i := range 4 {
		rec, _, err := store.Get(ctx, cmd(i).Key())
		if err != nil || rec.SessionID == "" {
			t.Fatalf("lookup %d: %+v, %v; want a session", i, rec, err)
		}
		sessions[rec.SessionID] = true
	}
	if len(sessions) != 4 {
		t.Errorf("%d sessions for 4 lookups", len(sessions))
	}
	var waits dto.Metric
	if err := h1.c.Metrics.BudgetWaits.WithLabelValues("on_demand").Write(&waits); err != nil {
		t.Fatal(err)
	}
	if n := waits.GetCounter().GetValue(); n != 2 {
		t.Errorf("kybflow_session_budget_waits_total{source=on_demand} = %v, want 2", n)
	}
}
