package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/client"
)

var monitorLookup = kybflow.LookupCommand{Type: kybflow.TypeOrganization, Identifier: "923609016", Expands: []string{"roles"}}

// stored is the command JetStream stored at seq, parsed, with its subject
// and Nats-Msg-Id.
func (e *clientEnv) stored(seq uint64) (kybflow.MonitorCommand, string, string) {
	e.t.Helper()
	s, err := e.js.Stream(context.Background(), "AML_COMMANDS")
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := s.GetMsg(context.Background(), seq)
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := kybflow.ParseMonitorCommand(m.Data)
	if err != nil {
		e.t.Fatalf("stored %s: %v", m.Data, err)
	}
	return c, m.Subject, m.Header.Get(jetstream.MsgIDHeader)
}

// answer publishes the monitor event that answers s, as the worker would.
func (e *clientEnv) answer(s client.MonitorSubmission, d kybflow.MonitorData) {
	e.t.Helper()
	e.answerWith(s.Key, kybflow.MonitorCommandN(s.Sequence), d)
}

func (e *clientEnv) answerWith(key string, n uint64, d kybflow.MonitorData) {
	e.t.Helper()
	ev, err := kybflow.NewMonitorEvent("urn:test", key, n, time.Now(), d)
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := kybflow.EncodeEvent(ev)
	if err != nil {
		e.t.Fatal(err)
	}
	subject := e.client.Subjects().Event(key, kybflow.KindMonitor)
	if _, err := e.js.Publish(context.Background(), subject, b, jetstream.WithMsgID(ev.ID)); err != nil {
		e.t.Fatal(err)
	}
}

// TestMonitorCommandsOnTheWire: each action is published on the tenant's
// monitor subject, with a Nats-Msg-Id of its own, as the command the
// client was asked for.
func TestMonitorCommandsOnTheWire(t *testing.T) {
	e := newClientEnv(t)
	ctx := context.Background()
	acme, err := client.New(e.nc, client.WithTenant("acme"))
	if err != nil {
		t.Fatal(err)
	}
	until := time.Date(2027, 1, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600))
	created, err := acme.CreateMonitor(ctx, "m-1", monitorLookup, kybflow.Schedule{Cron: "0 0 6 * * MON", TimeZone: "Europe/Oslo"},
		client.Until(until), client.WithCorrelationID("case-77"), client.WithMetadata(json.RawMessage(`{"customer": "c-991"}`)))
	if err != nil {
		t.Fatal(err)
	}
	c, subject, msgID := e.stored(created.Sequence)
	if subject != "aml.commands.monitor.acme" || c.Action != kybflow.MonitorCreate || c.MonitorID != "m-1" ||
		string(c.Lookup) != `{"expands":["roles"],"identifier":"923609016","type":"organization"}` ||
		c.Schedule.Cron != "0 0 6 * * MON" || !c.Until.Equal(until) || c.CorrelationID != "case-77" || string(c.Metadata) != `{"customer": "c-991"}` { // echoed byte for byte
		t.Errorf("stored %+v on %s", c, subject)
	}
	if !regexp.MustCompile(`^acme\.m-1\.monitor\.create\.[0-9a-f]{16}$`).MatchString(msgID) || msgID != created.MsgID {
		t.Errorf("Nats-Msg-Id %q, submission %q", msgID, created.MsgID)
	}
	if created.Key != "acme.m-1" || created.EventID() != "acme.m-1.monitor."+strconv.FormatUint(2*created.Sequence, 10) || created.Duplicate {
		t.Errorf("submission %+v", created)
	}

	for _, tc := range []struct {
		send   func() (client.MonitorSubmission, error)
		action kybflow.MonitorAction
		check  func(c kybflow.MonitorCommand) bool
	}{
		{func() (client.MonitorSubmission, error) {
			return acme.UpdateMonitor(ctx, "m-1", client.SetSchedule(kybflow.Schedule{Every: "24h"}), client.SetLookup(kybflow.LookupCommand{
				Type: kybflow.TypeBeneficialOwners, Identifier: "923609016"}))
		}, kybflow.MonitorUpdate, func(c kybflow.MonitorCommand) bool {
			return c.Schedule.Every == "24h" && string(c.Lookup) == `{"identifier":"923609016","type":"beneficial_owners"}`
		}},
		{func() (client.MonitorSubmission, error) { return acme.PauseMonitor(ctx, "m-1") }, kybflow.MonitorPause, nil},
		{func() (client.MonitorSubmission, error) { return acme.ResumeMonitor(ctx, "m-1") }, kybflow.MonitorResume, nil},
		{func() (client.MonitorSubmission, error) { return acme.DeleteMonitor(ctx, "m-1") }, kybflow.MonitorDelete, nil},
		{func() (client.MonitorSubmission, error) { return e.client.PauseMonitor(ctx, "m-1") }, kybflow.MonitorPause, nil},
	} {
		s, err := tc.send()
		if err != nil {
			t.Fatalf("%s: %v", tc.action, err)
		}
		c, subject, msgID := e.stored(s.Sequence)
		wantSubject, wantKey := "aml.commands.monitor.acme", "acme.m-1"
		if s.Key == "m-1" { // the untenanted client
			wantSubject, wantKey = "aml.commands.monitor", "m-1"
		}
		if c.Action != tc.action || s.Action != tc.action || subject != wantSubject || s.Key != wantKey ||
			msgID != wantKey+".monitor."+string(tc.action)+"."+msgID[len(msgID)-16:] || (tc.check != nil && !tc.check(c)) {
			t.Errorf("%s: stored %+v on %s with id %s; submission %+v", tc.action, c, subject, msgID, s)
		}
	}
}

// TestMonitorCommandRetries: a call repeated with the same WithCommandID
// is stored once, and names the first one's sequence; calls without it
// are separate commands.
func TestMonitorCommandRetries(t *testing.T) {
	e := newClientEnv(t)
	ctx := context.Background()
	first, err := e.client.PauseMonitor(ctx, "m-1", client.WithCommandID("req-1"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.client.PauseMonitor(ctx, "m-1", client.WithCommandID("req-1"))
	if err != nil {
		t.Fatal(err)
	}
	if first.MsgID != "m-1.monitor.pause.req-1" || first.Duplicate || !again.Duplicate || again.Sequence != first.Sequence || again.EventID() != first.EventID() {
		t.Fatalf("first %+v, again %+v; want the second a duplicate of the first", first, again)
	}
	if n := e.commands(); n != 1 {
		t.Fatalf("%d commands stored, want 1", n)
	}
	// The same id for another action is another command.
	if s, err := e.client.ResumeMonitor(ctx, "m-1", client.WithCommandID("req-1")); err != nil || s.Duplicate {
		t.Fatalf("resume with the pause's id: %+v, %v", s, err)
	}
	for range 2 {
		if s, err := e.client.PauseMonitor(ctx, "m-1"); err != nil || s.Duplicate {
			t.Fatalf("pause: %+v, %v", s, err)
		}
	}
	if n := e.commands(); n != 4 {
		t.Fatalf("%d commands stored, want 4", n)
	}
}

// TestMonitorCommandsRefused: what the worker would reject as malformed is
// not published.
func TestMonitorCommandsRefused(t *testing.T) {
	e := newClientEnv(t)
	ctx := context.Background()
	for name, send := range map[string]func() (client.MonitorSubmission, error){
		"schedule of every and cron": func() (client.MonitorSubmission, error) {
			return e.client.CreateMonitor(ctx, "m-1", monitorLookup, kybflow.Schedule{Every: "24h", Cron: "0 0 6 * * *"})
		},
		"schedule under a second": func() (client.MonitorSubmission, error) {
			return e.client.CreateMonitor(ctx, "m-1", monitorLookup, kybflow.Schedule{Every: "10ms"})
		},
		"bad identifier": func() (client.MonitorSubmission, error) {
			return e.client.CreateMonitor(ctx, "m-1", kybflow.LookupCommand{Type: kybflow.TypeOrganization, Identifier: "923609017"}, kybflow.Schedule{Every: "24h"})
		},
		"bad monitorId":     func() (client.MonitorSubmission, error) { return e.client.PauseMonitor(ctx, "a.b") },
		"update of nothing": func() (client.MonitorSubmission, error) { return e.client.UpdateMonitor(ctx, "m-1") },
		"pause with until": func() (client.MonitorSubmission, error) {
			return e.client.PauseMonitor(ctx, "m-1", client.Until(time.Now()))
		},
	} {
		var ce *kybflow.CommandError
		if _, err := send(); !errors.As(err, &ce) {
			t.Errorf("%s: error %v, want a *kybflow.CommandError", name, err)
		}
	}
	lookupWithID := monitorLookup
	lookupWithID.LookupID = "x"
	if _, err := e.client.CreateMonitor(ctx, "m-1", lookupWithID, kybflow.Schedule{Every: "24h"}); err == nil {
		t.Error("a lookup with a lookupId was sent")
	}
	if _, err := e.client.PauseMonitor(ctx, "m-1", client.WithCommandID("a.b")); err == nil {
		t.Error("a command id with a dot was taken")
	}
	if n := e.commands(); n != 0 {
		t.Fatalf("%d commands stored, want none", n)
	}
}

// TestWaitMonitor: the answer to a command is found whether it came
// before the wait (direct get), during it (subscription), or before a
// later command's answer (earlier events); answers to other commands are
// not taken for it; a rejection is a result.
func TestWaitMonitor(t *testing.T) {
	e := newClientEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	applied := kybflow.MonitorData{MonitorID: "m-1", Action: kybflow.MonitorCreate, Status: kybflow.MonitorActive, Schedule: &kybflow.Schedule{Every: "24h"}}
	created, err := e.client.CreateMonitor(ctx, "m-1", monitorLookup, kybflow.Schedule{Every: "24h"})
	if err != nil {
		t.Fatal(err)
	}
	e.answer(created, applied) // before the wait
	r, err := e.client.WaitMonitor(ctx, created)
	if err != nil || !r.Applied() || r.Event.ID != created.EventID() || r.Monitor.Status != kybflow.MonitorActive {
		t.Fatalf("WaitMonitor = %+v, %v", r, err)
	}

	paused, err := e.client.PauseMonitor(ctx, "m-1")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan client.MonitorResult, 1)
	go func() {
		r, err := e.client.WaitMonitor(ctx, paused)
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	// Another monitor event first: not this command's answer.
	e.answerWith("m-1", kybflow.MonitorFireN(paused.Sequence+1000), kybflow.MonitorData{MonitorID: "m-1", Action: kybflow.MonitorEnd, Status: kybflow.MonitorEnded})
	e.answer(paused, kybflow.MonitorData{MonitorID: "m-1", Action: kybflow.MonitorPause, Code: kybflow.CodeRejected, Reason: "monitor m-1 is paused already"})
	if r := <-got; r.Applied() || r.Monitor.Code != kybflow.CodeRejected || r.Event.ID != paused.EventID() {
		t.Fatalf("WaitMonitor = %+v, want the rejection", r)
	}

	// Answered, then hidden by the answer to a later command.
	resumed, err := e.client.ResumeMonitor(ctx, "m-1")
	if err != nil {
		t.Fatal(err)
	}
	deleted, err := e.client.DeleteMonitor(ctx, "m-1")
	if err != nil {
		t.Fatal(err)
	}
	e.answer(resumed, kybflow.MonitorData{MonitorID: "m-1", Action: kybflow.MonitorResume, Status: kybflow.MonitorActive})
	e.answer(deleted, kybflow.MonitorData{MonitorID: "m-1", Action: kybflow.MonitorDelete, Status: kybflow.MonitorDeleted})
	if r, err := e.client.WaitMonitor(ctx, resumed); err != nil || r.Monitor.Action != kybflow.MonitorResume || r.Event.ID != resumed.EventID() {
		t.Fatalf("WaitMonitor of a hidden answer = %+v, %v", r, err)
	}

	// No answer: the context's error.
	never, err := e.client.PauseMonitor(ctx, "m-2")
	if err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	if _, err := e.client.WaitMonitor(short, never); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitMonitor without an answer: %v, want the context's error", err)
	}

	// A lookup named like the monitor does not see the monitor's events.
	e.event(kybflow.KindFailed, kybflow.FailedData{LookupID: "m-1", Code: kybflow.CodeExpired, Reason: "late", Retryable: true})
	var kinds []kybflow.Kind
	err = e.client.Follow(ctx, "m-1", func(ev kybflow.Event) error {
		kinds = append(kinds, ev.Kind())
		if ev.Kind().Terminal() {
			return client.ErrStop
		}
		return nil
	})
	if err != nil || len(kinds) != 1 || kinds[0] != kybflow.KindFailed {
		t.Fatalf("Follow of lookup m-1 = %v, kinds %v; want its failed event only", err, kinds)
	}
}
