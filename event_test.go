package kybflow_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
)

func TestKinds(t *testing.T) {
	tests := []struct {
		kind     kybflow.Kind
		terminal bool
		typ      string
	}{
		{kybflow.KindAccepted, false, "io.kybflow.aml.lookup.accepted.v1"},
		{kybflow.KindSessionOpened, false, "io.kybflow.aml.lookup.session_opened.v1"},
		{kybflow.KindCompleted, true, "io.kybflow.aml.lookup.completed.v1"},
		{kybflow.KindFailed, true, "io.kybflow.aml.lookup.failed.v1"},
		{kybflow.KindErased, false, "io.kybflow.aml.lookup.erased.v1"},
		{kybflow.KindChanged, false, "io.kybflow.aml.lookup.changed.v1"},
		{kybflow.KindMonitor, false, "io.kybflow.aml.lookup.monitor.v1"},
	}
	for _, tt := range tests {
		if got := tt.kind.Terminal(); got != tt.terminal {
			t.Errorf("%s.Terminal() = %v", tt.kind, got)
		}
		if got := tt.kind.EventType(); got != tt.typ {
			t.Errorf("%s.EventType() = %s, want %s", tt.kind, got, tt.typ)
		}
		if k, ok := kybflow.KindOfEventType(tt.typ); !ok || k != tt.kind {
			t.Errorf("KindOfEventType(%s) = %s, %v", tt.typ, k, ok)
		}
	}
	for _, typ := range []string{"", "io.kybflow.aml.lookup.completed.v2", "io.kybflow.aml.lookup.cancelled.v1", "io.kybflow.aml.lookup..v1", "com.example.completed"} {
		if k, ok := kybflow.KindOfEventType(typ); ok {
			t.Errorf("KindOfEventType(%q) = %s, true", typ, k)
		}
	}
	if kybflow.Kind("cancelled").Known() || kybflow.Kind("cancelled").Terminal() {
		t.Error("unknown kind is known or terminal")
	}
}

func TestEventIDIsStable(t *testing.T) {
	events := goldenEvents(t)
	again := goldenEvents(t)
	seen := map[string]bool{}
	for k, e := range events {
		want := kybflow.EventID("onb-2026-000123", k)
		switch k {
		case kybflow.KindChanged:
			want = kybflow.EventID(goldenRunID(), k)
		case kybflow.KindMonitor:
			want = kybflow.MonitorEventID(goldenMonitorID, kybflow.MonitorCommandN(goldenMonitorSeq))
		}
		if e.ID != want || e.ID != again[k].ID {
			t.Errorf("%s: id %q, again %q", k, e.ID, again[k].ID)
		}
		if seen[e.ID] {
			t.Errorf("id %q twice", e.ID)
		}
		seen[e.ID] = true
	}
	if got := kybflow.EventID("abc", kybflow.KindCompleted); got != "abc.completed" {
		t.Errorf("EventID = %q", got)
	}
}

func TestNewEventRejects(t *testing.T) {
	c := goldenCommand
	good := c.CompletedData(goldenSession, goldenArtifacts(t, c))
	mod := func(f func(d *kybflow.CompletedData)) kybflow.CompletedData {
		d := good
		d.Artifacts = append([]kybflow.Artifact(nil), good.Artifacts...)
		f(&d)
		return d
	}
	tests := []struct {
		name     string
		source   string
		kind     kybflow.Kind
		lookupID string
		time     time.Time
		data     any
		want     string
	}{
		{"unknown kind", kybflow.DefaultSource, "cancelled", c.LookupID, goldenTime, good, "unknown kind"},
		{"relative source", "worker", kybflow.KindCompleted, c.LookupID, goldenTime, good, "source"},
		{"source with space", "urn:kyb flow", kybflow.KindCompleted, c.LookupID, goldenTime, good, "source"},
		{"bad lookupId", kybflow.DefaultSource, kybflow.KindCompleted, "a.b", goldenTime, good, "lookupId"},
		{"no time", kybflow.DefaultSource, kybflow.KindCompleted, c.LookupID, time.Time{}, good, "no time"},
		{"wrong data type", kybflow.DefaultSource, kybflow.KindAccepted, c.LookupID, goldenTime, good, "not the data of a accepted event"},
		{"nil pointer", kybflow.DefaultSource, kybflow.KindCompleted, c.LookupID, goldenTime, (*kybflow.CompletedData)(nil), "data is"},
		{"other lookup", kybflow.DefaultSource, kybflow.KindCompleted, "other", goldenTime, good, "not the event's"},
		{"no session", kybflow.DefaultSource, kybflow.KindCompleted, c.LookupID, goldenTime, mod(func(d *kybflow.CompletedData) { d.SessionID = "" }), "no sessionId"},
		{"no artifacts", kybflow.DefaultSource, kybflow.KindCompleted, c.LookupID, goldenTime, mod(func(d *kybflow.CompletedData) { d.Artifacts = nil }), "no artifacts"},
		{"bad sha256", kybflow.DefaultSource, kybflow.KindCompleted, c.LookupID, goldenTime, mod(func(d *kybflow.CompletedData) { d.Artifacts[0].SHA256 = strings.Repeat("A", 64) }), "sha256"},
		{"bad artifact name", kybflow.DefaultSource, kybflow.KindCompleted, c.LookupID, goldenTime, mod(func(d *kybflow.CompletedData) { d.Artifacts[0].Name = "pdf" }), "artifact name"},
		{"negative size", kybflow.DefaultSource, kybflow.KindCompleted, c.LookupID, goldenTime, mod(func(d *kybflow.CompletedData) { d.Artifacts[1].Size = -1 }), "negative size"},
		{"identifier not canonical", kybflow.DefaultSource, kybflow.KindCompleted, c.LookupID, goldenTime, mod(func(d *kybflow.CompletedData) { d.Identifier = "923 609 016" }), "canonical"},
		{"identifier invalid", kybflow.DefaultSource, kybflow.KindCompleted, c.LookupID, goldenTime, mod(func(d *kybflow.CompletedData) { d.Identifier = "923609017" }), "check digit"},
		{"unknown country", kybflow.DefaultSource, kybflow.KindCompleted, c.LookupID, goldenTime, mod(func(d *kybflow.CompletedData) { d.Country = "DK" }), "unknown country"},
		{"metadata not object", kybflow.DefaultSource, kybflow.KindCompleted, c.LookupID, goldenTime, mod(func(d *kybflow.CompletedData) { d.Metadata = json.RawMessage(`[1]`) }), "metadata"},
		{"unknown code", kybflow.DefaultSource, kybflow.KindFailed, c.LookupID, goldenTime, c.FailedData("boom", "x"), "unknown failure code"},
		{"no reason", kybflow.DefaultSource, kybflow.KindFailed, c.LookupID, goldenTime, c.FailedData(kybflow.CodeExpired, ""), "no reason"},
		{"no erasedAt", kybflow.DefaultSource, kybflow.KindErased, c.LookupID, goldenTime, kybflow.ErasedData{LookupID: c.LookupID}, "no erasedAt"},
		{"erased of another lookup", kybflow.DefaultSource, kybflow.KindErased, c.LookupID, goldenTime, kybflow.ErasedData{LookupID: "other", ErasedAt: goldenTime}, "not the event's"},
		{"erased data for a failed event", kybflow.DefaultSource, kybflow.KindFailed, c.LookupID, goldenTime, kybflow.ErasedData{LookupID: c.LookupID, ErasedAt: goldenTime}, "not the data of a failed event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := kybflow.NewEvent(tt.source, tt.kind, tt.lookupID, tt.time, tt.data)
			if !errors.Is(err, kybflow.ErrInvalidEvent) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewEvent error = %v, want ErrInvalidEvent containing %q", err, tt.want)
			}
		})
	}
}

func TestNewEventNormalises(t *testing.T) {
	c := goldenCommand
	fd := c.FailedData(kybflow.CodeUnavailable, strings.Repeat("é", 2000))
	fd.Metadata = json.RawMessage(" {\n \"a\" : 1 } ")
	oslo := time.FixedZone("CET", 3600)
	e, err := kybflow.NewEvent("https://kyb.example/worker", kybflow.KindFailed, c.LookupID, time.Date(2026, 1, 1, 1, 0, 0, 0, oslo), &fd)
	if err != nil {
		t.Fatal(err)
	}
	got := e.Data.(kybflow.FailedData)
	if n := len([]rune(got.Reason)); n != kybflow.MaxReasonLength || !strings.HasSuffix(got.Reason, "…") {
		t.Errorf("reason cut to %d characters", n)
	}
	if string(got.Metadata) != "{\n \"a\" : 1 }" { // byte for byte, without the space around it
		t.Errorf("metadata %q", got.Metadata)
	}
	if !got.Retryable {
		t.Error("unavailable is retryable")
	}
	if e.Time.Location() != time.UTC || !e.Time.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("time %v", e.Time)
	}
	if e.DataSchema != kybflow.SchemaBaseURI+"failed.data.schema.json" {
		t.Errorf("dataschema %s", e.DataSchema)
	}
	b, err := kybflow.EncodeEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(schemas(t).event, b); err != nil {
		t.Errorf("schema: %v", err)
	}
}

// TestProducedEventsValidate builds the events of every valid golden
// command and validates them against the envelope and data schemas.
func TestProducedEventsValidate(t *testing.T) {
	set := schemas(t)
	for _, e := range producedEvents(t, commandFiles(t, "ok-")...) {
		b, err := kybflow.EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate(set.event, b); err != nil {
			t.Errorf("%s: event schema: %v\n%s", e.ID, err, b)
		}
		data, _ := json.Marshal(e.Data)
		if err := validate(set.data[e.Kind()], data); err != nil {
			t.Errorf("%s: data schema: %v", e.ID, err)
		}
	}
}

// TestEventTraceparent: the CloudEvents distributed tracing extension is
// encoded when set, validates, and is decoded; it is absent otherwise.
func TestEventTraceparent(t *testing.T) {
	const tp, ts = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "vendor=x"
	e, err := kybflow.NewEvent(kybflow.DefaultSource, kybflow.KindFailed, "x-1", time.Now(),
		kybflow.FailedData{LookupID: "x-1", Code: kybflow.CodeUnavailable, Reason: "r"})
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := kybflow.EncodeEvent(e)
	if strings.Contains(string(plain), "trace") {
		t.Errorf("an event without trace context encodes one: %s", plain)
	}
	e.TraceParent, e.TraceState = tp, ts
	b, err := kybflow.EncodeEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(schemas(t).event, b); err != nil {
		t.Errorf("schema: %v\n%s", err, b)
	}
	got, err := kybflow.DecodeEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.TraceParent != tp || got.TraceState != ts {
		t.Errorf("decoded traceparent %q, tracestate %q", got.TraceParent, got.TraceState)
	}
	e.TraceParent = "not-a-traceparent"
	b, _ = kybflow.EncodeEvent(e)
	if err := validate(schemas(t).event, b); err == nil {
		t.Error("the schema accepts a malformed traceparent")
	}
}

func TestDecodeEventTolerates(t *testing.T) {
	// Unknown attributes and fields, unknown enum values, an offset time.
	in := `{"specversion": "1.0", "id": "x-1.failed", "source": "urn:other", "type": "io.kybflow.aml.lookup.failed.v1",
		"subject": "x-1", "time": "2026-03-02T10:30:15+01:00", "datacontenttype": "application/json; charset=utf-8",
		"traceparent": "00-abc", "dataschema": "https://example.com/an-earlier-uri", "data": {"lookupId": "x-1", "code": "quota_exceeded", "reason": "r", "retryable": true,
		"newField": [1], "metadata": {"a": 1}}}`
	e, err := kybflow.DecodeEvent([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, e.Data, any(kybflow.FailedData{
		LookupID: "x-1", Metadata: json.RawMessage(`{"a": 1}`), Code: "quota_exceeded", Reason: "r", Retryable: true,
	}))
	if !e.Time.Equal(time.Date(2026, 3, 2, 9, 30, 15, 0, time.UTC)) || e.Time.Location() != time.UTC {
		t.Errorf("time %v", e.Time)
	}
	if e.Kind() != kybflow.KindFailed {
		t.Errorf("kind %q", e.Kind())
	}

	// Another producer's event type: envelope checked, data kept raw.
	e, err = kybflow.DecodeEvent([]byte(`{"specversion": "1.0", "id": "1", "source": "/x", "type": "com.example.other", "data": {"b" : [ 1 ]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if raw, ok := e.Data.(json.RawMessage); !ok || string(raw) != `{"b":[1]}` || e.Kind() != "" {
		t.Errorf("data %#v, kind %q", e.Data, e.Kind())
	}
}

func TestDecodeEventRejects(t *testing.T) {
	ok := `{"specversion": "1.0", "id": "x-1.accepted", "source": "urn:s", "type": "io.kybflow.aml.lookup.accepted.v1", "subject": "x-1", "dataschema": "urn:s", "data": {"lookupId": "x-1"}}`
	if _, err := kybflow.DecodeEvent([]byte(ok)); err != nil {
		t.Fatalf("DecodeEvent(ok): %v", err)
	}
	tests := []struct{ name, old, new string }{
		{"specversion", `"1.0"`, `"0.3"`},
		{"no id", `"x-1.accepted"`, `""`},
		{"no source", `"urn:s"`, `""`},
		{"subject not a lookupId", `"subject": "x-1"`, `"subject": "x.1"`},
		{"data for another lookup", `{"lookupId": "x-1"}`, `{"lookupId": "x-2"}`},
		{"data not an object", `{"lookupId": "x-1"}`, `[1]`},
		{"data null", `{"lookupId": "x-1"}`, `null`},
		{"metadata not an object", `{"lookupId": "x-1"}`, `{"lookupId": "x-1", "metadata": 1}`},
		{"wrong field type", `{"lookupId": "x-1"}`, `{"lookupId": "x-1", "identifier": 923609016}`},
		{"datacontenttype", `"subject"`, `"datacontenttype": "text/plain", "subject"`},
		{"time", `"subject"`, `"time": "yesterday", "subject"`},
		{"no dataschema", `"dataschema": "urn:s", `, ``},
		{"empty dataschema", `"urn:s", "data"`, `"", "data"`},
		{"not an object", ok, `[]`},
		{"not JSON", ok, `{`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := strings.Replace(ok, tt.old, tt.new, 1)
			if in == ok {
				t.Fatal("no change")
			}
			if _, err := kybflow.DecodeEvent([]byte(in)); !errors.Is(err, kybflow.ErrInvalidEvent) {
				t.Errorf("DecodeEvent(%s) error = %v, want ErrInvalidEvent", in, err)
			}
		})
	}
	if _, err := kybflow.DecodeEvent(make([]byte, kybflow.MaxEventSize+1)); !errors.Is(err, kybflow.ErrInvalidEvent) {
		t.Errorf("oversize event: %v", err)
	}
}

// TestTenantEventsValidateAndRoundTrip: a tenant's events carry the tenant
// in their data, the key as subject and id, validate, and decode to the
// same data; an event whose data names another tenant is refused.
func TestTenantEventsValidateAndRoundTrip(t *testing.T) {
	set := schemas(t)
	for _, data := range commandFiles(t, "ok-") {
		c, err := kybflow.ParseCommand(data)
		if err != nil {
			t.Fatal(err)
		}
		c.Tenant = "acme"
		for _, e := range eventsOf(t, c) {
			if e.Subject != "acme."+c.LookupID || e.ID != "acme."+c.LookupID+"."+string(e.Kind()) {
				t.Fatalf("subject %q, id %q", e.Subject, e.ID)
			}
			b, err := kybflow.EncodeEvent(e)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate(set.event, b); err != nil {
				t.Errorf("%s: event schema: %v\n%s", e.ID, err, b)
			}
			raw, _ := json.Marshal(e.Data)
			if err := validate(set.data[e.Kind()], raw); err != nil {
				t.Errorf("%s: data schema: %v", e.ID, err)
			}
			back, err := kybflow.DecodeEvent(b)
			if err != nil {
				t.Fatalf("%s: DecodeEvent: %v", e.ID, err)
			}
			again, _ := json.Marshal(back.Data)
			if string(again) != string(raw) {
				t.Errorf("%s: decoded data %s, want %s", e.ID, again, raw)
			}
		}
	}
	other := orgAccepted()
	other.Tenant = "beta"
	if _, err := kybflow.NewEvent(kybflow.DefaultSource, kybflow.KindAccepted, "acme."+other.LookupID, time.Now(), other); err == nil {
		t.Fatal("NewEvent accepted data of tenant beta for a lookup of tenant acme")
	}
}

func orgAccepted() kybflow.AcceptedData {
	return kybflow.LookupCommand{LookupID: "t-1", Type: kybflow.TypeOrganization, Country: kybflow.CountryNO,
		IdentifierType: kybflow.IdentifierOrganizationNumber, Identifier: "923609016"}.AcceptedData()
}

// TestEventLookupKeyReadsOneWay: the subject "acme.x" is tenant acme's
// lookup x; data claiming the untenanted lookupId "acme.x" (or another
// tenant) does not decode, nor make an event.
func TestEventLookupKeyReadsOneWay(t *testing.T) {
	d := orgAccepted()
	d.LookupID = "acme.x"
	if _, err := kybflow.NewEvent(kybflow.DefaultSource, kybflow.KindAccepted, "acme.x", time.Now(), d); err == nil {
		t.Fatal("NewEvent took lookupId acme.x without a tenant for the key acme.x")
	}
	raw := `{"specversion":"1.0","id":"acme.x.accepted","source":"urn:t","type":"io.kybflow.aml.lookup.accepted.v1","subject":"acme.x",` +
		`"time":"2026-01-01T00:00:00Z","datacontenttype":"application/json","dataschema":"urn:t","data":{"lookupId":"acme.x","type":"organization","country":"NO","identifierType":"organization_number","identifier":"923609016"}}`
	if _, err := kybflow.DecodeEvent([]byte(raw)); err == nil {
		t.Fatal("DecodeEvent took data of the untenanted lookupId acme.x for tenant acme's lookup x")
	}
	ok := strings.Replace(raw, `"lookupId":"acme.x"`, `"lookupId":"x","tenant":"acme"`, 1)
	if ev, err := kybflow.DecodeEvent([]byte(ok)); err != nil || ev.Data.(kybflow.AcceptedData).Tenant != "acme" {
		t.Fatalf("DecodeEvent of tenant acme's lookup x: %v", err)
	}
}
