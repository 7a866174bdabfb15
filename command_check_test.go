package kybflow_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kybflow/kybflow"
)

// TestValidateReportsEveryProblem: Validate names every field that is
// wrong at once, each with ParseCommand's reason; a command ParseCommand
// accepts (every ok- fixture) validates.
func TestValidateReportsEveryProblem(t *testing.T) {
	for _, data := range commandFiles(t, "ok-") {
		c, err := kybflow.ParseCommand(data)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%s): %v", data, err)
		}
	}
	bad := kybflow.LookupCommand{LookupID: "bad id", Type: kybflow.TypeBeneficialOwners, Country: kybflow.CountrySE,
		Identifier: "123", Expands: []string{"nope"}, Reports: []kybflow.ReportType{"nope"}, Language: "xx", Tenant: "a.b"}
	err := bad.Validate()
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *kybflow.CommandError
		if !errors.As(e, &ce) {
			t.Fatalf("%T is not a *CommandError", e)
		}
		fields = append(fields, ce.Field)
	}
	if got := strings.Join(fields, ","); got != "lookupId,tenant,country,identifier,expands,reports,language" {
		t.Fatalf("Validate named %s:\n%v", got, err)
	}
	// Each reason is ParseCommand's for that field alone.
	c := kybflow.LookupCommand{LookupID: "x", Type: kybflow.TypeOrganization, Identifier: "923609016", Language: "xx"}
	_, perr := kybflow.ParseCommand([]byte(`{"lookupId":"x","type":"organization","identifier":"923609016","language":"xx"}`))
	if verr := c.Validate(); verr == nil || verr.Error() != perr.Error() {
		t.Fatalf("Validate %v, ParseCommand %v: want the same reason", verr, perr)
	}
}
