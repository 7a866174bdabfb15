package amlapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestBlockPresence(t *testing.T) {
	type doc struct {
		List   Block[[]string]   `json:"list,omitzero"`
		Object Block[Birthplace] `json:"object,omitzero"`
	}
	tests := []struct {
		in         string
		list, obj  Presence
		reencoding string
	}{
		{`{}`, NotRequested, NotRequested, `{}`},
		{`{"list": null, "object": null}`, NotRequested, NotRequested, `{}`},
		{`{"list": [], "object": {}}`, Empty, Empty, `{"list":[],"object":{}}`},
		{`{"list": [ ], "object": { }}`, Empty, Empty, `{"list":[],"object":{}}`},
		{`{"list": {}, "object": []}`, Empty, Empty, `{"list":[],"object":{}}`},
		{`{"list": ["NO"], "object": {"place": "Bergen"}}`, Present, Present, `{"list":["NO"],"object":{"place":"Bergen"}}`},
		{`{"object": {"unknown": 1}}`, NotRequested, Present, `{"object":{}}`},
	}
	for _, tt := range tests {
		var d doc
		if err := json.Unmarshal([]byte(tt.in), &d); err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if d.List.State != tt.list || d.Object.State != tt.obj {
			t.Errorf("%s: presence %v, %v; want %v, %v", tt.in, d.List.State, d.Object.State, tt.list, tt.obj)
		}
		if got := string(must(json.Marshal(d))); got != tt.reencoding {
			t.Errorf("%s: re-encoded %s, want %s", tt.in, got, tt.reencoding)
		}
	}
	var d doc
	if err := json.Unmarshal([]byte(`{"list": "NO"}`), &d); err == nil {
		t.Error("a string where a list belongs should fail")
	}
	if v, ok := (Block[int]{State: Present, Value: 3}).Found(); !ok || v != 3 {
		t.Error("Found")
	}
	if _, ok := (Block[int]{State: Empty}).Found(); ok {
		t.Error("Found on an Empty block")
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, in := range []string{``, ` `, `[]`, `{"keyInformation": 5}`, `{} {}`, `{} x`, `{`, `{"roles": [1]}`} {
		if _, err := DecodeOrganization(strings.NewReader(in)); err == nil {
			t.Errorf("DecodeOrganization(%q) succeeded", in)
		}
	}
	for _, in := range []string{`{} `, "{}\n", `null`} {
		if _, err := DecodeOrganization(strings.NewReader(in)); err != nil {
			t.Errorf("DecodeOrganization(%q): %v", in, err)
		}
	}
	// A time in a format we do not know degrades to "unknown", never to an
	// undecodable session: the format is our model's guess.
	s, err := DecodeSession(strings.NewReader(`{"created": "yesterday"}`))
	if err != nil || !s.Created.IsZero() || s.Created.Raw != "yesterday" {
		t.Errorf("a malformed time: %+v, %v", s, err)
	}
}

// TestGolden decodes every testdata/*.json and compares a summary of the
// result (presence of the blocks, then the document re-encoded) with its
// .golden file. Rewrite them with: go test ./internal/amlapi -update
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := summarize(name, in)
			if err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(file, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("decoding %s changed; got:\n%s\nwant (%s):\n%s", file, got, golden, want)
			}
		})
	}
}

// summarize decodes a testdata file with the decoder its name calls for.
func summarize(name string, in []byte) ([]byte, error) {
	var b bytes.Buffer
	var v any
	switch {
	case strings.HasPrefix(name, "organization"):
		d, err := DecodeOrganization(bytes.NewReader(in))
		if err != nil {
			return nil, err
		}
		for _, p := range d.Presences() {
			fmt.Fprintf(&b, "%-24s %s\n", p.Path, p.State)
		}
		v = d
	case strings.HasPrefix(name, "beneficial"):
		d, err := DecodeBeneficialOwners(bytes.NewReader(in))
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "beneficialOwners: %s, %d\n", d.BeneficialOwners.State, len(d.BeneficialOwners.Value))
		for i, o := range d.BeneficialOwners.Value {
			fmt.Fprintf(&b, "owner %d: citizenship %s, birthplace %s, ssn %v, share %s, percentageControl %s\n",
				i, o.Citizenship.State, o.Birthplace.State, o.SSN != nil, ptr(o.Share), ptr(o.PercentageControl))
		}
		v = d
	case strings.HasPrefix(name, "session"):
		d, err := DecodeSession(bytes.NewReader(in))
		if err != nil {
			return nil, err
		}
		v = d
	default:
		return nil, fmt.Errorf("no decoder for %s", name)
	}
	b.WriteString("---\n")
	enc, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	b.Write(enc)
	b.WriteByte('\n')
	return b.Bytes(), nil
}

func ptr[T any](p *T) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

func TestLogValueRedactsPersonalData(t *testing.T) {
	org := decodeFile(t, "testdata/organization_no.json", DecodeOrganization)
	bo := decodeFile(t, "testdata/beneficial_owners.json", DecodeBeneficialOwners)
	owner := bo.BeneficialOwners.Value[0]
	personal := []string{"Kari", "Nordmann", "1971-04-12", "Storgata", "0155", "12047112345", "Bergen", "Tromsø", "Per Hansen", "1980-01-01", "Ola", "Lise"}

	for _, h := range []struct {
		name string
		new  func(*bytes.Buffer) slog.Handler
	}{
		{"json", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
		{"text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }},
	} {
		t.Run(h.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(h.new(&buf))
			log.Info("documents", "org", org, "orgValue", *org, "bo", bo, "owner", owner, "ssn", owner.SSN, "address", owner.Address,
				"shareholder", org.Ownership.Value.Shareholders.Value[1], "role", org.Roles.Value[0],
				"person", org.Authorities.Value.SignatureRights.Value.Persons[0], "match", org.Sanction.Value.Matches[0])
			out := buf.String()
			for _, p := range personal {
				if strings.Contains(out, p) {
					t.Errorf("log leaks %q:\n%s", p, out)
				}
			}
			for _, want := range []string{"Nordlys Eksempel AS", "923609016", "[redacted]", "ownership.beneficials", "312"} {
				if !strings.Contains(out, want) {
					t.Errorf("log lacks %q:\n%s", want, out)
				}
			}
		})
	}
	if s := fmt.Sprintf("%v %s %#v", *owner.SSN, *owner.SSN, *owner.SSN); strings.Contains(s, "12047112345") {
		t.Errorf("fmt prints the SSN: %s", s)
	}
	if string(*owner.SSN) != "12047112345" {
		t.Error("the SSN is not kept")
	}
}

func decodeFile[T any](t *testing.T, file string, decode func(io.Reader) (*T, error)) *T {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
