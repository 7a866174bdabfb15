package worker

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/envconfig"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
	"github.com/kybflow/kybflow/natsconn"
)

func TestTopologyModeIsManageOrVerify(t *testing.T) {
	base := map[string]string{
		"AML_API_URL": "https://aml.example", "AML_ISSUER_URL": "https://oidc.example/realms/x",
		"AML_CLIENT_ID": "id", "AML_CLIENT_SECRET": "secret", "BLOB_DIR": t.TempDir(),
	}
	for mode, ok := range map[string]bool{"": true, "manage": true, "verify": true, "create": false, "Verify": false} {
		env := map[string]string{"TOPOLOGY_MODE": mode}
		for k, v := range base {
			env[k] = v
		}
		_, err := loadConfig(t, env)
		if ok != (err == nil) || err != nil && !strings.Contains(err.Error(), `TOPOLOGY_MODE: "`+mode+`" is not manage or verify`) {
			t.Errorf("TOPOLOGY_MODE=%q: %v", mode, err)
		}
	}
}

// topologyMain runs `worker topology` with env, as the operator's job does.
func topologyMain(t *testing.T, env map[string]string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := TopologyMain(ctx, nil, envconfig.MapLookup(env), &out, &out)
	return out.String(), err
}

func TestTopologyCommandNeedsOnlyNATSAndTheStreamSettings(t *testing.T) {
	url := testenv.NATS(t)
	// Not one AML_* or S3_* setting, as in the operator's job.
	env := map[string]string{"NATS_URL": url, "EVENTS_MAX_AGE": "48h", "DUPLICATE_WINDOW": "1h"}
	for range 2 { // idempotent
		if out, err := topologyMain(t, env); err != nil {
			t.Fatalf("worker topology: %v\n%s", err, out)
		}
	}
	js := testenv.JetStreamOn(t, url)
	ev, err := js.Stream(context.Background(), "AML_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	if got := ev.CachedInfo().Config.MaxAge; got != 48*time.Hour {
		t.Errorf("AML_EVENTS MaxAge %s; want EVENTS_MAX_AGE, 48h", got)
	}
	for stream, consumer := range map[string]string{"AML_COMMANDS": streams.ConsumerCommands, "AML_CHECKS": streams.ConsumerChecks, "AML_WEBHOOKS": streams.ConsumerWebhooks} {
		if _, err := js.Consumer(context.Background(), stream, consumer); err != nil {
			t.Errorf("consumer %s on %s: %v", consumer, stream, err)
		}
	}
	if _, err := js.KeyValue(context.Background(), "AML_LOOKUPS"); err != nil {
		t.Errorf("bucket: %v", err)
	}

	// Its errors name the variables it reads, and no other.
	out, err := topologyMain(t, map[string]string{"NATS_URL": url, "STREAM_REPLICAS": "2", "NATS_CREDS": "/nonexistent.creds"})
	if err == nil || !strings.Contains(err.Error(), "STREAM_REPLICAS") || !strings.Contains(err.Error(), "NATS_CREDS") ||
		strings.Contains(err.Error(), "AML_") || strings.Contains(err.Error(), "S3_") {
		t.Errorf("worker topology with bad settings: %v\n%s", err, out)
	}
}

// TestVerifyModeWaitsForTheOperator: a worker with TOPOLOGY_MODE=verify
// makes nothing; it says in /readyz what it waits for, runs once the
// operator has made the topology, and waits again, without making it, for
// a consumer deleted under it.
func TestVerifyModeWaitsForTheOperator(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.logs = &testenv.Buffer{}
	cfg := e.config(false)
	cfg.TopologyMode = TopologyVerify
	app, _ := e.startWorkerApp(cfg)
	testenv.Eventually(t, 10*time.Second, func() error {
		err := ready(app)
		if err == nil || !strings.Contains(err.Error(), "topology: streams, bucket and consumers not ensured yet: stream AML_COMMANDS not found: run `worker topology` as the operator") {
			return errors.New("want /readyz to name the missing stream, got " + errString(err))
		}
		return nil
	})
	if names := streamNames(t, e.js); len(names) != 0 {
		t.Fatalf("a worker in verify mode made streams: %v", names)
	}

	if out, err := topologyMain(t, map[string]string{"NATS_URL": e.natsURL}); err != nil {
		t.Fatalf("worker topology: %v\n%s", err, out)
	}
	testenv.Eventually(t, 30*time.Second, func() error { return ready(app) })
	e.watchEvents()
	e.publish(`{"lookupId":"verify-1","type":"organization","identifier":"923609016"}`, "verify-1")
	e.terminal("verify-1", 30*time.Second)

	// A consumer deleted by hand: the worker waits for it (and says so),
	// it does not make it again.
	if err := e.js.DeleteConsumer(context.Background(), "AML_COMMANDS", streams.ConsumerCommands); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		if !strings.Contains(e.logs.String(), "the consumer is gone and cannot be made again here; waiting for it") {
			return errors.New("the consume loop has not found the consumer gone yet")
		}
		return nil
	})
	if _, err := e.js.Consumer(context.Background(), "AML_COMMANDS", streams.ConsumerCommands); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("consumer %s after the worker found it gone: %v; want it still missing", streams.ConsumerCommands, err)
	}
	if err := ready(app); err == nil || !strings.Contains(err.Error(), "consumer commands: cannot pull") {
		t.Errorf("/readyz with the consumer gone: %v", err)
	}
	if out, err := topologyMain(t, map[string]string{"NATS_URL": e.natsURL}); err != nil {
		t.Fatalf("worker topology: %v\n%s", err, out)
	}
	e.publish(`{"lookupId":"verify-2","type":"organization","identifier":"923609016"}`, "verify-2")
	e.terminal("verify-2", 30*time.Second)
}

func streamNames(t *testing.T, js jetstream.JetStream) []string {
	t.Helper()
	var names []string
	l := js.StreamNames(context.Background())
	for n := range l.Name() {
		names = append(names, n)
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

func errString(err error) string {
	if err == nil {
		return "ready"
	}
	return err.Error()
}

// TestManageModeWithoutTheRightsSaysSo: a worker in manage mode whose NATS
// user may not make the streams waits, and /readyz gives the request the
// server refused (a refused request is only a timeout to the client).
func TestManageModeWithoutTheRightsSaysSo(t *testing.T) {
	reader := &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{"$JS.API.STREAM.INFO.>", "$JS.API.CONSUMER.INFO.>"}},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
	}
	srv := testenv.NATSWithUsers(t, &server.User{Username: "kybflow-worker", Password: "pw", Permissions: reader})
	e := newEnv(t, envOptions{})
	cfg := e.config(false)
	cfg.NATS = natsconn.Settings{URL: srv.ClientURL(), User: "kybflow-worker", Password: "pw"}
	app, _ := e.startWorkerApp(cfg)
	testenv.Eventually(t, 20*time.Second, func() error {
		err := ready(app)
		if err == nil || !strings.Contains(err.Error(), "the server last refused") ||
			!strings.Contains(err.Error(), `Permissions Violation for Publish to "$JS.API.STREAM.`) {
			return errors.New("want /readyz to give the refused request, got " + errString(err))
		}
		return nil
	})
}
