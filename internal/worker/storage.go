// The storage step of start-up. Start builds the store without asking S3
// anything; Run makes sure of the bucket beside the topology, retrying
// while S3 cannot answer, so that an S3 outage during a rollout leaves
// workers waiting and unready instead of exiting (CrashLoopBackOff). Only
// credentials S3 refuses end the worker at once: no retry can mend them.

package worker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kybflow/kybflow/internal/blob"
)

// Storage start-up retry timing, as the topology's (internal/streams): the
// wait between attempts doubles from storageRetryMin to storageRetryMax,
// with jitter; one attempt may take storageFirstAttempt, then twice as long
// each time up to storageAttempt (an endpoint that drops packets answers
// nothing, and a dial would wait half a minute).
const (
	storageRetryMin     = 250 * time.Millisecond
	storageRetryMax     = 5 * time.Second
	storageFirstAttempt = 2 * time.Second
	storageAttempt      = 10 * time.Second
)

// storageState is where the storage step stands: confirmed, or the error
// of its last attempt (for /readyz).
type storageState struct {
	ok   atomic.Bool
	mu   sync.Mutex
	last error
}

func (s *storageState) failed(err error) {
	s.mu.Lock()
	s.last = err
	s.mu.Unlock()
}

func (s *storageState) lastErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// storageReady is /readyz's storage check: before the bucket is confirmed,
// why not yet; after, a live Ping.
func (a *App) storageReady(ctx context.Context) error {
	if a.storage.ok.Load() {
		return a.store.Ping(ctx)
	}
	if err := a.storage.lastErr(); err != nil {
		return fmt.Errorf("bucket not confirmed yet: %w", err)
	}
	return errors.New("bucket not confirmed yet")
}

// ensureStorage makes sure of the bucket (a.ensureBucket; nothing for a
// directory store), retrying for at most STARTUP_TIMEOUT while S3 cannot
// answer: connection refused, timeouts, DNS, 5xx. Credentials S3 refuses
// (blob.ErrRefused) end it at once. Once it has succeeded it returns at
// once.
func (a *App) ensureStorage(ctx context.Context) error {
	if a.storage.ok.Load() || a.ensureBucket == nil {
		a.storage.ok.Store(true)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.StartupTimeout)
	defer cancel()
	where := fmt.Sprintf("S3_ENDPOINT %s, S3_BUCKET %s", a.cfg.S3Endpoint, a.cfg.S3Bucket)
	wait, attemptTimeout := storageRetryMin, storageFirstAttempt
	for attempt := 1; ; attempt++ {
		actx, acancel := context.WithTimeout(ctx, attemptTimeout)
		attemptTimeout = min(2*attemptTimeout, storageAttempt)
		err := a.ensureBucket(actx)
		acancel()
		if err == nil {
			a.storage.ok.Store(true)
			if attempt > 1 {
				a.log.Info("storage: bucket confirmed", "endpoint", a.cfg.S3Endpoint, "bucket", a.cfg.S3Bucket, "attempts", attempt)
			}
			return nil
		}
		a.storage.failed(err)
		if errors.Is(err, blob.ErrRefused) {
			return fmt.Errorf("%s: S3 refuses S3_ACCESS_KEY and S3_SECRET_KEY (or their rights to the bucket): %w", where, err)
		}
		if attempt == 1 || attempt%10 == 0 {
			a.log.Warn("storage: S3 cannot answer yet; retrying", "endpoint", a.cfg.S3Endpoint, "bucket", a.cfg.S3Bucket,
				"err", err, "attempt", attempt)
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1)) //nolint:gosec // G404: retry jitter; needs no secure randomness
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: gave up within STARTUP_TIMEOUT (%s) after %d attempts: %w", where, a.cfg.StartupTimeout, attempt, err)
		case <-t.C:
		}
		wait = min(2*wait, storageRetryMax)
	}
}
