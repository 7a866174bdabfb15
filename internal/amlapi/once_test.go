package amlapi

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
)

// Under Once a transient failure (a 409 "not ready") is returned after one
// request; without it the same download is retried.
func TestOnceMakesOneRequest(t *testing.T) {
	f := newFake(t)
	var n atomic.Int32
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusConflict)
	})
	cfg := testConfig(f)
	cfg.Retry = RetryPolicy{MaxAttempts: 3, InitialInterval: 1, MaxInterval: 1}
	c := newClient(t, cfg)
	if _, err := c.Download(Once(context.Background()), "/organization/session/s-1/report/aml"); ClassOf(err) != Transient {
		t.Fatalf("err = %v, want a transient error", err)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("%d requests under Once, want 1", got)
	}
	n.Store(0)
	_, _ = c.Download(context.Background(), "/organization/session/s-1/report/aml")
	if got := n.Load(); got != 3 {
		t.Errorf("%d requests without Once, want 3", got)
	}
}
