package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/client"
	"github.com/kybflow/kybflow/internal/testenv"
)

// TestSecuredNATS runs lookups against a nats-server as production runs
// one: TLS with client certificates, and every program connected as its
// own user of the shipped deploy/nats/kybflow-users.conf, through the
// documented variables only. The operator makes the topology with `worker
// topology`, the worker only checks it (TOPOLOGY_MODE=verify) and
// authenticates with an NKey; two tenants' platforms submit and wait, a
// downstream service reads every event with its durable consumer, the
// operator reads, erases and looks after dead letters. Not one permission
// is refused meanwhile (the users' lists are enough), then every forbidden
// action is tried and refused; wrong credentials and an untrusted server
// say why; and no log shows a secret.
func TestSecuredNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin := build(t)
	amlctl := buildAmlctl(t)
	s := startSecuredNATS(t, bin)
	const webhookSecret = "whsec_c2VjdXJlZC1lMmUtd2ViaG9vay1zZWNyZXQ=" // "secured-e2e-webhook-secret"
	secrets := append(s.secrets(), webhookSecret)
	var logs logSet
	logs.add("nats-server", s.Log.out)

	sandboxAddr, bridgeAddr, workerOps, bridgeOps := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	sandbox := start(t, "aml-sandbox", filepath.Join(bin, "aml-sandbox"), []string{
		"SANDBOX_LISTEN=" + sandboxAddr, "WEBHOOK_SECRET=" + webhookSecret, "SANDBOX_READY_AFTER=300ms",
	})
	logs.add("aml-sandbox", sandbox.out)
	waitStatus(t, sandbox, "http://"+sandboxAddr+"/auth/realms/sandbox/.well-known/openid-configuration", http.StatusOK, "")

	// The worker first: in verify mode it makes nothing, and says what it
	// waits for.
	blobDir := t.TempDir()
	workerEnv := func(ops string) []string {
		return append(s.env("kybflow-worker", ""), "TOPOLOGY_MODE=verify", "STARTUP_TIMEOUT=90s",
			"AML_API_URL=http://"+sandboxAddr, "AML_ISSUER_URL=http://"+sandboxAddr+"/auth/realms/sandbox",
			"AML_CLIENT_ID=sandbox", "AML_CLIENT_SECRET=sandbox-secret", "AML_WEBHOOK_URL=http://"+bridgeAddr+"/webhooks",
			"BLOB_DIR="+blobDir, "HTTP_ADDR="+ops, "POLL_INITIAL=200ms", "POLL_MAX=1s")
	}
	worker := start(t, "worker", filepath.Join(bin, "worker"), workerEnv(workerOps))
	logs.add("worker", worker.out)
	waitReadyz(t, worker, workerOps, http.StatusServiceUnavailable, "topology: streams, bucket and consumers not ensured yet: stream AML_COMMANDS not found: run `worker topology` as the operator")

	// The operator's job, as deploy/k8s/topology-job.yaml runs it: the
	// worker's settings without AML_* and S3_*, the operator's credentials
	// and inbox prefix.
	out, err := runWithTimeout(t, filepath.Join(bin, "worker"), append(s.env("kybflow-operator", "_INBOX_kybflow_operator"), "STARTUP_TIMEOUT=30s"), "topology")
	logs.addString("worker topology", out)
	if err != nil {
		t.Fatalf("worker topology: %v\n%s", err, out)
	}
	waitReadyz(t, worker, workerOps, http.StatusOK, "")

	bridge := start(t, "webhook-bridge", filepath.Join(bin, "webhook-bridge"), append(s.env("kybflow-bridge", ""),
		"LISTEN_ADDR="+bridgeAddr, "HTTP_ADDR="+bridgeOps, "WEBHOOK_SECRET="+webhookSecret))
	logs.add("webhook-bridge", bridge.out)
	waitReadyz(t, bridge, bridgeOps, http.StatusOK, "")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// A downstream service: every event, with its durable consumer.
	subscriber := s.connect(t, "kybflow-subscriber", "_INBOX_kybflow_subscriber")
	seen := subscribe(t, ctx, subscriber)

	// Two tenants' platforms; the same lookupId is two lookups.
	platform := s.connect(t, "kybflow-platform", "_INBOX_kybflow_platform_platform")
	acme := s.connect(t, "kybflow-platform-acme", "_INBOX_kybflow_platform_acme")
	clients := map[string]*client.Client{"platform": tenantClient(t, platform, "platform"), "acme": tenantClient(t, acme, "acme")}
	for _, tenant := range []string{"platform", "acme"} {
		if err := clients[tenant].Submit(ctx, lookupCommand("sec-1")); err != nil {
			t.Fatalf("%s submits: %v", tenant, err)
		}
	}
	// amlctl as the platform, with its tenant, following its lookup by
	// subject (lookup --wait).
	amlctlPlatform := append(s.env("kybflow-platform", "_INBOX_kybflow_platform_platform"), "AML_TENANT=platform")
	if code, out := runAmlctl(t, &logs, amlctl, amlctlPlatform, "lookup", "--wait", "--lookup-id", "sec-2", "--report", "aml", "923609016"); code != 0 {
		t.Fatalf("amlctl lookup as the platform: exit %d\n%s", code, out)
	}
	// An unreadable command, which the worker dead-letters.
	if _, err := platform.js.Publish(ctx, "aml.commands.lookup.platform", []byte("not a command")); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct{ tenant, id string }{{"platform", "sec-1"}, {"acme", "sec-1"}, {"platform", "sec-2"}} {
		res, err := clients[w.tenant].Wait(ctx, w.id)
		if err != nil || res.Completed == nil {
			t.Fatalf("%s waits for %s: %+v %v", w.tenant, w.id, res, err)
		}
	}

	// The operator: download, erase, dead letters (replayed corrected,
	// into the platform's commands, and purged).
	operatorEnv := append(s.env("kybflow-operator", ""), "BLOB_DIR="+blobDir)
	if code, out := runAmlctl(t, &logs, amlctl, operatorEnv, "get", "--dir", t.TempDir(), "platform.sec-1"); code != 0 {
		t.Errorf("amlctl get: exit %d\n%s", code, out)
	}
	if code, out := runAmlctl(t, &logs, amlctl, operatorEnv, "erase", "acme.sec-1"); code != 0 {
		t.Errorf("amlctl erase: exit %d\n%s", code, out)
	}
	replayDeadLetter(t, &logs, amlctl, operatorEnv)
	if res, err := clients["platform"].Wait(ctx, "sec-3"); err != nil || res.Completed == nil {
		t.Fatalf("the replayed dead letter's lookup: %+v %v", res, err)
	}
	if code, out := runAmlctl(t, &logs, amlctl, operatorEnv, "deadletters", "purge", "--yes"); code != 0 {
		t.Errorf("amlctl deadletters purge: exit %d\n%s", code, out)
	}
	seen.waitFor(t, "aml.events.platform.sec-1.completed", "aml.events.acme.sec-1.completed", "aml.events.platform.sec-2.completed",
		"aml.events.acme.sec-1.erased", "aml.events.platform.sec-3.completed")

	// Everything above was allowed: the server refused nothing.
	if v := violations(s.Log.out.String()); v != "" {
		t.Fatalf("the users' permissions refused what the programs do:\n%s", v)
	}

	t.Run("forbidden", func(t *testing.T) { forbidden(t, s, subscriber, platform) })
	t.Run("refused", func(t *testing.T) { refused(t, s, bin, amlctl, &logs, workerEnv) })

	for _, p := range []*proc{bridge, worker} {
		if _, err := p.stop(t); err != nil {
			t.Errorf("%s exited with %v after SIGTERM", p.name, err)
		}
	}
	logs.noSecret(t, append(secrets, "wrong-password"))
	// The sandbox shows its own (fixed, public) client secret on purpose;
	// the worker, which uses it, must not.
	logs.noSecret(t, []string{"sandbox-secret"}, "aml-sandbox")
}

// buildAmlctl compiles amlctl for the test.
func buildAmlctl(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/", "github.com/kybflow/kybflow/cmd/amlctl")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build amlctl: %v\n%s", err, out)
	}
	return filepath.Join(dir, "amlctl")
}

func lookupCommand(id string) kybflow.LookupCommand {
	return kybflow.LookupCommand{LookupID: id, Type: kybflow.TypeOrganization, Country: kybflow.CountryNO,
		Identifier: "923609016", Reports: []kybflow.ReportType{kybflow.ReportAML}}
}

func tenantClient(t *testing.T, rc *roleConn, tenant string) *client.Client {
	t.Helper()
	c, err := client.New(rc.nc, client.WithTenant(tenant))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// replayDeadLetter replays the one dead letter corrected (as lookup sec-3),
// as the operator.
func replayDeadLetter(t *testing.T, logs *logSet, amlctl string, env []string) {
	t.Helper()
	var seq uint64
	testenv.Eventually(t, 20*time.Second, func() error {
		code, out := runAmlctl(t, logs, amlctl, env, "deadletters", "list", "--json")
		if code != 0 {
			return fmt.Errorf("amlctl deadletters list: exit %d\n%s", code, out)
		}
		var dl struct{ Seq uint64 }
		if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &dl); err != nil || dl.Seq == 0 {
			return fmt.Errorf("no dead letter yet: %q", out)
		}
		seq = dl.Seq
		return nil
	})
	data := filepath.Join(t.TempDir(), "sec-3.json")
	cmd, _ := json.Marshal(lookupCommand("sec-3"))
	if err := os.WriteFile(data, cmd, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := runAmlctl(t, logs, amlctl, env, "deadletters", "replay", "--data", data, fmt.Sprint(seq)); code != 0 {
		t.Fatalf("amlctl deadletters replay: exit %d\n%s", code, out)
	}
}

// eventSet is what the downstream service has read: the subjects of the
// events, acknowledged.
type eventSet struct {
	mu   sync.Mutex
	subj map[string]bool
}

// subscribe reads every event with the durable consumer kybflow-subscriber,
// as a downstream service does with plain nats.go.
func subscribe(t *testing.T, ctx context.Context, rc *roleConn) *eventSet {
	t.Helper()
	cons, err := rc.js.CreateOrUpdateConsumer(ctx, "AML_EVENTS", jetstream.ConsumerConfig{
		Durable: "kybflow-subscriber", AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: "aml.events.>",
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cons.Info(ctx); err != nil { // as a service checks its consumer's lag
		t.Fatal(err)
	}
	es := &eventSet{subj: map[string]bool{}}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		es.mu.Lock()
		es.subj[m.Subject()] = true
		es.mu.Unlock()
		_ = m.Ack() // a lost ack is delivered again: the set does not mind
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	return es
}

func (es *eventSet) waitFor(t *testing.T, subjects ...string) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() error {
		es.mu.Lock()
		defer es.mu.Unlock()
		for _, s := range subjects {
			if !es.subj[s] {
				return fmt.Errorf("the subscriber has not read %s (it has %v)", s, es.subj)
			}
		}
		return nil
	})
}

// violations are the server's log lines about refused permissions.
func violations(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "Violation") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// runWithTimeout runs a program to its end (at most a minute) with env
// and returns its output.
func runWithTimeout(t *testing.T, bin string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// runAmlctl runs amlctl and returns its exit code and output, kept in logs.
func runAmlctl(t *testing.T, logs *logSet, amlctl string, env []string, args ...string) (int, string) {
	t.Helper()
	out, err := runWithTimeout(t, amlctl, env, args...)
	logs.addString("amlctl "+args[0], out)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out
	case errors.As(err, &ee):
		return ee.ExitCode(), out
	}
	t.Fatalf("amlctl %s: %v", args[0], err)
	return 0, ""
}
