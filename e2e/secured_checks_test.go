package e2e

// The secured NATS test's checks: forbidden actions refused, wrong
// credentials and an untrusted server explained, no secret in any log.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/testenv"
)

// forbidden tries what each role must not do, after the lookups ran (so
// that there are commands, records and events to reach for).
func forbidden(t *testing.T, s *securedNATS, subscriber, platform *roleConn) {
	bridge := s.connect(t, "kybflow-bridge", "_INBOX_kybflow_bridge")
	worker := s.connect(t, "kybflow-worker", "_INBOX_kybflow_worker")
	peek := jetstream.ConsumerConfig{Durable: "peek"}
	createConsumer := func(rc *roleConn, stream string) func(context.Context) error {
		return func(ctx context.Context) error { _, err := rc.js.CreateConsumer(ctx, stream, peek); return err }
	}

	// The bridge reads no command, no record, no event.
	bridge.deniedPublish(t, "consume the commands", "$JS.API.CONSUMER.CREATE.AML_COMMANDS.peek", createConsumer(bridge, "AML_COMMANDS"))
	bridge.deniedPublish(t, "get a command", "$JS.API.STREAM.MSG.GET.AML_COMMANDS", bridge.request("$JS.API.STREAM.MSG.GET.AML_COMMANDS", `{"seq":1}`))
	bridge.deniedSubscribe(t, "see commands published", "aml.commands.>")
	bridge.deniedPublish(t, "open the bucket", "$JS.API.STREAM.INFO.KV_AML_LOOKUPS", func(ctx context.Context) error {
		_, err := bridge.js.KeyValue(ctx, "AML_LOOKUPS")
		return err
	})
	bridge.deniedPublish(t, "get a record", "$JS.API.DIRECT.GET.KV_AML_LOOKUPS.$KV.AML_LOOKUPS.platform.sec-1",
		bridge.request("$JS.API.DIRECT.GET.KV_AML_LOOKUPS.$KV.AML_LOOKUPS.platform.sec-1", ""))
	bridge.deniedSubscribe(t, "watch the bucket", "$KV.AML_LOOKUPS.>")
	bridge.deniedPublish(t, "consume the events", "$JS.API.CONSUMER.CREATE.AML_EVENTS.peek", createConsumer(bridge, "AML_EVENTS"))
	bridge.deniedPublish(t, "get an event", "$JS.API.DIRECT.GET.AML_EVENTS.aml.events.platform.sec-1.completed",
		bridge.request("$JS.API.DIRECT.GET.AML_EVENTS.aml.events.platform.sec-1.completed", ""))
	bridge.deniedSubscribe(t, "see events published", "aml.events.>")

	// A platform: its own subjects only.
	completed := `{"specversion":"1.0","id":"platform.sec-9.completed","type":"no.kybflow.aml.lookup.completed.v1"}`
	platform.deniedPublish(t, "publish an event", "aml.events.platform.sec-9.completed", func(ctx context.Context) error {
		_, err := platform.js.Publish(ctx, "aml.events.platform.sec-9.completed", []byte(completed))
		return err
	})
	platform.deniedPublish(t, "write the bucket", "$KV.AML_LOOKUPS.platform.sec-1", func(ctx context.Context) error {
		_, err := platform.js.Publish(ctx, "$KV.AML_LOOKUPS.platform.sec-1", []byte(`{}`))
		return err
	})
	platform.deniedPublish(t, "reset the session budget", "$KV.AML_BUDGET.w3600.1", func(ctx context.Context) error {
		_, err := platform.js.Publish(ctx, "$KV.AML_BUDGET.w3600.1", []byte(`0`))
		return err
	})
	platform.deniedPublish(t, "purge the events", "$JS.API.STREAM.PURGE.AML_EVENTS", platform.request("$JS.API.STREAM.PURGE.AML_EVENTS", ""))
	platform.deniedPublish(t, "read acme's event", "$JS.API.DIRECT.GET.AML_EVENTS.aml.events.acme.sec-1.erased",
		platform.request("$JS.API.DIRECT.GET.AML_EVENTS.aml.events.acme.sec-1.erased", ""))
	platform.deniedSubscribe(t, "follow acme's events", "aml.events.acme.*.*")
	platform.deniedPublish(t, "submit as acme", "aml.commands.lookup.acme", func(ctx context.Context) error {
		_, err := platform.js.Publish(ctx, "aml.commands.lookup.acme", []byte(`{"lookupId":"sec-9"}`))
		return err
	})
	platform.deniedPublish(t, "submit without a tenant", "aml.commands.lookup", func(ctx context.Context) error {
		_, err := platform.js.Publish(ctx, "aml.commands.lookup", []byte(`{"lookupId":"sec-9"}`))
		return err
	})

	// A downstream service publishes nothing.
	subscriber.deniedPublish(t, "submit a command", "aml.commands.lookup", func(ctx context.Context) error {
		_, err := subscriber.js.Publish(ctx, "aml.commands.lookup", []byte(`{"lookupId":"sec-9"}`))
		return err
	})

	// The worker of TOPOLOGY_MODE=verify manages no stream.
	worker.deniedPublish(t, "delete a stream", "$JS.API.STREAM.DELETE.AML_EVENTS", func(ctx context.Context) error {
		return worker.js.DeleteStream(ctx, "AML_EVENTS")
	})

	// Nothing was lost meanwhile.
	info, err := subscriber.js.Stream(context.Background(), "AML_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	if n := info.CachedInfo().State.Msgs; n < 10 {
		t.Errorf("AML_EVENTS holds %d events after the forbidden actions; want every event of the lookups", n)
	}
}

// refused checks that wrong credentials, a credentials file that cannot
// be read and an untrusted server certificate are explained: amlctl exits
// naming the variable or the cause; the worker and the bridge say it in
// /readyz and log it once.
func refused(t *testing.T, s *securedNATS, bin, amlctl string, logs *logSet, workerEnv func(ops string) []string) {
	operator := s.env("kybflow-operator", "")
	missing := filepath.Join(t.TempDir(), "operator.creds")
	for _, c := range []struct {
		name string
		env  []string
		code int
		want string
	}{
		{"wrong password", slices.Concat(operator, []string{"NATS_PASSWORD=wrong-password"}), 1, "the server refused the credentials (check NATS_USER and NATS_PASSWORD"},
		{"credentials file not readable", slices.Concat(without(operator, "NATS_USER", "NATS_PASSWORD"), []string{"NATS_CREDS=" + missing}), 2, "NATS_CREDS: cannot read " + missing + ": no such file or directory"},
		{"untrusted server", slices.Concat(operator, []string{"NATS_CA=" + s.Untrusted.File}), 1, "the server's certificate is not signed by a trusted CA (set NATS_CA"},
	} {
		code, out := runAmlctl(t, logs, amlctl, c.env, "deadletters", "list")
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("amlctl with a %s: exit %d, %q; want exit %d and %q", c.name, code, out, c.code, c.want)
		}
	}

	// Worker: a credentials file that cannot be read stops it at start.
	out, err := runWithTimeout(t, filepath.Join(bin, "worker"), append(without(workerEnv(freeAddr(t)), "NATS_NKEY"), "NATS_CREDS="+missing))
	logs.addString("worker (no credentials file)", out)
	if want := "worker: NATS_CREDS: cannot read " + missing; err == nil || !strings.Contains(out, want) {
		t.Errorf("worker with a missing NATS_CREDS: %v, %q; want an exit and %q", err, out, want)
	}

	// Bridge: a wrong password; worker: an untrusted server. Each goes on
	// trying, unready, and logs the refusal once, however many attempts
	// the server has seen.
	bridgeOps := freeAddr(t)
	refusedLoop(t, s, logs, "webhook-bridge (wrong password)", filepath.Join(bin, "webhook-bridge"),
		append(s.env("kybflow-bridge", ""), "NATS_PASSWORD=wrong-password", "LISTEN_ADDR="+freeAddr(t), "HTTP_ADDR="+bridgeOps,
			"WEBHOOK_SECRET=whsec_c2VjdXJlZC1lMmUtd2ViaG9vay1zZWNyZXQ="),
		bridgeOps, "the server refused the credentials (check NATS_USER and NATS_PASSWORD", `authentication error - User "kybflow-bridge"`)
	workerOps := freeAddr(t)
	refusedLoop(t, s, logs, "worker (untrusted server)", filepath.Join(bin, "worker"),
		append(workerEnv(workerOps), "NATS_CA="+s.Untrusted.File),
		workerOps, "the server's certificate is not signed by a trusted CA (set NATS_CA", "TLS handshake error")
}

// refusedLoop starts a program whose connection the server refuses, and
// checks its /readyz and its log once the server has refused it three
// times (serverSays is the server's log line of one refusal).
func refusedLoop(t *testing.T, s *securedNATS, logs *logSet, name, bin string, env []string, ops, reason, serverSays string) {
	t.Helper()
	before := strings.Count(s.Log.out.String(), serverSays)
	p := start(t, name, bin, env)
	logs.add(name, p.out)
	waitReadyz(t, p, ops, http.StatusServiceUnavailable, "nats: not connected: ")
	testenv.Eventually(t, 20*time.Second, func() error {
		if n := strings.Count(s.Log.out.String(), serverSays) - before; n < 3 {
			return fmt.Errorf("the server has refused %s %d times", name, n)
		}
		return nil
	})
	waitReadyz(t, p, ops, http.StatusServiceUnavailable, reason)
	var errorLines []string
	for _, l := range strings.Split(p.out.String(), "\n") {
		if strings.Contains(l, `"level":"ERROR"`) {
			errorLines = append(errorLines, l)
		}
	}
	if len(errorLines) != 1 || !strings.Contains(errorLines[0], reason) {
		t.Errorf("%s logged %d error lines, want one saying %q:\n%s", name, len(errorLines), reason, strings.Join(errorLines, "\n"))
	}
	if _, err := p.stop(t); err != nil {
		t.Errorf("%s exited with %v after SIGTERM", name, err)
	}
}

// waitReadyz waits until p's /readyz answers code with a body holding want.
func waitReadyz(t *testing.T, p *proc, addr string, code int, want string) {
	t.Helper()
	waitStatus(t, p, "http://"+addr+"/readyz", code, want)
}

// waitStatus waits until url answers code with a body holding want, and
// fails the test if p exits meanwhile.
func waitStatus(t *testing.T, p *proc, url string, code int, want string) {
	t.Helper()
	err := testenv.Poll(30*time.Second, func() error {
		select {
		case err := <-p.done:
			p.done <- err // for start's cleanup
			t.Fatalf("%s exited: %v\n%s", p.name, err, p.out.String())
		default:
		}
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != code || !strings.Contains(string(body), want) {
			return fmt.Errorf("%d %s", resp.StatusCode, body)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: want %s to answer %d with %q, got %v", p.name, url, code, want, err)
	}
}

// without is env without the named variables.
func without(env []string, names ...string) []string {
	var out []string
next:
	for _, kv := range env {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// logSet is every program's output, for the check that no secret shows.
type logSet struct {
	mu   sync.Mutex
	logs []namedLog
}

type namedLog struct {
	name string
	text func() string
}

func (l *logSet) add(name string, b *testenv.Buffer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.logs = append(l.logs, namedLog{name, b.String})
}

func (l *logSet) addString(name, s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.logs = append(l.logs, namedLog{name, func() string { return s }})
}

// noSecret fails the test for each log line that shows one of secrets,
// in every log but those of the programs named in except.
func (l *logSet) noSecret(t *testing.T, secrets []string, except ...string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := 0
	for _, lg := range l.logs {
		if slices.Contains(except, lg.name) {
			continue
		}
		for _, line := range strings.Split(lg.text(), "\n") {
			lines++
			for _, s := range secrets {
				if strings.Contains(line, s) {
					t.Errorf("%s logged a secret: %s", lg.name, line)
				}
			}
		}
	}
	if lines < 100 {
		t.Errorf("only %d log lines in all: the logs were not captured", lines)
	}
}
