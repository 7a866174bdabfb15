package kybflow_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
)

// monitorProblems is the fields ParseMonitorCommand's error names, in
// order, and fails the test when a problem is not a *CommandError.
func monitorProblems(t *testing.T, err error) []string {
	t.Helper()
	var out []string
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var ce *kybflow.CommandError
		if !errors.As(err, &ce) {
			t.Fatalf("problem %T %v is not a *CommandError", err, err)
		}
		if ce.Reason == "" {
			t.Errorf("problem of %q without a reason", ce.Field)
		}
		out = append(out, ce.Field)
	}
	if err != nil {
		walk(err)
	}
	return out
}

func TestParseMonitorCommandAccepts(t *testing.T) {
	set := schemas(t)
	for _, tc := range []struct {
		name, json string
		check      func(t *testing.T, c kybflow.MonitorCommand)
	}{
		{"create every", goldenMonitorCommandJSON, func(t *testing.T, c kybflow.MonitorCommand) {
			if c.Action != kybflow.MonitorCreate || c.MonitorID != goldenMonitorID || c.Schedule.Interval() != 168*time.Hour ||
				!c.Until.Equal(goldenUntil) || c.CorrelationID != "case-77" || string(c.Metadata) != `{ "customer": "c-991" }` {
				t.Errorf("parsed %+v", c)
			}
			if string(c.Lookup) != `{"type":"organization","identifier":"923 609 016","expands":["roles"]}` {
				t.Errorf("lookup %s, want it compact and as given", c.Lookup)
			}
		}},
		{"create cron in a time zone", `{"action": "create", "monitorId": "m-1", "lookup": {"type": "beneficial_owners", "identifier": "923609016"},
			"schedule": {"cron": "0 0 6 * * MON", "timeZone": "Europe/Oslo"}}`, func(t *testing.T, c kybflow.MonitorCommand) {
			if c.Schedule.Cron != "0 0 6 * * MON" || c.Schedule.TimeZone != "Europe/Oslo" || c.Schedule.Interval() != 0 || c.Until != nil {
				t.Errorf("schedule %+v, until %v", c.Schedule, c.Until)
			}
		}},
		{"update the schedule", `{"action": "update", "monitorId": "m-1", "schedule": {"every": "24h"}}`, nil},
		{"update the lookup", `{"action": "update", "monitorId": "m-1", "lookup": {"type": "organization", "country": "SE", "identifier": "556036-0793"}}`, nil},
		{"update until, in UTC", `{"action": "update", "monitorId": "m-1", "until": "2027-01-01T01:00:00+01:00"}`, func(t *testing.T, c kybflow.MonitorCommand) {
			if c.Until.Location() != time.UTC || !c.Until.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("until %v", c.Until)
			}
		}},
		{"update the correlationId", `{"action": "update", "monitorId": "m-1", "correlationId": "case-78"}`, nil},
		{"update the metadata", `{"action": "update", "monitorId": "m-1", "metadata": {"a": [1, 2]}}`, nil},
		{"pause", `{"action": "pause", "monitorId": "m-1"}`, nil},
		{"resume", `{"action": "resume", "monitorId": "m-1", "correlationId": "ops"}`, nil},
		{"delete, null as absent, unknown fields ignored", `{"action": "delete", "monitorId": "m-1", "lookup": null, "schedule": null,
			"until": null, "metadata": null, "futureField": {"x": 1}}`, func(t *testing.T, c kybflow.MonitorCommand) {
			if c.Lookup != nil || c.Schedule != nil || c.Until != nil || c.Metadata != nil {
				t.Errorf("null fields are set: %+v", c)
			}
		}},
		{"a tenant in the body is not read", `{"action": "pause", "monitorId": "m-1", "tenant": "acme"}`, func(t *testing.T, c kybflow.MonitorCommand) {
			if c.Tenant != "" || c.Key() != "m-1" {
				t.Errorf("tenant %q, key %q", c.Tenant, c.Key())
			}
		}},
		{"the longest monitorId", `{"action": "pause", "monitorId": "` + strings.Repeat("m", kybflow.MaxMonitorIDLength) + `"}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := kybflow.ParseMonitorCommand([]byte(tc.json))
			if err != nil {
				t.Fatalf("ParseMonitorCommand: %v", err)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
			if err := validate(set.monitorCommand, []byte(tc.json)); err != nil {
				t.Errorf("the code accepts it, the schema does not: %v", err)
			}
		})
	}
}

func TestParseMonitorCommandRejects(t *testing.T) {
	lookup := `"lookup": {"type": "organization", "identifier": "923609016"}`
	every := `"schedule": {"every": "24h"}`
	create := func(fields string) string {
		return `{"action": "create", "monitorId": "m-1", ` + fields + `}`
	}
	for _, tc := range []struct {
		name, json string
		fields     []string // named by the problems, in order
		code       kybflow.FailureCode
	}{
		{"no action", `{"monitorId": "m-1"}`, []string{"action"}, ""},
		{"unknown action", `{"action": "stop", "monitorId": "m-1"}`, []string{"action"}, ""},
		{"action not a string", `{"action": 1, "monitorId": "m-1"}`, []string{"action"}, ""},
		{"no monitorId", `{"action": "pause"}`, []string{"monitorId"}, ""},
		{"monitorId with a dot", `{"action": "pause", "monitorId": "a.b"}`, []string{"monitorId"}, ""},
		{"monitorId too long", `{"action": "pause", "monitorId": "` + strings.Repeat("m", 97) + `"}`, []string{"monitorId"}, ""},
		{"monitorId not a string", `{"action": "pause", "monitorId": ["m"]}`, []string{"monitorId"}, ""},
		{"correlationId too long", `{"action": "pause", "monitorId": "m-1", "correlationId": "` + strings.Repeat("c", 257) + `"}`, []string{"correlationId"}, ""},
		{"correlationId not a string", `{"action": "pause", "monitorId": "m-1", "correlationId": 7}`, []string{"correlationId"}, ""},
		{"metadata not an object", `{"action": "pause", "monitorId": "m-1", "metadata": "x"}`, []string{"metadata"}, ""},
		{"metadata too large", `{"action": "pause", "monitorId": "m-1", "metadata": {"x": "` + strings.Repeat("x", 16<<10) + `"}}`, []string{"metadata"}, ""},
		{"create without lookup", create(every), []string{"lookup"}, ""},
		{"create without schedule", create(lookup), []string{"schedule"}, ""},
		{"lookup not an object", create(every + `, "lookup": "923609016"`), []string{"lookup"}, ""},
		{"lookup with a lookupId", create(every + `, "lookup": {"lookupId": "x", "type": "organization", "identifier": "923609016"}`), []string{"lookup.lookupId"}, ""},
		{"lookup with a correlationId", create(every + `, "lookup": {"correlationId": "x", "type": "organization", "identifier": "923609016"}`), []string{"lookup.correlationId"}, ""},
		{"lookup with metadata", create(every + `, "lookup": {"metadata": {}, "type": "organization", "identifier": "923609016"}`), []string{"lookup.metadata"}, ""},
		{"lookup of an unknown type", create(every + `, "lookup": {"type": "person", "identifier": "923609016"}`), []string{"lookup.type"}, ""},
		{"lookup of a bad identifier", create(every + `, "lookup": {"type": "organization", "identifier": "923609017"}`), []string{"lookup.identifier"}, kybflow.CodeInvalidIdentifier},
		{"schedule not an object", create(lookup + `, "schedule": "daily"`), []string{"schedule"}, ""},
		{"schedule empty", create(lookup + `, "schedule": {}`), []string{"schedule"}, ""},
		{"schedule every and cron", create(lookup + `, "schedule": {"every": "24h", "cron": "0 0 6 * * *"}`), []string{"schedule"}, ""},
		{"every not a duration", create(lookup + `, "schedule": {"every": "daily"}`), []string{"schedule.every"}, ""},
		{"every under a second", create(lookup + `, "schedule": {"every": "500ms"}`), []string{"schedule.every"}, ""},
		{"every not whole seconds", create(lookup + `, "schedule": {"every": "1.5s"}`), []string{"schedule.every"}, ""},
		{"every not a string", create(lookup + `, "schedule": {"every": 86400}`), []string{"schedule.every"}, ""},
		{"every with a time zone", create(lookup + `, "schedule": {"every": "24h", "timeZone": "Europe/Oslo"}`), []string{"schedule.timeZone"}, ""},
		{"cron of 5 fields", create(lookup + `, "schedule": {"cron": "0 6 * * MON"}`), []string{"schedule.cron"}, ""},
		{"cron with a bad character", create(lookup + `, "schedule": {"cron": "0 0 6 * * mon"}`), []string{"schedule.cron"}, ""},
		{"cron in an unknown zone", create(lookup + `, "schedule": {"cron": "0 0 6 * * *", "timeZone": "Mars/Olympus"}`), []string{"schedule.timeZone"}, ""},
		{"cron in Local", create(lookup + `, "schedule": {"cron": "0 0 6 * * *", "timeZone": "Local"}`), []string{"schedule.timeZone"}, ""},
		{"until not a time", create(lookup + `, ` + every + `, "until": "next year"`), []string{"until"}, ""},
		{"until with a comma", create(lookup + `, ` + every + `, "until": "2027-01-01T00:00:00,5Z"`), []string{"until"}, ""},
		{"until not a string", create(lookup + `, ` + every + `, "until": 1798761600`), []string{"until"}, ""},
		{"update of nothing", `{"action": "update", "monitorId": "m-1"}`, []string{"action"}, ""},
		{"pause with a schedule", `{"action": "pause", "monitorId": "m-1", ` + every + `}`, []string{"action"}, ""},
		{"delete with until", `{"action": "delete", "monitorId": "m-1", "until": "2027-01-01T00:00:00Z"}`, []string{"action"}, ""},
		{"several problems at once", `{"action": "create", "monitorId": "a.b", "correlationId": 7, "schedule": {"every": "1ms", "timeZone": 3},
			"until": "soon"}`, []string{"correlationId", "schedule.timeZone", "until", "monitorId", "lookup", "schedule.every"}, ""},
		{"a field of the wrong type is not reported twice", `{"action": "create", "monitorId": 5, "lookup": [], "schedule": []}`,
			[]string{"monitorId", "lookup", "schedule"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := kybflow.ParseMonitorCommand([]byte(tc.json))
			if err == nil {
				t.Fatal("no error")
			}
			if got := monitorProblems(t, err); !slices.Equal(got, tc.fields) {
				t.Errorf("fields %q, want %q: %v", got, tc.fields, err)
			}
			var ce *kybflow.CommandError
			errors.As(err, &ce)
			if want := cmp(tc.code, kybflow.CodeInvalidCommand); ce.Code != want {
				t.Errorf("code %s, want %s", ce.Code, want)
			}
			if tc.code == kybflow.CodeInvalidIdentifier && !errors.Is(err, identifierErrInvalid) {
				t.Errorf("%v does not wrap identifier.ErrInvalid", err)
			}
			// What the rejection may echo is valid or empty.
			if c.MonitorID != "" && !kybflow.ValidMonitorID(c.MonitorID) {
				t.Errorf("returned the invalid monitorId %q", c.MonitorID)
			}
			if len(c.CorrelationID) > kybflow.MaxCorrelationIDLength {
				t.Error("returned the invalid correlationId")
			}
			if c.Action != "" && c.Action != kybflow.MonitorCreate && c.Action != kybflow.MonitorUpdate && c.Action != kybflow.MonitorPause &&
				c.Action != kybflow.MonitorResume && c.Action != kybflow.MonitorDelete {
				t.Errorf("returned the unknown action %q", c.Action)
			}
		})
	}
}

func cmp[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// TestParseMonitorCommandWhole: what is not a command at all has one
// problem and no field, and nothing to echo.
func TestParseMonitorCommandWhole(t *testing.T) {
	for name, data := range map[string][]byte{
		"not JSON":      []byte(`{"action": "pause",`),
		"not an object": []byte(`["pause"]`),
		"null":          []byte(`null`),
		"not UTF-8":     []byte("{\"action\": \"pause\", \"monitorId\": \"m\xff\"}"),
		"too large":     []byte(`{"action": "pause", "monitorId": "m-1", "x": "` + strings.Repeat("x", kybflow.MaxCommandSize) + `"}`),
	} {
		c, err := kybflow.ParseMonitorCommand(data)
		if got := monitorProblems(t, err); !slices.Equal(got, []string{""}) {
			t.Errorf("%s: fields %q, want one problem of the whole command: %v", name, got, err)
		}
		if c.MonitorID != "" {
			t.Errorf("%s: monitorId %q", name, c.MonitorID)
		}
	}
	// A command of the wrong shape keeps what the rejection echoes.
	c, err := kybflow.ParseMonitorCommand([]byte(`{"action": "create", "monitorId": "m-1", "correlationId": "case-77", "metadata": {"a": 1}}`))
	if err == nil || c.MonitorID != "m-1" || c.CorrelationID != "case-77" || string(c.Metadata) != `{"a": 1}` {
		t.Errorf("rejected create returned %+v, %v", c, err)
	}
}
