package startup

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRetry(t *testing.T) {
	passing, permanent := errors.New("not yet"), errors.New("never")
	var failed []error
	r := Retry{What: "step", Waiting: "waiting", Permanent: func(err error) bool { return errors.Is(err, permanent) },
		Failed: func(err error) { failed = append(failed, err) }}

	calls := 0
	n, err := r.Do(t.Context(), func(context.Context) error {
		if calls++; calls < 3 {
			return passing
		}
		return nil
	})
	if err != nil || n != 3 || len(failed) != 2 {
		t.Fatalf("Do = %d, %v; failed told %v; want success at the third attempt", n, err, failed)
	}

	n, err = r.Do(t.Context(), func(context.Context) error { return permanent })
	if !errors.Is(err, permanent) || n != 1 {
		t.Fatalf("a permanent failure: %d attempts, %v; want 1 and the error", n, err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err = r.Do(ctx, func(context.Context) error { return passing })
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, passing) {
		t.Fatalf("the end of ctx: %v; want the deadline and the last error", err)
	}
}
