// Harness helpers that publish commands and webhooks and wait for events and idle consumers.

package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
)

// publish sends a command as a platform would. msgID "" leaves Nats-Msg-Id
// out, so that deduplication is the worker's own.
func (e *env) publish(cmd any, msgID string) {
	e.t.Helper()
	e.publishOn("aml.commands.lookup", cmd, msgID)
}

// publishOn is publish on another subject: a tenant's commands subject.
func (e *env) publishOn(subject string, cmd any, msgID string) {
	e.t.Helper()
	var data []byte
	switch c := cmd.(type) {
	case []byte:
		data = c
	case string:
		data = []byte(c)
	default:
		b, err := json.Marshal(c)
		if err != nil {
			e.t.Fatal(err)
		}
		data = b
	}
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	// While NATS is in trouble a publish may go unanswered; a platform
	// publishes again with the same Nats-Msg-Id until JetStream
	// acknowledges it. (Errorf, not Fatal: a test may publish from a
	// goroutine of its own.)
	err := testenv.Poll(time.Minute, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := e.js.Publish(ctx, subject, data, opts...)
		return err
	})
	if err != nil {
		e.t.Errorf("publish a command: %v", err)
	}
}

// terminal waits for the terminal event of lookupID and returns it.
func (e *env) terminal(lookupID string, timeout time.Duration) kybflow.Event {
	e.t.Helper()
	var found kybflow.Event
	err := testenv.Poll(timeout, func() error {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, ev := range e.events[lookupID] {
			if k, _ := kybflow.KindOfEventType(ev.Type); k.Terminal() {
				found = ev
				return nil
			}
		}
		return fmt.Errorf("events: %v", kinds(e.events[lookupID]))
	})
	if err != nil {
		e.t.Fatalf("no terminal event for %s within %s; %v", lookupID, timeout, err)
	}
	return found
}

// markerIdentifier is the organization number of marker lookups, looked up
// by no test.
const markerIdentifier = "987654325"

// marker runs one more lookup, after everything a test did, and waits for
// its ending: the positive sign that nothing more comes of the lookups
// before it. Its command queues behind theirs (a redelivered command comes
// first), its checks and webhooks behind theirs, so what those would still
// publish (an ending twice, a late duplicate) is published before the
// marker's own ending. It opens a session of its own, for
// markerIdentifier.
func (e *env) marker() {
	e.t.Helper()
	e.mu.Lock()
	e.markers++
	id := fmt.Sprintf("marker-%d", e.markers)
	e.mu.Unlock()
	e.publish(cmd{LookupID: id, Type: "organization", Country: "NO", Identifier: markerIdentifier}, id)
	if k, _ := kybflow.KindOfEventType(e.terminal(id, time.Minute).Type); k != kybflow.KindCompleted {
		e.t.Fatalf("marker lookup %s ended %s, want completed", id, k)
	}
}

// eventsOf returns the kinds of lookupID's events so far.
func (e *env) eventsOf(lookupID string) []kybflow.Kind {
	e.mu.Lock()
	defer e.mu.Unlock()
	return kinds(e.events[lookupID])
}

func kinds(evs []kybflow.Event) []kybflow.Kind {
	var out []kybflow.Kind
	for _, ev := range evs {
		k, _ := kybflow.KindOfEventType(ev.Type)
		out = append(out, k)
	}
	return out
}

// postWebhook sends a webhook to the bridge as an attacker or BankID would.
func (e *env) postWebhook(lookupID string, body []byte, header http.Header) int {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+e.bridge.Addr().String()+"/webhooks/"+lookupID, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// consumerIdle is nil once the named consumer of the worker has nothing to
// deliver and nothing delivered but not acknowledged.
func (e *env) consumerIdle(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream := map[string]string{
		streams.ConsumerCommands: kybflow.Subjects{}.CommandsStream(),
		streams.ConsumerChecks:   streams.NamesOf(kybflow.Subjects{}).ChecksStream(),
		streams.ConsumerWebhooks: streams.NamesOf(kybflow.Subjects{}).WebhooksStream(),
	}[name]
	cons, err := e.js.Consumer(ctx, stream, name)
	if err != nil {
		return err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return err
	}
	if info.NumPending != 0 || info.NumAckPending != 0 {
		return fmt.Errorf("consumer %s: %d to deliver, %d not acknowledged", name, info.NumPending, info.NumAckPending)
	}
	return nil
}
