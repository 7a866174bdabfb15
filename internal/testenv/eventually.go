package testenv

import (
	"testing"
	"time"
)

// Eventually calls cond every few milliseconds until it returns nil, and
// fails the test with cond's last error if that has not happened within
// timeout. Tests wait on a condition (an event seen, a metric reached, a
// consumer's state) with it, rather than sleeping a guessed duration, as
// nats.go's own tests do with checkFor.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	if err := Poll(timeout, cond); err != nil {
		t.Fatalf("not within %s: %v", timeout, err)
	}
}

// Poll is Eventually without a test: it returns nil once cond does, or
// cond's last error at the deadline.
func Poll(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	wait := 5 * time.Millisecond
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(wait) // the poll interval of a condition wait, not a guess at a duration
		wait = min(2*wait, 100*time.Millisecond)
	}
}
