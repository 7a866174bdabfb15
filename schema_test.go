package kybflow_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/kybflow/kybflow"
)

// schemaDir holds the published JSON Schemas.
var schemaDir = filepath.Join("docs", "schemas")

// schemaSet is every schema of docs/schemas, compiled.
type schemaSet struct {
	command *jsonschema.Schema
	event   *jsonschema.Schema
	data    map[kybflow.Kind]*jsonschema.Schema
	docs    map[string]map[string]any // file name -> parsed schema document
}

var loadSchemas = sync.OnceValues(func() (*schemaSet, error) {
	files, err := filepath.Glob(filepath.Join(schemaDir, "*.schema.json"))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	set := &schemaSet{data: map[kybflow.Kind]*jsonschema.Schema{}, docs: map[string]map[string]any{}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		// Resources are added under their $id, the URI the other schemas
		// and the events' dataschema use.
		if err := c.AddResource(kybflow.SchemaBaseURI+filepath.Base(f), doc); err != nil {
			return nil, err
		}
		var plain map[string]any
		if err := json.Unmarshal(b, &plain); err != nil {
			return nil, err
		}
		set.docs[filepath.Base(f)] = plain
	}
	if set.command, err = c.Compile(kybflow.SchemaBaseURI + "lookup-command.schema.json"); err != nil {
		return nil, err
	}
	if set.event, err = c.Compile(kybflow.SchemaBaseURI + "event.schema.json"); err != nil {
		return nil, err
	}
	for _, k := range kybflow.Kinds() {
		if set.data[k], err = c.Compile(k.DataSchema()); err != nil {
			return nil, err
		}
	}
	return set, nil
})

func schemas(t testing.TB) *schemaSet {
	t.Helper()
	s, err := loadSchemas()
	if err != nil {
		t.Fatalf("load schemas: %v", err)
	}
	return s
}

// validate validates a JSON document against s.
func validate(s *jsonschema.Schema, data []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

func TestSchemaIDs(t *testing.T) {
	set := schemas(t)
	if len(set.docs) != 7 {
		t.Errorf("%d schema files, want 7: %v", len(set.docs), keys(set.docs))
	}
	for name, doc := range set.docs {
		if got, want := doc["$id"], kybflow.SchemaBaseURI+name; got != want {
			t.Errorf("%s: $id %v, want %s", name, got, want)
		}
		if got := doc["$schema"]; got != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $schema %v, want draft 2020-12", name, got)
		}
	}
}

// TestSchemaEnums checks that every enumeration in the schemas is the
// package's, so that schema and code cannot drift apart.
func TestSchemaEnums(t *testing.T) {
	defs := schemas(t).docs["common.schema.json"]["$defs"].(map[string]any)
	enum := func(name string) []string {
		t.Helper()
		def, ok := defs[name].(map[string]any)
		if !ok {
			t.Fatalf("common.schema.json: no $defs/%s", name)
		}
		var out []string
		for _, v := range def["enum"].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	var kinds []string
	for _, k := range kybflow.Kinds() {
		kinds = append(kinds, k.EventType())
	}
	tests := []struct {
		def  string
		want []string
	}{
		{"organizationExpand", kybflow.OrganizationExpands()},
		{"beneficialOwnerExpand", kybflow.BeneficialOwnerExpands()},
		{"language", kybflow.Languages()},
		{"reportType", strs(kybflow.ReportTypes(kybflow.TypeOrganization)...)},
		{"failureCode", strs(kybflow.FailureCodes()...)},
		{"country", strs(kybflow.CountryNO, kybflow.CountrySE, kybflow.CountryFI)},
		{"lookupType", strs(kybflow.TypeOrganization, kybflow.TypeBeneficialOwners)},
		{"identifierType", strs(kybflow.IdentifierOrganizationNumber, kybflow.IdentifierDUNS)},
	}
	for _, tt := range tests {
		if got := enum(tt.def); !slices.Equal(got, tt.want) {
			t.Errorf("$defs/%s enum = %q, want %q", tt.def, got, tt.want)
		}
	}
	props := schemas(t).docs["event.schema.json"]["properties"].(map[string]any)
	var types []string
	for _, v := range props["type"].(map[string]any)["enum"].([]any) {
		types = append(types, v.(string))
	}
	if !slices.Equal(types, kinds) {
		t.Errorf("event type enum = %q, want %q", types, kinds)
	}
}

func strs[T ~string](xs ...T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
