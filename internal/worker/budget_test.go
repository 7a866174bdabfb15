package worker

import (
	"fmt"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/budget"
)

// TestSessionBudgetAcrossWorkers: two workers with a budget of two
// sessions per 3 s window open at most two sessions in any window, and
// every lookup completes once its window comes (none fails for the
// budget).
func TestSessionBudgetAcrossWorkers(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.start(false, 0)
	limits, err := budget.ParseLimits("2/3s")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		cfg := e.config(false)
		cfg.SessionBudget = limits
		e.startWorker(cfg)
	}
	const n = 6
	for i := range n {
		id := fmt.Sprintf("budget-%d", i)
		e.publish(cmd{LookupID: id, Type: "organization", Country: "NO", Identifier: "923609016"}, id)
	}
	for i := range n {
		id := fmt.Sprintf("budget-%d", i)
		e.verifyArtifacts(completedData(t, e.terminal(id, 60*time.Second)), "json")
		e.assertExactlyOnce(id)
	}
	perWindow := map[int64]int{}
	for _, s := range e.sb.Sandbox().Inspect().Sessions {
		perWindow[s.Created.Unix()/3]++
	}
	for w, k := range perWindow {
		if k > 2 {
			t.Errorf("%d sessions opened in the window from %s, want at most 2", k, time.Unix(w*3, 0).UTC().Format(time.TimeOnly))
		}
	}
	if got := e.totalSessions(); got != n {
		t.Errorf("%d sessions for %d lookups", got, n)
	}
}
