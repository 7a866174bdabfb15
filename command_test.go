package kybflow_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/identifier"
	"github.com/kybflow/kybflow/internal/amlapi"
)

var identifierErrInvalid = identifier.ErrInvalid

func assertEqual[T any](t testing.TB, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// parseError parses data and returns its *CommandError, failing the test
// when it parses.
func parseError(t *testing.T, data string) *kybflow.CommandError {
	t.Helper()
	c, err := kybflow.ParseCommand([]byte(data))
	var ce *kybflow.CommandError
	if !errors.As(err, &ce) {
		t.Fatalf("ParseCommand = %+v, %v; want a *CommandError", c, err)
	}
	return ce
}

func TestParseCommandNormalises(t *testing.T) {
	c, err := kybflow.ParseCommand([]byte(`{"lookupId": "n-1", "type": "organization", "country": "FI",
		"identifier": " 2077474 0 ", "expands": ["roles", "address", "roles"], "reports": ["aml", "aml"],
		"metadata": { "a" : [1, 2], "b": "<&>" }, "extra": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, c, kybflow.LookupCommand{
		LookupID:       "n-1",
		Type:           kybflow.TypeOrganization,
		Country:        kybflow.CountryFI,
		IdentifierType: kybflow.IdentifierOrganizationNumber,
		Identifier:     "2077474-0",
		Expands:        []string{"roles", "address"},
		Reports:        []kybflow.ReportType{kybflow.ReportAML},
		Metadata:       json.RawMessage(`{ "a" : [1, 2], "b": "<&>" }`), // byte for byte
	})

	// Beneficial owners default to NO, like organizations.
	c, err = kybflow.ParseCommand([]byte(`{"lookupId": "n-2", "type": "beneficial_owners", "identifier": "923609016"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Country != kybflow.CountryNO || c.IdentifierType != kybflow.IdentifierOrganizationNumber {
		t.Errorf("defaults: country %q, identifierType %q", c.Country, c.IdentifierType)
	}
}

// The guide's expand names are accepted: keyInformation.lei for an
// organization, identificationNumber (beside ssn) for beneficial owners.
func TestParseCommandTakesTheGuidesExpands(t *testing.T) {
	for _, cmd := range []string{
		`{"lookupId": "g-1", "type": "organization", "identifier": "923609016", "expands": ["keyInformation.lei", "roles"]}`,
		`{"lookupId": "g-2", "type": "beneficial_owners", "identifier": "923609016", "expands": ["identificationNumber", "ssn"]}`,
	} {
		if _, err := kybflow.ParseCommand([]byte(cmd)); err != nil {
			t.Errorf("%s: %v", cmd, err)
		}
	}
}

func TestParseCommandNeverGuessesDUNS(t *testing.T) {
	// 150483782 is a DUNS number and not a valid Norwegian organization
	// number; it is only accepted as what the caller says it is.
	ce := parseError(t, `{"lookupId": "g-1", "type": "organization", "identifier": "150483782"}`)
	if ce.Code != kybflow.CodeInvalidIdentifier || !strings.Contains(ce.Reason, "Norwegian organization number") {
		t.Errorf("error = %+v", ce)
	}
	c, err := kybflow.ParseCommand([]byte(`{"lookupId": "g-1", "type": "organization", "identifierType": "duns", "identifier": "150483782"}`))
	if err != nil || c.Identifier != "150483782" {
		t.Errorf("ParseCommand = %+v, %v", c, err)
	}
	// A valid Norwegian organization number stays one: no DUNS lookup.
	c, err = kybflow.ParseCommand([]byte(`{"lookupId": "g-2", "type": "organization", "identifier": "923609016"}`))
	if err != nil || c.IdentifierType != kybflow.IdentifierOrganizationNumber {
		t.Errorf("ParseCommand = %+v, %v", c, err)
	}
}

func TestParseCommandLimits(t *testing.T) {
	pad := func(n int) string { return strings.Repeat("x", n) }
	base := `"lookupId": "lim-1", "type": "organization", "identifier": "923609016"`
	tests := []struct {
		name      string
		data      string
		code      kybflow.FailureCode
		field     string
		reason    string
		lookupID  string
		wantParse bool
	}{
		{"command at limit", fmt.Sprintf(`{%s, "pad": "%s"}`, base, pad(kybflow.MaxCommandSize-len(base)-13)), "", "", "", "", true},
		{"command over limit", fmt.Sprintf(`{%s, "pad": "%s"}`, base, pad(kybflow.MaxCommandSize)), kybflow.CodeInvalidCommand, "", "the limit is 65536", "lim-1", false},
		{"metadata at limit", fmt.Sprintf(`{%s, "metadata": {"a":"%s"}}`, base, pad(kybflow.MaxMetadataSize-8)), "", "", "", "", true},
		{"metadata over limit", fmt.Sprintf(`{%s, "metadata": {"a":"%s"}}`, base, pad(kybflow.MaxMetadataSize-7)), kybflow.CodeInvalidCommand, "metadata", "the limit is 16384", "lim-1", false},
		{"metadata whitespace counts", fmt.Sprintf(`{%s, "metadata": {"a":   "%s"  }}`, base, pad(kybflow.MaxMetadataSize-8)), kybflow.CodeInvalidCommand, "metadata", "the limit is 16384", "lim-1", false},
		{"metadata space around it does not count", fmt.Sprintf(`{%s, "metadata":   {"a":"%s"}   }`, base, pad(kybflow.MaxMetadataSize-8)), "", "", "", "", true},
		{"correlationId at limit", fmt.Sprintf(`{%s, "correlationId": "%s"}`, base, strings.Repeat("ø", 256)), "", "", "", "", true},
		{"correlationId over limit", fmt.Sprintf(`{%s, "correlationId": "%s"}`, base, pad(257)), kybflow.CodeInvalidCommand, "correlationId", "257 characters", "lim-1", false},
		{"lookupId at limit", `{"lookupId": "` + pad(128) + `", "type": "organization", "identifier": "923609016"}`, "", "", "", "", true},
		{"lookupId over limit", `{"lookupId": "` + pad(129) + `", "type": "organization", "identifier": "923609016"}`, kybflow.CodeInvalidCommand, "lookupId", "must match", "", false},
		{"identifier over limit", `{"lookupId": "lim-2", "type": "organization", "identifier": "` + strings.Repeat(" ", 60) + `923609016"}`, kybflow.CodeInvalidIdentifier, "identifier", "69 characters; the limit is 64", "lim-2", false},
		{"not UTF-8", "{\"lookupId\": \"lim-3\", \"type\": \"organization\", \"identifier\": \"923609016\", \"x\": \"\xff\"}", kybflow.CodeInvalidCommand, "", "not valid UTF-8", "lim-3", false},
		{"trailing data", `{` + base + `} {}`, kybflow.CodeInvalidCommand, "", "not valid JSON", "lim-1", false},
		{"null", `null`, kybflow.CodeInvalidCommand, "", "not a JSON object", "", false},
		{"empty", ``, kybflow.CodeInvalidCommand, "", "not valid JSON", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := kybflow.ParseCommand([]byte(tt.data))
			if tt.wantParse {
				if err != nil {
					t.Fatalf("ParseCommand: %v", err)
				}
				if c.LookupID == "" {
					t.Fatal("no lookupId")
				}
				return
			}
			var ce *kybflow.CommandError
			if !errors.As(err, &ce) {
				t.Fatalf("ParseCommand error = %v, want a *CommandError", err)
			}
			if ce.Code != tt.code || ce.Field != tt.field || !strings.Contains(ce.Reason, tt.reason) || ce.LookupID != tt.lookupID {
				t.Errorf("error = %+v, want code %s, field %q, reason containing %q, lookupId %q", ce, tt.code, tt.field, tt.reason, tt.lookupID)
			}
		})
	}
}

func TestCommandErrorEchoesWhatItCanRead(t *testing.T) {
	ce := parseError(t, `{"lookupId": "echo-1", "correlationId": "c-1", "metadata": {"k": "v"}, "type": "org"}`)
	assertEqual(t, *ce, kybflow.CommandError{
		Code: kybflow.CodeInvalidCommand, Field: "type",
		Reason:   `type "org" is unknown; want organization or beneficial_owners`,
		LookupID: "echo-1", CorrelationID: "c-1", Metadata: json.RawMessage(`{"k": "v"}`),
	})
	fd, ok := ce.FailedData()
	if !ok {
		t.Fatal("FailedData: false")
	}
	assertEqual(t, fd, kybflow.FailedData{
		LookupID: "echo-1", CorrelationID: "c-1", Metadata: json.RawMessage(`{"k": "v"}`),
		Code: kybflow.CodeInvalidCommand, Reason: ce.Reason, Retryable: false,
	})

	// An invalid metadata is not echoed, the lookupId still is.
	ce = parseError(t, `{"lookupId": "echo-2", "metadata": [1]}`)
	if ce.LookupID != "echo-2" || ce.Metadata != nil || ce.Field != "metadata" {
		t.Errorf("error = %+v", ce)
	}

	// Without a lookupId there is no failed event: a dead letter.
	ce = parseError(t, `{"type": "organization"}`)
	if _, ok := ce.FailedData(); ok || ce.LookupID != "" {
		t.Errorf("FailedData of %+v: ok", ce)
	}
}

func TestCommandErrorUnwrapsIdentifierError(t *testing.T) {
	_, err := kybflow.ParseCommand([]byte(`{"lookupId": "u-1", "type": "organization", "identifier": "923609017"}`))
	if !errors.Is(err, identifier.ErrInvalid) {
		t.Errorf("errors.Is(%v, identifier.ErrInvalid) = false", err)
	}
	var ie *identifier.Error
	if !errors.As(err, &ie) || ie.Kind != identifier.NorwegianOrgNumber {
		t.Errorf("errors.As identifier.Error: %v", err)
	}
	if got, want := err.Error(), `invalid_identifier: invalid Norwegian organization number "923609017": check digit is 7, want 6`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	_, err = kybflow.ParseCommand([]byte(`{"lookupId": "u-1", "type": "organization"}`))
	if errors.Is(err, identifier.ErrInvalid) {
		t.Errorf("a missing identifier is invalid_command, not identifier.ErrInvalid")
	}
}

func TestLookupIDOf(t *testing.T) {
	tests := []struct {
		data string
		want string // "" for none
	}{
		{`{"lookupId": "a-1"}`, "a-1"},
		{`{"type": 1, "nested": {"lookupId": "inner"}, "lookupId": "outer", "list": [{"lookupId": "x"}]}`, "outer"},
		{`{"lookupId": "a-1", "type": `, "a-1"},                   // truncated after it
		{`{"lookupId": "a-1" "type": 1}`, "a-1"},                  // malformed after it
		{`{"type": [1, 2, {"x": "y"}], "lookupId": "a-2"`, "a-2"}, // truncated, nested before
		{`{"lookupId": "first", "lookupId": "last"}`, "last"},     // like encoding/json
		{`{"lookupId": "first", "lookupId": {"a": 1}}`, ""},       // the last one is not a string
		{`{"lookupId": "first", "lookupId": "a.b"}`, ""},          // the last one is invalid
		{`{"lookup\u0049d": "escaped"}`, "escaped"},
		{`{"LookupId": "case"}`, ""}, // names match exactly
		{`{"lookupId": "a.b"}`, ""},
		{`{"lookupId": ""}`, ""},
		{`{"lookupId": 7}`, ""},
		{`{"lookupId": "a-1`, ""}, // the string itself is cut
		{`["lookupId", "a-1"]`, ""},
		{`"a-1"`, ""},
		{`{"x": {"lookupId": "a-1"}}`, ""},
		{``, ""},
		{"{\"lookupId\": \"a-3\", \"x\": \"\xff\"}", "a-3"},
	}
	for _, tt := range tests {
		got, ok := kybflow.LookupIDOf([]byte(tt.data))
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("LookupIDOf(%s) = %q, %v; want %q", tt.data, got, ok, tt.want)
		}
	}
}

// MonitorIDOf reads as LookupIDOf does (the same reader): its own name,
// and monitorIds' own limit.
func TestMonitorIDOf(t *testing.T) {
	long := strings.Repeat("m", kybflow.MaxMonitorIDLength)
	tests := []struct {
		data string
		want string // "" for none
	}{
		{`{"action":"delete","monitorId": "m-1"}`, "m-1"},
		{`{"monitorId": "m-1", "lookup": {"type": `, "m-1"}, // truncated after it
		{`{"lookupId": "a-1"}`, ""},
		{`{"lookup": {"monitorId": "inner"}}`, ""},
		{`{"monitorId": "` + long + `"}`, long},
		{`{"monitorId": "` + long + `x"}`, ""}, // longer than a monitorId may be
		{`{"monitorId": "a.b"}`, ""},
	}
	for _, tt := range tests {
		got, ok := kybflow.MonitorIDOf([]byte(tt.data))
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("MonitorIDOf(%s) = %q, %v; want %q", tt.data, got, ok, tt.want)
		}
	}
}

func TestEncodeCommand(t *testing.T) {
	in := kybflow.LookupCommand{
		LookupID: "enc-1", Type: kybflow.TypeOrganization, Country: kybflow.CountrySE,
		Identifier: "556036-0793", Metadata: json.RawMessage(`{"html": "<b>&</b>"}`),
	}
	b, err := kybflow.EncodeCommand(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"metadata":{"html": "<b>&</b>"}`)) {
		t.Errorf("metadata not echoed as is: %s", b)
	}
	c, err := kybflow.ParseCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	if c.Identifier != "5560360793" {
		t.Errorf("identifier %q", c.Identifier)
	}

	// A command the worker would reject is not encoded.
	in.Country = "DK"
	if _, err := kybflow.EncodeCommand(in); err == nil {
		t.Error("EncodeCommand with country DK: no error")
	}
}

// TestLogValueOmitsPersonalData logs commands, errors and events, and
// checks that the correlationId and metadata never appear.
func TestLogValueOmitsPersonalData(t *testing.T) {
	const secret = "Kari Nordmann 01017012345"
	c := mustParse(`{"lookupId": "log-1", "type": "beneficial_owners", "identifier": "923609016",
		"expands": ["ssn"], "correlationId": "` + secret + `", "metadata": {"person": "` + secret + `"}}`)

	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("command", "command", c)
	ce := parseError(t, `{"lookupId": "log-2", "correlationId": "`+secret+`", "metadata": {"p": "`+secret+`"}, "type": "organization", "identifier": "01017012345"}`)
	log.Info("rejected", "err", ce)
	log.Info("rejected", "err", error(ce))
	for _, e := range goldenEvents(t) {
		log.Info("event", "event", e)
	}
	ev, err := kybflow.NewEvent(kybflow.DefaultSource, kybflow.KindAccepted, c.LookupID, goldenTime, c.AcceptedData())
	if err != nil {
		t.Fatal(err)
	}
	log.Info("event", "event", ev)
	fd, _ := ce.FailedData()
	log.Info("failed", "data", fd)
	// A command built by hand with a personal number as identifier.
	log.Info("command", "command", kybflow.LookupCommand{LookupID: "log-3", Type: kybflow.TypeOrganization, Identifier: "01017012345"})

	out := buf.String()
	for _, leak := range []string{"Kari", "01017012345", "person", "correlationId", "metadata\""} {
		if strings.Contains(out, leak) {
			t.Errorf("log contains %q:\n%s", leak, out)
		}
	}
	for _, want := range []string{`"lookupId":"log-1"`, `"identifier":"923609016"`, `"expands":["ssn"]`, `"metadataBytes":`, `"code":"invalid_identifier"`, `"lookupId":"log-2"`, `"reason":"want 9 digits"`, `"code":"session_failed"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}

	// Printing a command with fmt does not leak either.
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %s", c, c, c), fmt.Sprintf("%v", struct{ C kybflow.LookupCommand }{c})} {
		if strings.Contains(s, "Kari") || !strings.Contains(s, "log-1") {
			t.Errorf("fmt: %s", s)
		}
	}
}

// TestEnumsMatchAMLAPI: the lists this package duplicates from the AML API
// model are equal to it, so that a change there is a deliberate change of
// the contract here (and in docs/schemas and docs/contract.md).
func TestEnumsMatchAMLAPI(t *testing.T) {
	if got := kybflow.OrganizationExpands(); !slices.Equal(got, amlapi.OrganizationExpands) {
		t.Errorf("OrganizationExpands = %q, amlapi has %q", got, amlapi.OrganizationExpands)
	}
	if got := kybflow.BeneficialOwnerExpands(); !slices.Equal(got, amlapi.BeneficialExpands) {
		t.Errorf("BeneficialOwnerExpands = %q, amlapi has %q", got, amlapi.BeneficialExpands)
	}
	if got := kybflow.Languages(); !slices.Equal(got, amlapi.Languages) {
		t.Errorf("Languages = %q, amlapi has %q", got, amlapi.Languages)
	}
	if kybflow.ReportAML != kybflow.ReportType(amlapi.ReportAML) ||
		kybflow.ReportCertificateOfIncorporation != kybflow.ReportType(amlapi.ReportCertificateOfIncorporation) {
		t.Error("report types differ from amlapi's")
	}
	for _, c := range []kybflow.Country{kybflow.CountryNO, kybflow.CountrySE, kybflow.CountryFI} {
		if !amlapi.Country(c).Valid() {
			t.Errorf("country %s is not an amlapi.Country", c)
		}
	}
	// The accessors return copies.
	kybflow.OrganizationExpands()[0] = "changed"
	if kybflow.OrganizationExpands()[0] != "keyInformation.lei" {
		t.Error("OrganizationExpands shares its slice")
	}
}
