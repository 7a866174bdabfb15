package streams

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/kybflow/kybflow/internal/testenv"
	"github.com/kybflow/kybflow/natsconn"
)

// syncBuffer is a log destination the client's callbacks and the test
// share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestConnectRefusedCredentialsAreSaidOnceAndReady: a server that refuses
// the password leaves the connection retrying, logs the refusal once (not
// at every retry), gives the reason to readiness, shows the password
// nowhere.
func TestConnectRefusedCredentialsAreSaidOnceAndReady(t *testing.T) {
	const password, wrong = "right-pa55word", "wr0ng-pa55word"
	srv := testenv.NATSWithUsers(t, &server.User{Username: "kybflow-worker", Password: password})
	refusals := &authLog{}
	srv.SetLogger(refusals, false, false) // before any client: it counts the refused logins
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	settings := natsconn.Settings{URL: srv.ClientURL(), User: "kybflow-worker", Password: wrong}
	conn, err := Connect(settings, "test", log)
	if err != nil {
		t.Fatalf("Connect with refused credentials: %v (it must keep trying, not fail)", err)
	}
	t.Cleanup(conn.Close)

	testenv.Eventually(t, 10*time.Second, func() error {
		err := conn.Check(t.Context())
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization violation") || !strings.Contains(err.Error(), "NATS_PASSWORD") {
			return fmt.Errorf("readiness says %w, want the refusal and what to check", err)
		}
		return nil
	})
	// Many refused attempts later (one every quarter second, as the
	// server's log counts them), still one error line.
	testenv.Eventually(t, 20*time.Second, func() error {
		if n := refusals.count(); n < 6 {
			return fmt.Errorf("%d refused attempts so far", n)
		}
		return nil
	})
	if n := strings.Count(logs.String(), `"level":"ERROR"`); n != 1 {
		t.Fatalf("%d error lines for one refusal, want 1:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), wrong) || strings.Contains(fmt.Sprint(conn.Check(t.Context())), wrong) {
		t.Fatalf("the password is in a log line or the readiness reason:\n%s", logs.String())
	}
}

// authLog is a server logger that counts the connections the server
// refused for their credentials.
type authLog struct {
	mu sync.Mutex
	n  int
}

func (l *authLog) count() int { l.mu.Lock(); defer l.mu.Unlock(); return l.n }

func (l *authLog) Errorf(format string, v ...any) {
	if strings.Contains(strings.ToLower(fmt.Sprintf(format, v...)), "authentication error") {
		l.mu.Lock()
		l.n++
		l.mu.Unlock()
	}
}
func (l *authLog) Noticef(string, ...any) {}
func (l *authLog) Warnf(string, ...any)   {}
func (l *authLog) Fatalf(string, ...any)  {}
func (l *authLog) Debugf(string, ...any)  {}
func (l *authLog) Tracef(string, ...any)  {}
