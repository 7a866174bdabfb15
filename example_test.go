package kybflow_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/kybflow/kybflow"
)

func ExampleParseCommand() {
	c, err := kybflow.ParseCommand([]byte(`{
		"lookupId": "onb-42",
		"type": "organization",
		"country": "SE",
		"identifier": "556036-0793",
		"reports": ["aml"],
		"metadata": {"customer": "c-991"}
	}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(c.LookupID, c.Type, c.Country, c.IdentifierType, c.Identifier, c.Reports, string(c.Metadata))

	// A mistyped check digit: the worker publishes a failed event for the
	// lookupId, since it could be read.
	_, err = kybflow.ParseCommand([]byte(`{"lookupId": "onb-43", "type": "organization", "identifier": "923609017"}`))
	var ce *kybflow.CommandError
	if errors.As(err, &ce) {
		fmt.Println(ce.Code, ce.LookupID, ce.Reason)
	}
	// Output:
	// onb-42 organization SE organization_number 5560360793 [aml] {"customer": "c-991"}
	// invalid_identifier onb-43 invalid Norwegian organization number "923609017": check digit is 7, want 6
}

func ExampleNewEvent() {
	c, err := kybflow.ParseCommand([]byte(`{"lookupId": "onb-42", "type": "organization", "identifier": "923609016"}`))
	if err != nil {
		panic(err)
	}
	var keys kybflow.ObjectKeys
	key, err := keys.Key(c.LookupID, kybflow.ArtifactJSON)
	if err != nil {
		panic(err)
	}
	data := c.CompletedData("6f1c1a4e-8a52-4c55-9d1e-2b7f3c9a0d11", []kybflow.Artifact{{
		Name: kybflow.ArtifactJSON, Bucket: "kybflow-results", Key: key, Size: 5120,
		SHA256:      "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		ContentType: kybflow.ArtifactContentType(kybflow.ArtifactJSON),
	}})
	at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	e, err := kybflow.NewEvent(kybflow.DefaultSource, kybflow.KindCompleted, c.LookupID, at, data)
	if err != nil {
		panic(err)
	}
	var subjects kybflow.Subjects
	b, err := kybflow.EncodeEvent(e)
	if err != nil {
		panic(err)
	}
	fmt.Println("subject:", subjects.Event(c.LookupID, kybflow.KindCompleted))
	fmt.Println("Nats-Msg-Id:", e.ID)
	fmt.Println(string(b))
	// Output:
	// subject: aml.events.onb-42.completed
	// Nats-Msg-Id: onb-42.completed
	// {"specversion":"1.0","id":"onb-42.completed","source":"urn:kybflow:worker","type":"io.kybflow.aml.lookup.completed.v1","subject":"onb-42","time":"2026-03-02T09:30:00Z","datacontenttype":"application/json","dataschema":"https://raw.githubusercontent.com/kybflow/kybflow/main/docs/schemas/completed.data.schema.json","data":{"lookupId":"onb-42","sessionId":"6f1c1a4e-8a52-4c55-9d1e-2b7f3c9a0d11","type":"organization","country":"NO","identifierType":"organization_number","identifier":"923609016","artifacts":[{"name":"json","bucket":"kybflow-results","key":"lookups/onb-42/json.json","size":5120,"sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","contentType":"application/json"}]}}
}

// A worker reads a monitor command, and answers a malformed one with every
// problem at once, each naming its field.
func ExampleParseMonitorCommand() {
	_, err := kybflow.ParseMonitorCommand([]byte(`{"action": "create", "monitorId": "kyc-1",
		"lookup": {"type": "organization", "identifier": "923609016"}, "schedule": {"every": "500ms"}, "until": "soon"}`))
	var ce *kybflow.CommandError
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		if errors.As(e, &ce) {
			fmt.Printf("%s: %s\n", ce.Field, ce.Reason)
		}
	}
	c, err := kybflow.ParseMonitorCommand([]byte(`{"action": "create", "monitorId": "kyc-1",
		"lookup": {"type": "organization", "identifier": "923 609 016"}, "schedule": {"cron": "0 0 6 * * MON", "timeZone": "Europe/Oslo"}}`))
	if err != nil {
		panic(err)
	}
	d, _ := c.Definition(kybflow.MonitorDefinition{})
	fmt.Println(d.Lookup.Identifier, d.Schedule.Cron, d.Schedule.TimeZone)
	fmt.Println(kybflow.RunLookupID(c.MonitorID, time.Date(2026, 3, 9, 5, 0, 0, 0, time.UTC)))
	// Output:
	// until: until must be an RFC 3339 time such as 2027-01-01T00:00:00Z
	// schedule.every: schedule.every "500ms" must be whole seconds, at least 1s
	// 923609016 0 0 6 * * MON Europe/Oslo
	// kyc-1-r1773032400
}
