package kybflow_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
)

// TestMonitorDefinition: a create defines the monitor; an update changes
// what it gives and keeps the rest, the monitor's correlationId and
// metadata included when only the lookup changes.
func TestMonitorDefinition(t *testing.T) {
	create := goldenMonitorCommand(t)
	create.Tenant = "acme"
	d, err := create.Definition(kybflow.MonitorDefinition{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Lookup.Identifier != "923609016" || d.Lookup.Country != kybflow.CountryNO || d.Lookup.Tenant != "acme" ||
		d.Lookup.CorrelationID != "case-77" || string(d.Lookup.Metadata) != `{ "customer": "c-991" }` ||
		d.Schedule.Every != "168h" || !d.Until.Equal(goldenUntil) || d.Lookup.LookupID != "" {
		t.Fatalf("definition %+v", d)
	}
	// A run is the definition's lookup with its lookupId: a valid command.
	run := d.Lookup
	run.LookupID = kybflow.RunLookupID(create.MonitorID, goldenRunAt)
	if err := run.Validate(); err != nil {
		t.Errorf("run command: %v", err)
	}

	update, err := kybflow.ParseMonitorCommand([]byte(`{"action": "update", "monitorId": "kyc-923609016",
		"lookup": {"type": "organization", "identifier": "923609016", "reports": ["aml"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	update.Tenant = "acme"
	u, err := update.Definition(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Lookup.Reports) != 1 || len(u.Lookup.Expands) != 0 || u.Lookup.CorrelationID != "case-77" ||
		string(u.Lookup.Metadata) != `{ "customer": "c-991" }` || u.Schedule != d.Schedule || !u.Until.Equal(goldenUntil) {
		t.Errorf("updated definition %+v", u)
	}
	if _, err := (kybflow.MonitorCommand{Action: kybflow.MonitorUpdate, MonitorID: "m"}).Definition(d); err == nil {
		t.Error("an update of nothing defined a monitor")
	}
}

// TestEncodeMonitorCommand: what a client builds is encoded, parses to
// itself, and validates; what the worker would reject is not encoded.
func TestEncodeMonitorCommand(t *testing.T) {
	lookup, err := kybflow.MonitorLookup(kybflow.LookupCommand{LookupID: "ignored", Tenant: "x", Type: kybflow.TypeOrganization,
		Identifier: "923609016", Expands: []string{"roles"}, CorrelationID: "ignored", Metadata: json.RawMessage(`{"x":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if string(lookup) != `{"expands":["roles"],"identifier":"923609016","type":"organization"}` {
		t.Errorf("MonitorLookup = %s", lookup)
	}
	until := goldenUntil
	c := kybflow.MonitorCommand{Action: kybflow.MonitorCreate, MonitorID: "m-1", Tenant: "acme", Lookup: lookup,
		Schedule: &kybflow.Schedule{Cron: "0 0 6 * * MON", TimeZone: "Europe/Oslo"}, Until: &until,
		CorrelationID: "c", Metadata: json.RawMessage(`{"a":"<&>"}`)}
	b, err := kybflow.EncodeMonitorCommand(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "acme") || !strings.Contains(string(b), `"<&>"`) {
		t.Errorf("encoded %s: want no tenant, metadata unescaped", b)
	}
	if err := validate(schemas(t).monitorCommand, b); err != nil {
		t.Errorf("schema: %v", err)
	}
	back, err := kybflow.ParseMonitorCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	back.Tenant = c.Tenant
	assertEqual(t, back, c)

	c.Schedule.Every = "24h"
	if _, err := kybflow.EncodeMonitorCommand(c); err == nil {
		t.Error("encoded a schedule of every and cron")
	}
	if _, err := kybflow.EncodeMonitorCommand(kybflow.MonitorCommand{Action: kybflow.MonitorPause, MonitorID: "m-1", Metadata: json.RawMessage(`[1]`)}); err == nil {
		t.Error("encoded metadata that is not an object")
	}
}

func TestRunLookupID(t *testing.T) {
	at := time.Date(2026, 3, 9, 9, 30, 15, 999, time.FixedZone("CET", 3600))
	if got := kybflow.RunLookupID("m-1", at); got != "m-1-r1773045015" {
		t.Errorf("RunLookupID = %q", got)
	}
	longest := kybflow.RunLookupID(strings.Repeat("m", kybflow.MaxMonitorIDLength), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC))
	if !kybflow.ValidLookupID(longest) {
		t.Errorf("the longest run lookupId %q is not a lookupId", longest)
	}
}

// TestMonitorEvents: NewEvent leaves monitor events to NewMonitorEvent,
// which checks their data; a run's events carry their monitor link and
// validate.
func TestMonitorEvents(t *testing.T) {
	if _, err := kybflow.NewEvent(kybflow.DefaultSource, kybflow.KindMonitor, "m-1", goldenTime, goldenMonitorData()); !errors.Is(err, kybflow.ErrMonitorEventID) || !errors.Is(err, kybflow.ErrInvalidEvent) {
		t.Errorf("NewEvent(monitor) = %v, want ErrMonitorEventID", err)
	}
	rejected := kybflow.MonitorData{MonitorID: "m-1", Tenant: "acme", Code: kybflow.CodeRejected, Reason: "monitor m-1 exists", Action: kybflow.MonitorCreate}
	e, err := kybflow.NewMonitorEvent(kybflow.DefaultSource, "acme.m-1", 7, goldenTime, rejected)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != "acme.m-1.monitor.7" || e.Subject != "acme.m-1" || (kybflow.Subjects{}).Event(e.Subject, e.Kind()) != "aml.events.acme.m-1.monitor" {
		t.Errorf("id %q, subject %q", e.ID, e.Subject)
	}
	b, _ := kybflow.EncodeEvent(e)
	if err := validate(schemas(t).event, b); err != nil {
		t.Errorf("schema: %v\n%s", err, b)
	}
	if back, err := kybflow.DecodeEvent(b); err != nil || !equalJSON(t, back.Data, e.Data) {
		t.Errorf("decoded %+v, %v", back.Data, err)
	}
	mod := func(f func(d *kybflow.MonitorData)) kybflow.MonitorData {
		d := goldenMonitorData()
		f(&d)
		return d
	}
	for name, d := range map[string]kybflow.MonitorData{
		"other monitor":       mod(func(d *kybflow.MonitorData) { d.MonitorID = "other" }),
		"no status":           mod(func(d *kybflow.MonitorData) { d.Status = "" }),
		"unknown status":      mod(func(d *kybflow.MonitorData) { d.Status = "sleeping" }),
		"unknown action":      mod(func(d *kybflow.MonitorData) { d.Action = "stop" }),
		"status and code":     mod(func(d *kybflow.MonitorData) { d.Code, d.Reason = kybflow.CodeRejected, "r" }),
		"code without reason": mod(func(d *kybflow.MonitorData) { d.Status, d.Code = "", kybflow.CodeRejected }),
		"a lookup's code":     mod(func(d *kybflow.MonitorData) { d.Status, d.Code, d.Reason = "", kybflow.CodeExpired, "r" }),
		"end not ended":       mod(func(d *kybflow.MonitorData) { d.Action = kybflow.MonitorEnd }),
		"bad schedule":        mod(func(d *kybflow.MonitorData) { d.Schedule = &kybflow.Schedule{Every: "1ms"} }),
		"metadata not object": mod(func(d *kybflow.MonitorData) { d.Metadata = json.RawMessage(`1`) }),
	} {
		if _, err := kybflow.NewMonitorEvent(kybflow.DefaultSource, goldenMonitorID, 1, goldenTime, d); !errors.Is(err, kybflow.ErrInvalidEvent) {
			t.Errorf("%s: NewMonitorEvent error = %v, want ErrInvalidEvent", name, err)
		}
	}
	ch := goldenChangedData(t)
	for name, f := range map[string]func(d *kybflow.ChangedData){
		"no blocks":        func(d *kybflow.ChangedData) { d.Blocks = nil },
		"a block twice":    func(d *kybflow.ChangedData) { d.Blocks = append(d.Blocks, d.Blocks[0]) },
		"a negative count": func(d *kybflow.ChangedData) { d.Blocks = []kybflow.BlockChange{{Block: "roles", Added: -1}} },
		"no previous":      func(d *kybflow.ChangedData) { d.PreviousLookupID = "" },
		"diff named json":  func(d *kybflow.ChangedData) { d.Diff.Name = kybflow.ArtifactJSON },
		"bad monitorId":    func(d *kybflow.ChangedData) { d.MonitorID = "a.b" },
	} {
		d := ch
		d.Blocks = append([]kybflow.BlockChange(nil), ch.Blocks...)
		f(&d)
		if _, err := kybflow.NewEvent(kybflow.DefaultSource, kybflow.KindChanged, goldenRunID(), goldenTime, d); !errors.Is(err, kybflow.ErrInvalidEvent) {
			t.Errorf("changed, %s: NewEvent error = %v, want ErrInvalidEvent", name, err)
		}
	}
}

// TestRunEventsValidate: the events of a monitor's run carry its link to
// the monitor, validate and decode to the same data.
func TestRunEventsValidate(t *testing.T) {
	d, err := goldenMonitorCommand(t).Definition(kybflow.MonitorDefinition{})
	if err != nil {
		t.Fatal(err)
	}
	run := d.Lookup
	run.LookupID = goldenRunID()
	changed := true
	run.Monitor = &kybflow.MonitorRun{MonitorID: goldenMonitorID, At: goldenRunAt}
	set := schemas(t)
	for _, e := range eventsOf(t, run) {
		if c, ok := e.Completed(); ok {
			c.Monitor = &kybflow.MonitorRun{MonitorID: goldenMonitorID, At: goldenRunAt, PreviousLookupID: goldenPreviousRunID(), Changed: &changed}
			e.Data = c
		}
		b, _ := kybflow.EncodeEvent(e)
		if err := validate(set.event, b); err != nil {
			t.Errorf("%s: %v\n%s", e.ID, err, b)
		}
		back, err := kybflow.DecodeEvent(b)
		if err != nil || !equalJSON(t, back.Data, e.Data) {
			t.Errorf("%s: decoded %+v, %v", e.ID, back.Data, err)
		}
		if k := e.Kind(); k != kybflow.KindErased && k != kybflow.KindChanged && !strings.Contains(string(b), `"monitor":{"monitorId":"kyc-923609016","at":"2026-03-09T09:30:15Z"`) {
			t.Errorf("%s carries no monitor link: %s", e.ID, b)
		}
	}
}

// TestMonitorLogValues: what is logged of monitor events leaves the
// correlationId and metadata out.
func TestMonitorLogValues(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	events := goldenEvents(t)
	log.Info("x", "event", events[kybflow.KindChanged], "monitor", events[kybflow.KindMonitor])
	out := buf.String()
	for _, leak := range []string{"case-77", "c-991"} {
		if strings.Contains(out, leak) {
			t.Errorf("log contains %q: %s", leak, out)
		}
	}
	for _, want := range []string{`"blocks":["roles"]`, `"action":"create"`, `"status":"active"`, `"previousLookupId":"kyc-923609016-r1772443815"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s: %s", want, out)
		}
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
