package kybflow_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/kybflow/kybflow"
)

// FuzzParseCommand: ParseCommand never panics; its errors are
// *CommandError with a known code; the lookupId it reports is LookupIDOf's;
// whatever parses re-encodes and re-parses to the same value, validates
// against the schema, and makes events that validate too.
func FuzzParseCommand(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "commands", "*.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"lookupId":"f","type":"organization","country":"SE","identifier":"16 556036-0793","metadata":{"<":"\u2028"}}`))
	f.Add([]byte(`{"lookupId":"f","lookupId":{"x":1},"type":"organization","identifier":"923609016"}`))
	set := schemas(f)

	f.Fuzz(func(t *testing.T, data []byte) {
		id, idOK := kybflow.LookupIDOf(data)
		c, err := kybflow.ParseCommand(data)
		if err != nil {
			var ce *kybflow.CommandError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v is not a *CommandError", err, err)
			}
			switch ce.Code {
			case kybflow.CodeInvalidCommand:
			case kybflow.CodeInvalidIdentifier:
				if ce.Field != "identifier" {
					t.Fatalf("invalid_identifier for field %q", ce.Field)
				}
			default:
				t.Fatalf("unknown code %q", ce.Code)
			}
			if ce.Reason == "" {
				t.Fatal("no reason")
			}
			if ce.LookupID != id || (ce.LookupID != "") != idOK {
				t.Fatalf("error lookupId %q, LookupIDOf %q %v", ce.LookupID, id, idOK)
			}
			if fd, ok := ce.FailedData(); ok {
				if _, err := kybflow.NewEvent(kybflow.DefaultSource, kybflow.KindFailed, ce.LookupID, goldenTime, fd); err != nil {
					t.Fatalf("failed event of %v: %v", ce, err)
				}
			}
			return
		}
		if !idOK || id != c.LookupID {
			t.Fatalf("LookupIDOf = %q %v, parsed %q", id, idOK, c.LookupID)
		}
		enc, err := kybflow.EncodeCommand(c)
		if err != nil {
			t.Fatalf("EncodeCommand(%+v): %v", c, err)
		}
		again, err := kybflow.ParseCommand(enc)
		if err != nil {
			t.Fatalf("re-parse %s: %v", enc, err)
		}
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("re-parse:\n got  %#v\n want %#v", again, c)
		}
		if err := validate(set.command, data); err != nil {
			t.Fatalf("the code accepts %s, the schema does not: %v", data, err)
		}
		if err := validate(set.command, enc); err != nil {
			t.Fatalf("schema rejects the encoding %s: %v", enc, err)
		}
		for _, e := range eventsOf(t, c) {
			b, err := kybflow.EncodeEvent(e)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate(set.event, b); err != nil {
				t.Fatalf("event schema rejects %s: %v", b, err)
			}
		}
	})
}

// FuzzDecodeEvent: DecodeEvent never panics, its errors wrap
// ErrInvalidEvent, and whatever decodes re-encodes and re-decodes to the
// same value. A decoded lookup event that NewEvent accepts validates
// against the schema.
func FuzzDecodeEvent(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"/x","type":"com.example","time":"0000-01-01T00:30:00+01:00","data":[1, 2]}`))
	f.Add([]byte(`{"specversion":"1.0","id":"a.failed","source":"urn:x","type":"io.kybflow.aml.lookup.failed.v1","subject":"a","data":{"lookupId":"a","code":"expired","reason":"r","retryable":true,"metadata":null}}`))
	set := schemas(f)

	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := kybflow.DecodeEvent(data)
		if err != nil {
			if !errors.Is(err, kybflow.ErrInvalidEvent) {
				t.Fatalf("error %v does not wrap ErrInvalidEvent", err)
			}
			return
		}
		enc, err := kybflow.EncodeEvent(e)
		if err != nil {
			t.Fatalf("EncodeEvent(%+v): %v", e, err)
		}
		again, err := kybflow.DecodeEvent(enc)
		if err != nil {
			t.Fatalf("re-decode %s: %v", enc, err)
		}
		// The encoding cuts times to milliseconds (an event may carry
		// more); the rest, metadata byte for byte, comes back as it was.
		want := e
		if !want.Time.IsZero() {
			want.Time = want.Time.Truncate(kybflow.TimePrecision)
		}
		if again.Time != want.Time {
			t.Fatalf("re-decode: time %v, want %v", again.Time, want.Time)
		}
		want.Time, want.Data = again.Time, again.Data
		if !reflect.DeepEqual(again, want) {
			t.Fatalf("re-decode:\n got  %#v\n want %#v", again, want)
		}
		if enc2, err := kybflow.EncodeEvent(again); err != nil || !bytes.Equal(enc2, enc) {
			t.Fatalf("re-encode: %v\n got  %s\n want %s", err, enc2, enc)
		}
		if m := metadataOf(t, e); m != nil && !bytes.Contains(enc, append([]byte(`"metadata":`), m...)) {
			t.Fatalf("metadata %s not echoed byte for byte in %s", m, enc)
		}
		kind := e.Kind()
		if kind == "" {
			return
		}
		built, err := kybflow.NewEvent(e.Source, kind, e.Subject, e.Time, e.Data)
		if d, ok := e.Monitor(); ok {
			built, err = kybflow.NewMonitorEvent(e.Source, e.Subject, 1, e.Time, d)
		}
		if err != nil {
			return // DecodeEvent is tolerant, NewEvent strict
		}
		b, err := kybflow.EncodeEvent(built)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate(set.event, b); err != nil {
			t.Fatalf("NewEvent accepts, the schema rejects %s: %v", b, err)
		}
	})
}

// FuzzParseMonitorCommand: ParseMonitorCommand never panics; each of its
// problems is a *CommandError with a known code and a reason; what a
// rejection may echo is valid or empty; whatever parses re-encodes and
// re-parses to the same value, validates against the schema, and defines a
// monitor whose runs are valid lookup commands.
func FuzzParseMonitorCommand(f *testing.F) {
	f.Add([]byte(goldenMonitorCommandJSON))
	f.Add([]byte(`{"action":"create","monitorId":"m","lookup":{"type":"beneficial_owners","identifier":"923609016","expands":["ssn"]},"schedule":{"cron":"0 0 6 * * MON","timeZone":"Europe/Oslo"}}`))
	f.Add([]byte(`{"action":"update","monitorId":"m","until":"2027-01-01T00:00:00.5+01:00","metadata":{"<":"\u2028"}}`))
	f.Add([]byte(`{"action":"pause","monitorId":"m","correlationId":null,"schedule":{"every":7}}`))
	f.Add([]byte(`{"action":"create","monitorId":"a.b","lookup":{"lookupId":"x"},"schedule":{"every":"1h","cron":"* * * * * *"}}`))
	f.Add([]byte(`{"action":"delete","monitorId":"m","monitorId":{"x":1}}`))
	set := schemas(f)

	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := kybflow.ParseMonitorCommand(data)
		if c.MonitorID != "" && !kybflow.ValidMonitorID(c.MonitorID) {
			t.Fatalf("monitorId %q returned", c.MonitorID)
		}
		if err != nil && c.MonitorID != "" {
			// The worker's answer to it must be a valid event.
			c.Tenant = "acme"
			d := kybflow.MonitorData{MonitorID: c.MonitorID, Tenant: c.Tenant, CorrelationID: c.CorrelationID, Metadata: c.Metadata,
				Action: c.Action, Code: kybflow.CodeInvalidCommand, Reason: err.Error()}
			if _, nerr := kybflow.NewMonitorEvent(kybflow.DefaultSource, c.Key(), 2, goldenTime, d); nerr != nil {
				t.Fatalf("the rejection of %s cannot be published: %v", data, nerr)
			}
		}
		if err != nil {
			for _, e := range flattenErrors(err) {
				var ce *kybflow.CommandError
				if !errors.As(e, &ce) {
					t.Fatalf("problem %T %v is not a *CommandError", e, e)
				}
				switch {
				case ce.Reason == "":
					t.Fatalf("no reason for %q", ce.Field)
				case ce.Code == kybflow.CodeInvalidIdentifier && ce.Field != "lookup.identifier":
					t.Fatalf("invalid_identifier for field %q", ce.Field)
				case ce.Code != kybflow.CodeInvalidCommand && ce.Code != kybflow.CodeInvalidIdentifier:
					t.Fatalf("unknown code %q", ce.Code)
				}
			}
			return
		}
		if id, ok := kybflow.MonitorIDOf(data); !ok || id != c.MonitorID {
			t.Fatalf("MonitorIDOf = %q %v, parsed %q", id, ok, c.MonitorID)
		}
		enc, err := kybflow.EncodeMonitorCommand(c)
		if err != nil {
			t.Fatalf("EncodeMonitorCommand(%+v): %v", c, err)
		}
		again, err := kybflow.ParseMonitorCommand(enc)
		if err != nil {
			t.Fatalf("re-parse %s: %v", enc, err)
		}
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("re-parse:\n got  %#v\n want %#v", again, c)
		}
		if err := validate(set.monitorCommand, data); err != nil {
			t.Fatalf("the code accepts %s, the schema does not: %v", data, err)
		}
		if c.Action != kybflow.MonitorCreate {
			return
		}
		d, err := c.Definition(kybflow.MonitorDefinition{})
		if err != nil {
			t.Fatalf("Definition of a valid create: %v", err)
		}
		run := d.Lookup
		run.LookupID = kybflow.RunLookupID(c.MonitorID, goldenRunAt)
		if _, err := kybflow.EncodeCommand(run); err != nil {
			t.Fatalf("a run of %s is not a valid command: %v", data, err)
		}
	})
}

// flattenErrors is the errors joined in err, or err alone.
func flattenErrors(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, flattenErrors(e)...)
	}
	return out
}

// metadataOf is the metadata of a decoded event's data, or nil.
func metadataOf(t *testing.T, e kybflow.Event) json.RawMessage {
	t.Helper()
	switch d := e.Data.(type) {
	case kybflow.AcceptedData:
		return d.Metadata
	case kybflow.SessionOpenedData:
		return d.Metadata
	case kybflow.CompletedData:
		return d.Metadata
	case kybflow.FailedData:
		return d.Metadata
	case kybflow.ChangedData:
		return d.Metadata
	case kybflow.MonitorData:
		return d.Metadata
	}
	return nil
}

// FuzzMetadataEcho: whatever metadata a command may carry is echoed byte
// for byte (only the whitespace around it dropped) by ParseCommand, by
// the events made of it, through EncodeEvent and DecodeEvent, and by
// EncodeCommand; the limits hold on the bytes as sent.
func FuzzMetadataEcho(f *testing.F) {
	for _, m := range []string{`{}`, `{"a":1}`, " { \"b\" : \"<&>\",\n\t\"a\": [1, 2.50, 1e3] } ", `{"u":"\u00e9\u2028\/","é":"\"x\""}`,
		`{"n":{"m":{"metadata":{"x":null}}}}`, `[1]`, `"s"`, `{"a":}`, `null`} {
		f.Add([]byte(m))
	}
	f.Fuzz(func(t *testing.T, metadata []byte) {
		cmd := []byte(`{"lookupId":"m-1","type":"organization","identifier":"923609016","metadata":`)
		cmd = append(append(cmd, metadata...), '}')
		c, err := kybflow.ParseCommand(cmd)
		if err != nil {
			return // not an object, too large, or it broke the command
		}
		want := bytes.Trim(metadata, " \t\r\n")
		if string(bytes.TrimSpace(metadata)) == "null" {
			want = nil
		}
		if !bytes.Equal(c.Metadata, want) {
			t.Fatalf("ParseCommand: metadata %q, want %q", c.Metadata, want)
		}
		if len(c.Metadata) > kybflow.MaxMetadataSize {
			t.Fatalf("metadata of %d bytes accepted", len(c.Metadata))
		}
		if b, err := kybflow.EncodeCommand(c); err != nil || want != nil && !bytes.Contains(b, append([]byte(`"metadata":`), want...)) {
			t.Fatalf("EncodeCommand: %s, %v", b, err)
		}
		e, err := kybflow.NewEvent(kybflow.DefaultSource, kybflow.KindAccepted, c.Key(), goldenTime, c.AcceptedData())
		if err != nil {
			t.Fatal(err)
		}
		enc, err := kybflow.EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		if want != nil && !bytes.Contains(enc, append([]byte(`"metadata":`), want...)) {
			t.Fatalf("EncodeEvent: metadata %q not in %s", want, enc)
		}
		back, err := kybflow.DecodeEvent(enc)
		if err != nil {
			t.Fatal(err)
		}
		if got := back.Data.(kybflow.AcceptedData).Metadata; !bytes.Equal(got, want) {
			t.Fatalf("DecodeEvent: metadata %q, want %q", got, want)
		}
	})
}
