package kybflow_test

import (
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
		if !reflect.DeepEqual(again, e) {
			t.Fatalf("re-decode:\n got  %#v\n want %#v", again, e)
		}
		kind := e.Kind()
		if kind == "" {
			return
		}
		built, err := kybflow.NewEvent(e.Source, kind, e.Subject, e.Time, e.Data)
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
