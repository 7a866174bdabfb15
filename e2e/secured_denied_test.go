package e2e

// Connections of one role made in the test, and the check that an action
// is denied: the server refuses it with a permissions violation naming the
// subject (a refused publish reaches nobody, so a request on it is never
// answered and times out), and says so in its log.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// roleConn is a connection of one role that keeps the asynchronous errors
// the server sends it.
type roleConn struct {
	user string
	nc   *nats.Conn
	js   jetstream.JetStream
	errs chan error
}

// connect connects as user, with inboxPrefix, as the role's program would.
func (s *securedNATS) connect(t *testing.T, user, inboxPrefix string) *roleConn {
	t.Helper()
	rc := &roleConn{user: user, errs: make(chan error, 64)}
	nc, err := s.settings(user, inboxPrefix).Connect("e2e "+user, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case rc.errs <- err:
		default:
		}
	}))
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	rc.nc = nc
	if rc.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	return rc
}

// deniedTimeout is how long a denied request is waited for: the server
// refuses at once, so nothing comes however long one waits.
const deniedTimeout = 500 * time.Millisecond

// deniedPublish runs action, a request on subject (a JetStream call or a
// JetStream publish), and checks that it fails unanswered and that the
// server refused this connection the publish on subject. A subject ending
// in "." matches any subject it begins.
func (rc *roleConn) deniedPublish(t *testing.T, what, subject string, action func(ctx context.Context) error) {
	t.Helper()
	rc.drain()
	ctx, cancel := context.WithTimeout(context.Background(), deniedTimeout)
	defer cancel()
	err := action(ctx)
	if err == nil {
		t.Errorf("%s: %s succeeded; want it denied", rc.user, what)
		return
	}
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) {
		t.Errorf("%s: %s: %v; want a timeout (a denied request is never answered)", rc.user, what, err)
	}
	rc.violation(t, what, "Publish to", subject)
}

// deniedSubscribe subscribes to subject and checks that the server refused
// it.
func (rc *roleConn) deniedSubscribe(t *testing.T, what, subject string) {
	t.Helper()
	rc.drain()
	sub, err := rc.nc.SubscribeSync(subject)
	if err != nil {
		t.Errorf("%s: %s: %v", rc.user, what, err)
		return
	}
	defer func() { _ = sub.Unsubscribe() }()
	rc.violation(t, what, "Subscription to", subject)
}

// violation waits for the server's permissions violation for op on subject.
func (rc *roleConn) violation(t *testing.T, what, op, subject string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case err := <-rc.errs:
			msg := err.Error()
			if !errors.Is(err, nats.ErrPermissionViolation) {
				continue
			}
			_, quoted, _ := strings.Cut(msg, op+` "`)
			got, _, _ := strings.Cut(quoted, `"`)
			if got == subject || strings.HasSuffix(subject, ".") && strings.HasPrefix(got, subject) {
				return
			}
		case <-timeout:
			t.Errorf("%s: %s: no permissions violation for %s %q", rc.user, what, op, subject)
			return
		}
	}
}

// drain forgets the errors received so far.
func (rc *roleConn) drain() {
	for {
		select {
		case <-rc.errs: //nolint:errcheck // forgotten on purpose: errors of earlier checks
		default:
			return
		}
	}
}

// request is a raw request on subject, for the JetStream API calls that
// have no client method without a lookup first.
func (rc *roleConn) request(subject, body string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		_, err := rc.nc.RequestWithContext(ctx, subject, []byte(body))
		return err
	}
}
