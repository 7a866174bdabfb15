package kybflow_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
)

// TestMetadataByteForByte: a command's metadata, with whitespace, <, >, &,
// escapes and member order that encoding/json would change, comes back in
// the events and re-encoded commands exactly as the command had it.
func TestMetadataByteForByte(t *testing.T) {
	const metadata = "{ \"z\" : \"<b>&</b>\",\n  \"a\": [1, 2.50, 1e3], \"u\": \"\\u00e9\\u2028\\/\" }"
	c, err := kybflow.ParseCommand([]byte(`{"lookupId": "m-1", "type": "organization", "identifier": "923609016", "metadata":  ` + metadata + ` }`))
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Metadata) != metadata {
		t.Fatalf("ParseCommand: metadata %q, want %q", c.Metadata, metadata)
	}
	want := []byte(`"metadata":` + metadata)
	b, err := kybflow.EncodeCommand(c)
	if err != nil || !bytes.Contains(b, want) {
		t.Errorf("EncodeCommand: %s, %v", b, err)
	}
	for _, k := range []kybflow.Kind{kybflow.KindAccepted, kybflow.KindFailed} {
		var data any = c.AcceptedData()
		if k == kybflow.KindFailed {
			data = c.FailedData(kybflow.CodeRejected, "r")
		}
		e, err := kybflow.NewEvent(kybflow.DefaultSource, k, c.Key(), goldenTime, data)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := kybflow.EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(enc, want) {
			t.Errorf("%s: EncodeEvent does not echo the metadata byte for byte: %s", k, enc)
		}
		if err := validate(schemas(t).event, enc); err != nil {
			t.Errorf("%s: %v", k, err)
		}
		back, err := kybflow.DecodeEvent(enc)
		if err != nil {
			t.Fatal(err)
		}
		if got := metadataOf(t, back); string(got) != metadata {
			t.Errorf("%s: DecodeEvent: metadata %q", k, got)
		}
	}
	// A monitor command's metadata likewise.
	mc := goldenMonitorCommand(t)
	mc.Metadata = json.RawMessage(metadata)
	mb, err := kybflow.EncodeMonitorCommand(mc)
	if err != nil || !bytes.Contains(mb, want) {
		t.Errorf("EncodeMonitorCommand: %s, %v", mb, err)
	}
	parsed, err := kybflow.ParseMonitorCommand(mb)
	if err != nil || string(parsed.Metadata) != metadata {
		t.Errorf("ParseMonitorCommand: metadata %q, %v", parsed.Metadata, err)
	}
}

// eventTime matches a time an event may carry: UTC, at most milliseconds.
var eventTime = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,3})?Z$`)

// TestEventTimesMilliseconds: every time of every event is written with at
// most millisecond precision, in UTC, whether the event was made by
// NewEvent or by hand; DecodeEvent still reads nanoseconds.
func TestEventTimesMilliseconds(t *testing.T) {
	ns := time.Date(2026, 3, 2, 10, 30, 15, 123456789, time.FixedZone("CET", 3600))
	at := ns.Add(-time.Hour)
	run := &kybflow.MonitorRun{MonitorID: "m-1", At: at}
	c := goldenCommand
	c.Monitor = run
	completed := c.CompletedData(goldenSession, goldenArtifacts(t, c))
	completed.Artifacts[1].Signature.SignedAt = &at
	until := ns.Add(24 * time.Hour)
	monitor := goldenMonitorData()
	monitor.Until = &until
	events := []kybflow.Event{}
	for _, d := range []struct {
		kind kybflow.Kind
		data any
	}{
		{kybflow.KindAccepted, c.AcceptedData()},
		{kybflow.KindCompleted, completed},
		{kybflow.KindErased, kybflow.ErasedData{LookupID: c.LookupID, ErasedAt: ns}},
	} {
		e, err := kybflow.NewEvent(kybflow.DefaultSource, d.kind, c.LookupID, ns, d.data)
		if err != nil {
			t.Fatalf("%s: %v", d.kind, err)
		}
		events = append(events, e)
	}
	m, err := kybflow.NewMonitorEvent(kybflow.DefaultSource, goldenMonitorID, 2, ns, monitor)
	if err != nil {
		t.Fatal(err)
	}
	events = append(events, m)
	// By hand: NewEvent's, with the times put back.
	byHand := events[2]
	byHand.Time = ns
	byHand.Data = &kybflow.ErasedData{LookupID: c.LookupID, ErasedAt: ns}
	events = append(events, byHand)
	for _, e := range events {
		if !e.Time.Equal(e.Time.Truncate(kybflow.TimePrecision)) && e.Time != ns {
			t.Errorf("%s: NewEvent left time %v", e.ID, e.Time)
		}
		b, err := kybflow.EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		var times []string
		walkJSON(mustDecode(t, b), "", func(ptr, key string, val any) {
			if s, ok := val.(string); ok && (key == "time" || strings.HasSuffix(key, "At") || key == "until" || key == "at") {
				times = append(times, ptr)
				if !eventTime.MatchString(s) {
					t.Errorf("%s%s = %s: not UTC with at most milliseconds", e.ID, ptr, s)
				}
			}
		})
		if len(times) < 2 && e.Kind() != kybflow.KindMonitor || len(times) < 1 {
			t.Errorf("%s: times %v: the test missed some", e.ID, times)
		}
		if err := validate(schemas(t).event, b); err != nil {
			t.Errorf("%s: %v", e.ID, err)
		}
	}
	// Decoding stays tolerant: nanoseconds and offsets are read.
	b, _ := kybflow.EncodeEvent(events[2])
	b = bytes.Replace(b, []byte(`"time":"2026-03-02T09:30:15.123Z"`), []byte(`"time":"2026-03-02T10:30:15.123456789+01:00"`), 1)
	e, err := kybflow.DecodeEvent(b)
	if err != nil || !e.Time.Equal(ns) {
		t.Errorf("DecodeEvent of a time with nanoseconds: %v, %v", e.Time, err)
	}
	if validate(schemas(t).event, b) == nil {
		t.Error("the closed event schema accepts nanoseconds")
	}
	if err := validate(openSchemas(t).event, b); err != nil {
		t.Errorf("the open event schema refuses nanoseconds: %v", err)
	}
}

func mustDecode(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestReportSignature: NewEvent accepts a signature only on a report, with
// a known status and what that status allows, as the schema does.
func TestReportSignature(t *testing.T) {
	at := goldenTime
	long := strings.Repeat("x", kybflow.MaxSignerLength+1)
	tests := []struct {
		name string
		edit func(as []kybflow.Artifact)
		ok   bool
	}{
		{"valid", func([]kybflow.Artifact) {}, true},
		{"none", func(as []kybflow.Artifact) { as[1].Signature = nil }, true},
		{"invalid with a reason", func(as []kybflow.Artifact) {
			as[1].Signature = &kybflow.ReportSignature{Status: kybflow.SignatureInvalid, Signer: goldenSigner, Reason: "byte range digest mismatch"}
		}, true},
		{"unsigned", func(as []kybflow.Artifact) {
			as[1].Signature = &kybflow.ReportSignature{Status: kybflow.SignatureUnsigned, Reason: "no signature dictionary"}
		}, true},
		{"untrusted", func(as []kybflow.Artifact) {
			as[1].Signature = &kybflow.ReportSignature{Status: kybflow.SignatureUntrusted, Signer: goldenSigner, SignedAt: &at, Reason: "no trust store"}
		}, true},
		{"unknown status", func(as []kybflow.Artifact) { as[1].Signature.Status = "revoked" }, false},
		{"on the json", func(as []kybflow.Artifact) { as[0].Signature = as[1].Signature }, false},
		{"valid with a reason", func(as []kybflow.Artifact) { as[1].Signature.Reason = "why" }, false},
		{"valid without a signer", func(as []kybflow.Artifact) { as[1].Signature.Signer = "" }, false},
		{"unsigned with a signer", func(as []kybflow.Artifact) {
			as[1].Signature = &kybflow.ReportSignature{Status: kybflow.SignatureUnsigned, Signer: goldenSigner}
		}, false},
		{"signer too long", func(as []kybflow.Artifact) { as[1].Signature.Signer = long }, false},
	}
	for _, tt := range tests {
		c := goldenCommand
		as := goldenArtifacts(t, c)
		tt.edit(as)
		e, err := kybflow.NewEvent(kybflow.DefaultSource, kybflow.KindCompleted, c.LookupID, goldenTime, c.CompletedData(goldenSession, as))
		if (err == nil) != tt.ok {
			t.Errorf("%s: NewEvent error %v, want ok %t", tt.name, err, tt.ok)
		}
		// The schema agrees, on the event NewEvent would have made.
		e.SpecVersion, e.ID, e.Source, e.Type, e.Subject, e.Time = "1.0", c.LookupID+".completed", kybflow.DefaultSource, kybflow.KindCompleted.EventType(), c.LookupID, goldenTime
		e.DataContentType, e.DataSchema, e.Data = kybflow.ContentTypeJSON, kybflow.KindCompleted.DataSchema(), c.CompletedData(goldenSession, as)
		b, err := kybflow.EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate(schemas(t).event, b); (err == nil) != tt.ok {
			t.Errorf("%s: schema error %v, want ok %t", tt.name, err, tt.ok)
		}
	}
	if !kybflow.SignatureUntrusted.Known() || kybflow.SignatureStatus("revoked").Known() {
		t.Error("SignatureStatus.Known")
	}
	if kybflow.CodeReportSignatureInvalid.Retryable() || !kybflow.CodeReportSignatureInvalid.Known() {
		t.Error("report_signature_invalid: want known and not retryable")
	}
}

// TestOpenSchemasTolerateUnknownValues: what a later v1 may add (a failure
// code, an event type, a signature status, an action) passes the open
// schemas and fails the closed ones.
func TestOpenSchemasTolerateUnknownValues(t *testing.T) {
	golden := goldenEvents(t)
	encode := func(e kybflow.Event) map[string]any {
		b, err := kybflow.EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		return mustDecode(t, b).(map[string]any)
	}
	data := func(ev map[string]any) map[string]any { return ev["data"].(map[string]any) }
	failed := encode(golden[kybflow.KindFailed])
	data(failed)["code"] = "quota_exceeded"
	newKind := encode(golden[kybflow.KindAccepted])
	newKind["type"], newKind["id"], newKind["dataschema"] = "io.kybflow.aml.lookup.archived.v1", "onb-2026-000123.archived", kybflow.SchemaBaseURI+"archived.data.schema.json"
	completed := encode(golden[kybflow.KindCompleted])
	data(completed)["artifacts"].([]any)[1].(map[string]any)["signature"].(map[string]any)["status"] = "revoked"
	monitor := encode(golden[kybflow.KindMonitor])
	data(monitor)["action"], data(monitor)["status"] = "archive", "archived"
	country := encode(golden[kybflow.KindAccepted])
	data(country)["country"] = "DK"
	for name, ev := range map[string]map[string]any{
		"failure code": failed, "event type": newKind, "signature status": completed, "monitor action": monitor, "country": country,
	} {
		b := mustJSON(t, ev)
		if validate(schemas(t).event, b) == nil {
			t.Errorf("%s: the closed event schema accepts %s", name, b)
		}
		if err := validate(openSchemas(t).event, b); err != nil {
			t.Errorf("%s: the open event schema refuses it: %v", name, err)
		}
	}
	// dataschema is required, in both.
	noSchema := encode(golden[kybflow.KindAccepted])
	delete(noSchema, "dataschema")
	for _, set := range []*schemaSet{schemas(t), openSchemas(t)} {
		if validate(set.event, mustJSON(t, noSchema)) == nil {
			t.Error("an event schema accepts an event without dataschema")
		}
	}
}
