package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/audit"
	"github.com/kybflow/kybflow/internal/testenv"
)

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// ensure makes the audit stream of the default prefix and an Auditor.
func ensure(t *testing.T, js jetstream.JetStream) (*audit.Auditor, jetstream.Stream) {
	t.Helper()
	st, err := audit.Ensure(ctx(t), js, "", audit.DefaultSettings())
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	a, err := audit.New(js, "")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a, st
}

var operator = audit.Actor{Subject: "sandbox-operator", Name: "Oda Operator", Role: "operator"}

func TestRecordAndList(t *testing.T) {
	js := testenv.JetStream(t)
	a, _ := ensure(t, js)
	at := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	var recorded []audit.Entry
	for i, e := range []audit.Entry{
		{Action: audit.ActionLogin, Detail: "operator"},
		{Action: audit.ActionViewDocument, LookupKey: "L1", Detail: "report.pdf"},
		{Action: audit.ActionViewDocument, LookupKey: "acme.L2", Detail: "result.json"},
		{Action: audit.ActionReplayDeadLetter, LookupKey: "L1", Detail: "7"},
		{Action: audit.ActionErase, LookupKey: "acme.L2", Reason: "the customer asked (GDPR art. 17)"},
		{Action: audit.ActionMonitorPause, Detail: "acme.m1"},
		{Action: audit.ActionViewDocument, LookupKey: "L1", Detail: "report.pdf"},
	} {
		e.ID, e.Actor, e.At = "entry-"+string(rune('a'+i)), operator, at.Add(time.Duration(i)*time.Second)
		if err := a.Record(ctx(t), e); err != nil {
			t.Fatalf("Record %d: %v", i, err)
		}
		recorded = append(recorded, e)
	}
	newest := func(es []audit.Entry, n int, keep func(audit.Entry) bool) []audit.Entry {
		var out []audit.Entry
		for i := len(es) - 1; i >= 0 && len(out) < n; i-- {
			if keep(es[i]) {
				out = append(out, es[i])
			}
		}
		return out
	}
	all := func(audit.Entry) bool { return true }
	of := func(key string) func(audit.Entry) bool { return func(e audit.Entry) bool { return e.LookupKey == key } }
	for _, tc := range []struct {
		name string
		f    audit.Filter
		want []audit.Entry
	}{
		{"all", audit.Filter{}, newest(recorded, 50, all)},
		{"newest 3", audit.Filter{Limit: 3}, newest(recorded, 3, all)},
		{"one lookup", audit.Filter{LookupKey: "L1"}, newest(recorded, 50, of("L1"))},
		{"a tenant's lookup, newest", audit.Filter{LookupKey: "acme.L2", Limit: 1}, newest(recorded, 1, of("acme.L2"))},
		{"a lookup without entries", audit.Filter{LookupKey: "L3"}, nil},
		{"a lookup named like a tenant", audit.Filter{LookupKey: "acme"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := a.List(ctx(t), tc.f)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("List(%+v):\n got %+v\nwant %+v", tc.f, got, tc.want)
			}
		})
	}
	if _, err := a.List(ctx(t), audit.Filter{LookupKey: "not a key"}); !errors.Is(err, audit.ErrInvalid) {
		t.Errorf("List of a bad key: %v, want ErrInvalid", err)
	}
}

func TestListOfAnEmptyAudit(t *testing.T) {
	a, _ := ensure(t, testenv.JetStream(t))
	if got, err := a.List(ctx(t), audit.Filter{}); err != nil || len(got) != 0 {
		t.Errorf("List = %v, %v; want nothing", got, err)
	}
}

func TestRecordDeduplicates(t *testing.T) {
	a, st := ensure(t, testenv.JetStream(t))
	e := audit.Entry{ID: "request-42", Actor: operator, Action: audit.ActionViewDocument, LookupKey: "L1", Detail: "report.pdf"}
	for range 2 {
		if err := a.Record(ctx(t), e); err != nil {
			t.Fatalf("Record: %v", err)
		}
	}
	info, err := st.Info(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("the stream holds %d messages, want 1", info.State.Msgs)
	}
	got, err := a.List(ctx(t), audit.Filter{})
	if err != nil || len(got) != 1 || got[0].ID != "request-42" || got[0].At.IsZero() {
		t.Errorf("List = %+v, %v; want the entry once, with its time", got, err)
	}
	// Without an ID, each Record is an entry of its own.
	e.ID = ""
	for range 2 {
		if err := a.Record(ctx(t), e); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := a.List(ctx(t), audit.Filter{}); len(got) != 3 || got[0].ID == got[1].ID {
		t.Errorf("List = %+v, want 3 entries with their own IDs", got)
	}
}

func TestRecordRefuses(t *testing.T) {
	js := testenv.JetStream(t)
	a, err := audit.New(js, "")
	if err != nil {
		t.Fatal(err)
	}
	// No stream: nothing acknowledges the entry, so the action must not
	// happen.
	c, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if err := a.Record(c, audit.Entry{Actor: operator, Action: audit.ActionViewDocument, LookupKey: "L1"}); err == nil {
		t.Error("Record without a stream succeeded")
	}
	a, _ = ensure(t, js)
	for name, e := range map[string]audit.Entry{
		"no actor":         {Action: audit.ActionViewDocument},
		"no action":        {Actor: operator},
		"bad action":       {Actor: operator, Action: "View Document"},
		"erase, no reason": {Actor: operator, Action: audit.ActionErase, LookupKey: "L1", Reason: "  "},
		"erase, no lookup": {Actor: operator, Action: audit.ActionErase, Reason: "asked"},
		"bad lookup key":   {Actor: operator, Action: audit.ActionViewDocument, LookupKey: "a.b.c"},
		"long reason":      {Actor: operator, Action: audit.ActionErase, LookupKey: "L1", Reason: strings.Repeat("x", audit.MaxReason+1)},
		"id with spaces":   {ID: "a b", Actor: operator, Action: audit.ActionLogin},
	} {
		if err := a.Record(ctx(t), e); !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestEntriesCannotBeRemoved(t *testing.T) {
	js := testenv.JetStream(t)
	a, st := ensure(t, js)
	if err := a.Record(ctx(t), audit.Entry{Actor: operator, Action: audit.ActionErase, LookupKey: "L1", Reason: "asked"}); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteMsg(ctx(t), 1); err == nil {
		t.Error("a message was deleted")
	}
	if err := st.SecureDeleteMsg(ctx(t), 1); err == nil {
		t.Error("a message was securely deleted")
	}
	if err := st.Purge(ctx(t)); err == nil {
		t.Error("the stream was purged")
	}
	cfg := st.CachedInfo().Config
	cfg.DenyDelete, cfg.DenyPurge = false, false
	if _, err := js.UpdateStream(ctx(t), cfg); err == nil {
		t.Error("DenyDelete and DenyPurge were turned off")
	}
	if got, _ := a.List(ctx(t), audit.Filter{}); len(got) != 1 {
		t.Errorf("List = %+v, want the entry", got)
	}
}

func TestEnsure(t *testing.T) {
	js := testenv.JetStream(t)
	_, st := ensure(t, js)
	c := st.CachedInfo().Config
	if c.Name != "AML_AUDIT" || !reflect.DeepEqual(c.Subjects, []string{"aml.audit.>"}) || !c.DenyDelete || !c.DenyPurge ||
		c.MaxAge != audit.DefaultMaxAge || c.Storage != jetstream.FileStorage {
		t.Errorf("stream %+v", c)
	}
	ensure(t, js) // again: nothing to change
	s := audit.DefaultSettings()
	s.MaxAge = 10 * 365 * 24 * time.Hour
	st, err := audit.Ensure(ctx(t), js, "", s)
	if err != nil || st.CachedInfo().Config.MaxAge != s.MaxAge {
		t.Errorf("Ensure with a longer retention: %v", err)
	}
	st, err = audit.Ensure(ctx(t), js, "acme.aml", audit.DefaultSettings())
	if err != nil || st.CachedInfo().Config.Name != "ACME_AML_AUDIT" || st.CachedInfo().Config.Subjects[0] != "acme.aml.audit.>" {
		t.Errorf("another prefix: %v", err)
	}
	if _, err := audit.Ensure(ctx(t), js, "", audit.Settings{MaxAge: time.Second, Replicas: 1}); err == nil {
		t.Error("Ensure accepted a max age shorter than the duplicate window")
	}
}

// TestConsoleUser records and lists as the console's NATS user of
// deploy/nats/kybflow-users.conf, and finds that it cannot remove or
// change what it recorded.
func TestConsoleUser(t *testing.T) {
	users := testenv.ShippedUsers(t, "../../deploy/nats/kybflow-users.conf")
	srv := testenv.NATSWithUsers(t, users...)
	nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("kybflow-console", "pw-CONSOLE"), nats.CustomInboxPrefix("_INBOX_kybflow_console"),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { t.Logf("NATS: %v", err) }))
	if err != nil {
		t.Fatalf("connect as kybflow-console: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	a, st := ensure(t, js) // creates it
	ensure(t, js)          // and finds it as it should be, with no right to update
	for _, key := range []string{"L1", "acme.L2", "L1"} {
		if err := a.Record(ctx(t), audit.Entry{Actor: operator, Action: audit.ActionViewDocument, LookupKey: key, Detail: "report.pdf"}); err != nil {
			t.Fatalf("Record: %v", err)
		}
	}
	if got, err := a.List(ctx(t), audit.Filter{}); err != nil || len(got) != 3 {
		t.Errorf("List all: %d, %v", len(got), err)
	}
	if got, err := a.List(ctx(t), audit.Filter{LookupKey: "L1", Limit: 1}); err != nil || len(got) != 1 {
		t.Errorf("List L1: %d, %v", len(got), err)
	}
	// A refused request gets no answer: it ends with its context.
	denied := func() context.Context {
		c, cancel := context.WithTimeout(t.Context(), time.Second)
		t.Cleanup(cancel)
		return c
	}
	if err := st.DeleteMsg(denied(), 1); err == nil {
		t.Error("the console deleted an entry")
	}
	if err := js.DeleteStream(denied(), "AML_AUDIT"); err == nil {
		t.Error("the console deleted the audit stream")
	}
	s := audit.DefaultSettings()
	s.MaxAge = time.Hour
	if _, err := audit.Ensure(denied(), js, "", s); !errors.Is(err, audit.ErrStreamDiffers) {
		t.Errorf("the console shortening the retention: %v, want ErrStreamDiffers", err)
	}
}

func FuzzEntry(f *testing.F) {
	for _, s := range []string{
		`{"id":"a","actor":{"subject":"s","name":"n","role":"operator"},"action":"erase","lookupKey":"acme.L1","reason":"asked","at":"2030-01-02T03:04:05Z"}`,
		`{"actor":{"subject":"s"},"action":"view_document","lookupKey":"L1","detail":"report.pdf"}`,
		`{}`, `[]`, `{"at":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e audit.Entry
		if json.Unmarshal(b, &e) != nil || e.Validate() != nil {
			return
		}
		again, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("marshal a valid entry: %v", err)
		}
		var back audit.Entry
		if err := json.Unmarshal(again, &back); err != nil || back.Validate() != nil {
			t.Fatalf("a valid entry does not read back: %v", err)
		}
	})
}
