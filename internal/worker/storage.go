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
	"sync"
	"sync/atomic"

	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/startup"
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
	where := fmt.Sprintf("S3_ENDPOINT %s, S3_BUCKET %s", a.cfg.Storage.Endpoint, a.cfg.Storage.Bucket)
	r := startup.Retry{
		What: "storage", Waiting: "S3 cannot answer yet", Log: a.log.With("endpoint", a.cfg.Storage.Endpoint, "bucket", a.cfg.Storage.Bucket),
		Permanent: func(err error) bool { return errors.Is(err, blob.ErrRefused) }, Failed: a.storage.failed,
	}
	_, err := r.Do(ctx, a.ensureBucket)
	switch {
	case err == nil:
		a.storage.ok.Store(true)
		return nil
	case errors.Is(err, blob.ErrRefused):
		return fmt.Errorf("%s: S3 refuses S3_ACCESS_KEY and S3_SECRET_KEY (or their rights to the bucket): %w", where, err)
	}
	return fmt.Errorf("%s: within STARTUP_TIMEOUT (%s): %w", where, a.cfg.StartupTimeout, err)
}
