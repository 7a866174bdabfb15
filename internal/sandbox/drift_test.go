package sandbox_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox"
)

// extraFields are the fields the sandbox sends on purpose although the
// client does not model them (the real API adds fields; the client must
// tolerate them). Every other field the sandbox sends must mean something
// to the client.
var extraFields = map[string]bool{
	"schemaVersion": true, "sandbox": true,
	"keyInformation.marketSegment": true, "beneficialOwners.ownedThrough": true,
	"ownership.beneficials.ownedThrough": true,
}

// TestSandboxSpellsDocumentsAsTheClientReadsThem: the document field names
// live twice, in the sandbox's generator and in the client's types. Every
// field the sandbox emits must survive a decode and re-encode through the
// client's types, so a renamed field on either side fails here instead of
// decoding silently as zero.
func TestSandboxSpellsDocumentsAsTheClientReadsThem(t *testing.T) {
	e := newEnv(t, sandbox.Config{ReadyAfter: 30 * time.Millisecond, ReportInterval: 10 * time.Millisecond, NationalRegistry: amlapi.AccessGranted, SSNAccess: true})
	get := func(k amlapi.Kind, path string, req amlapi.CreateSessionRequest) []byte {
		t.Helper()
		id := e.create(path, req)
		s := e.wait(k, id, 2*time.Second, done)
		resp, body := e.do(http.MethodGet, s.JSONData.Link, e.token, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET json: %d", resp.StatusCode)
		}
		return body
	}
	check := func(name string, body []byte, decode func([]byte) (any, error)) {
		t.Helper()
		v, err := decode(body)
		if err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		sent, kept := keyPaths(t, body), keyPaths(t, again)
		var lost []string
		for p := range sent {
			if !kept[p] && !extraFields[p] && !underExtra(p) {
				lost = append(lost, p)
			}
		}
		sort.Strings(lost)
		if len(lost) > 0 {
			t.Errorf("%s: fields the sandbox sends that the client drops (renamed on one side?): %v", name, lost)
		}
	}
	for _, c := range []struct {
		country amlapi.Country
		id      string
	}{{amlapi.NO, "923609016"}, {amlapi.NO, sandbox.SanctionHitNO}, {amlapi.SE, "5560360793"}, {amlapi.FI, "2077474-0"}} {
		body := get(amlapi.KindOrganization, amlapi.CreateOrganizationPath(c.country), amlapi.CreateSessionRequest{
			Identifier: c.id, Expands: append([]string{"financials.credit", "sanction.ofac"}, everyExpand...)})
		check(string(c.country)+" "+c.id, body, func(b []byte) (any, error) { return amlapi.DecodeOrganization(bytes.NewReader(b)) })
	}
	body := get(amlapi.KindBeneficial, amlapi.CreateBeneficialPath, amlapi.CreateSessionRequest{
		Identifier: "974760673", Expands: amlapi.BeneficialExpands})
	check("beneficial owners", body, func(b []byte) (any, error) { return amlapi.DecodeBeneficialOwners(bytes.NewReader(b)) })
}

func underExtra(p string) bool {
	for x := range extraFields {
		if strings.HasPrefix(p, x+".") {
			return true
		}
	}
	return false
}

// keyPaths lists the dotted paths of every object key in a JSON document,
// arrays flattened (a.b for a key b in objects of array a).
func keyPaths(t *testing.T, b []byte) map[string]bool {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if c == nil {
					continue // null: the client drops it on re-encoding, meaning the same
				}
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				out[p] = true
				walk(p, c)
			}
		case []any:
			for _, c := range x {
				walk(prefix, c)
			}
		}
	}
	walk("", v)
	return out
}
