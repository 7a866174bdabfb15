// Tests of the client's rate limit.

package amlapi

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestRateLimit(t *testing.T) {
	f := newFake(t)
	f.setAPI(accessGranted)
	cfg := testConfig(f)
	cfg.RateLimit, cfg.RateBurst = 20, 1
	c := newClient(t, cfg)
	start := time.Now()
	for range 5 {
		if _, err := c.AccessRights(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 190*time.Millisecond {
		t.Errorf("5 calls at 20/s with burst 1 took %v, want at least 200ms", d)
	}
}

func TestRateLimitWaitRespectsDeadline(t *testing.T) {
	f := newFake(t)
	f.setAPI(accessGranted)
	cfg := testConfig(f)
	cfg.RateLimit, cfg.RateBurst = rate.Every(time.Hour), 1
	c := newClient(t, cfg)
	if _, err := c.AccessRights(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := c.AccessRights(ctx)
	if ClassOf(err) != Transient || !strings.Contains(err.Error(), "rate limiter") {
		t.Fatalf("err = %v, want a Transient rate limiter error", err)
	}
}
