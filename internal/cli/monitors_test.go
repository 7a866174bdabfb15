// Tests of amlctl monitors against a real NATS with the worker's streams
// and no worker: what it publishes, and how it prints the answer a test
// publishes in the worker's place.

package cli

import (
	"context"

	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
)

// monitorEnv is NATS with the worker's streams, and what a user exports.
type monitorEnv struct {
	t   *testing.T
	env map[string]string
	js  jetstream.JetStream
}

func newMonitorEnv(t *testing.T) *monitorEnv {
	t.Helper()
	url := testenv.NATS(t)
	return newMonitorEnvOn(t, url, jetStreamOf(t, url))
}

// newMonitorEnvOn makes the worker's streams with js, a connection to the
// server at url allowed to.
func newMonitorEnvOn(t *testing.T, url string, js jetstream.JetStream) *monitorEnv {
	t.Helper()
	if _, err := streams.Ensure(context.Background(), js, streams.Topology{Replicas: 1, Duplicates: time.Hour, EventsMaxAge: time.Hour,
		DeadLetterMaxAge: time.Hour, LookupsMaxAge: 24 * time.Hour, AckWait: 15 * time.Second, WebhookMaxDeliver: 10}); err != nil {
		t.Fatal(err)
	}
	return &monitorEnv{t: t, env: map[string]string{"NATS_URL": url}, js: js}
}

// command is the command stored at seq: parsed, its subject and Nats-Msg-Id.
func (e *monitorEnv) command(seq uint64) (kybflow.MonitorCommand, string, string) {
	e.t.Helper()
	s, err := e.js.Stream(context.Background(), kybflow.StreamCommands)
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := s.GetMsg(context.Background(), seq)
	if err != nil {
		e.t.Fatalf("command %d: %v", seq, err)
	}
	c, err := kybflow.ParseMonitorCommand(m.Data)
	if err != nil {
		e.t.Fatalf("stored command %s: %v", m.Data, err)
	}
	return c, m.Subject, m.Header.Get(jetstream.MsgIDHeader)
}

// answer waits for the command seq to be stored, and publishes the
// monitor event that answers it, as the worker would.
func (e *monitorEnv) answer(key string, seq uint64, d kybflow.MonitorData) {
	e.t.Helper()
	testenv.Eventually(e.t, 10*time.Second, func() error {
		s, err := e.js.Stream(context.Background(), kybflow.StreamCommands)
		if err != nil {
			return err
		}
		if _, err := s.GetMsg(context.Background(), seq); err != nil {
			return fmt.Errorf("command %d not stored yet: %w", seq, err)
		}
		return nil
	})
	ev, err := kybflow.NewMonitorEvent("urn:test", key, kybflow.MonitorCommandN(seq), time.Now(), d)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := kybflow.EncodeEvent(ev)
	if _, err := e.js.Publish(context.Background(), (kybflow.Subjects{}).Event(key, kybflow.KindMonitor), b, jetstream.WithMsgID(ev.ID)); err != nil {
		e.t.Fatal(err)
	}
}

// run runs amlctl in the background; its result comes on the channel.
func (e *monitorEnv) run(ctx context.Context, env map[string]string, args ...string) <-chan result {
	out := make(chan result, 1)
	go func() { out <- amlctl(ctx, env, args...) }()
	return out
}

func TestMonitors(t *testing.T) {
	t.Parallel()
	e := newMonitorEnv(t)
	ctx := context.Background()
	acme := map[string]string{"NATS_URL": e.env["NATS_URL"], "AML_TENANT": "acme"}

	// 1. create, stored, without --wait: the event id to expect on stdout.
	r := amlctl(ctx, acme, "monitors", "create", "--every", "168h", "--until", "2027-03-01", "--expand", "roles,ownership",
		"--report", "aml", "--correlation-id", "case-77", "--metadata", `{"customer":"c-991"}`, "--command-id", "req-1", "kyc-1", "923 609 016")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "acme.kyc-1.monitor.2" || !strings.Contains(r.stderr, "amlctl events --lookup kyc-1") {
		t.Fatalf("create: want exit 0 and the answer's event id:\n%s", r)
	}
	c, subject, msgID := e.command(1)
	if subject != "aml.commands.monitor.acme" || msgID != "acme.kyc-1.monitor.create.req-1" || c.Action != kybflow.MonitorCreate ||
		c.Schedule.Every != "168h" || !c.Until.Equal(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)) || c.CorrelationID != "case-77" ||
		string(c.Metadata) != `{"customer":"c-991"}` ||
		string(c.Lookup) != `{"country":"NO","expands":["roles","ownership"],"identifier":"923 609 016","reports":["aml"],"type":"organization"}` {
		t.Errorf("stored %+v on %s, id %s", c, subject, msgID)
	}
	// The same --command-id again: stored once.
	r = amlctl(ctx, acme, "monitors", "create", "--every", "168h", "--until", "2027-03-01", "--expand", "roles,ownership",
		"--report", "aml", "--correlation-id", "case-77", "--metadata", `{"customer":"c-991"}`, "--command-id", "req-1", "kyc-1", "923609016", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"sequence":1,`) || !strings.Contains(r.stdout, `"duplicate":true`) {
		t.Fatalf("create again: want the first command, a duplicate:\n%s", r)
	}

	// 2. update --wait, applied: exit 0 and the monitor as it is.
	done := e.run(ctx, acme, "monitors", "update", "--cron", "0 0 6 * * MON", "--time-zone", "Europe/Oslo", "--wait", "kyc-1")
	e.answer("acme.kyc-1", 2, kybflow.MonitorData{MonitorID: "kyc-1", Tenant: "acme", Action: kybflow.MonitorUpdate, Status: kybflow.MonitorActive,
		Schedule: &kybflow.Schedule{Cron: "0 0 6 * * MON", TimeZone: "Europe/Oslo"}})
	r = <-done
	if r.code != 0 || !strings.Contains(r.stdout, "monitor kyc-1: update applied: active, cron 0 0 6 * * MON Europe/Oslo") {
		t.Fatalf("update --wait: want exit 0 and the answer:\n%s", r)
	}
	if c, _, _ := e.command(2); c.Schedule.Cron != "0 0 6 * * MON" || c.Lookup != nil {
		t.Errorf("update stored %+v", c)
	}

	// 3. pause --wait, rejected: exit 1 and why.
	done = e.run(ctx, e.env, "monitors", "pause", "--wait", "kyc-2")
	e.answer("kyc-2", 3, kybflow.MonitorData{MonitorID: "kyc-2", Action: kybflow.MonitorPause, Code: kybflow.CodeRejected, Reason: "no monitor kyc-2"})
	r = <-done
	if r.code != 1 || !strings.Contains(r.stdout, "monitor kyc-2: pause rejected: rejected: no monitor kyc-2") {
		t.Fatalf("pause --wait: want exit 1 and the rejection:\n%s", r)
	}
	if _, subject, _ := e.command(3); subject != "aml.commands.monitor" {
		t.Errorf("untenanted pause on %s", subject)
	}

	// 4. resume --wait --json: the answer as a CloudEvent.
	done = e.run(ctx, e.env, "monitors", "resume", "--wait", "--json", "kyc-2")
	e.answer("kyc-2", 4, kybflow.MonitorData{MonitorID: "kyc-2", Action: kybflow.MonitorResume, Status: kybflow.MonitorActive})
	r = <-done
	if ev, err := kybflow.DecodeEvent([]byte(r.stdout)); r.code != 0 || err != nil || ev.ID != "kyc-2.monitor.8" {
		t.Fatalf("resume --wait --json: want exit 0 and the event: %v\n%s", err, r)
	}

	// 5. delete --wait without an answer: exit 2 and where to look.
	r = amlctl(ctx, e.env, "monitors", "delete", "--wait", "--timeout", "200ms", "kyc-3")
	if r.code != 2 || !strings.Contains(r.stderr, "within 200ms") || !strings.Contains(r.stderr, "amlctl events --lookup kyc-3") {
		t.Fatalf("delete --wait without an answer: want exit 2:\n%s", r)
	}

	// 6. The events command shows monitor events.
	r = amlctl(ctx, e.env, "events", "--all", "--follow=false")
	if r.code != 0 || !strings.Contains(r.stdout, "kyc-2  monitor         pause rejected") || !strings.Contains(r.stdout, "acme.kyc-1  monitor         update applied") {
		t.Errorf("events: want the monitor events:\n%s", r)
	}
}

// TestMonitorsRefuseInvalidCommands: what the worker would reject is not
// sent (exit 1 with the reason), and needs no NATS.
func TestMonitorsRefuseInvalidCommands(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "--every", "10ms", "m-1", "923609016"}, "schedule.every"},
		{[]string{"create", "--cron", "0 6 * * MON", "m-1", "923609016"}, "6 fields"},
		{[]string{"create", "--cron", "0 0 6 * * MON", "--time-zone", "Mars/Olympus", "m-1", "923609016"}, "IANA"},
		{[]string{"create", "--every", "24h", "m-1", "923609017"}, "check digit is 7, want 6"},
		{[]string{"create", "--every", "24h", "--beneficial-owners", "--country", "SE", "m-1", "5560360793"}, "beneficial_owners"},
		{[]string{"pause", "a.b"}, "monitorId"},
		{[]string{"update", "--correlation-id", strings.Repeat("c", 300), "m-1"}, "correlationId"},
	} {
		r := amlctl(context.Background(), map[string]string{"NATS_URL": "nats://127.0.0.1:1"}, append([]string{"monitors"}, tc.args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" || strings.Contains(r.stderr, "NATS") {
			t.Errorf("%v: want exit 1 naming %q, before connecting:\n%s", tc.args, tc.want, r)
		}
	}
}
