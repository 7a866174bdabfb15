package sandbox

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
)

var fuzzSeeds = []string{
	`{"identifier":"923609016"}`,
	`{"identifier":"923609016","expands":["address","financials","ownership","sanction.ofac","links.reports.aml"],"reports":["aml"],"language":"nb","webhook":{"url":"http://127.0.0.1:1/x","events":["AllDone"]}}`,
	`{"identifier":"556036-0793","reports":["certificate_of_incorporation"]}`,
	`{"identifier":"15-048-3782"}`,
	`{"identifier":"2077474-0","expands":["financials.credit"]}`,
	`{"identifier":"923609017"}`,
	`{"identifier":null,"expands":null,"reports":[null],"webhook":null}`,
	`{"identifier":"9236090160000000000000"}`,
	`{"identifier":"\u0000","expands":[""],"webhook":{"url":"http://[::1"}}`,
	`[]`, `null`, ``, `{`, `{"identifier":1e999}`, `{"webhook":{"url":"http://x.example","events":["Failed","Failed"]}}`,
}

// FuzzParseCreate: decoding and validating a create body never panics and
// fails only with a 400 or 403 of the model's codes.
func FuzzParseCreate(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, uint8(0))
	}
	kinds := []struct {
		k amlapi.Kind
		c amlapi.Country
	}{{amlapi.KindOrganization, amlapi.NO}, {amlapi.KindOrganization, amlapi.SE}, {amlapi.KindOrganization, amlapi.FI}, {amlapi.KindBeneficial, amlapi.NO}}
	f.Fuzz(func(t *testing.T, body string, which uint8) {
		kc := kinds[int(which)%len(kinds)]
		scopes := []string{amlapi.ScopeBasic}
		if which&4 != 0 {
			scopes = append(scopes, amlapi.ScopeOFAC, amlapi.ScopeFinancialsCredit)
		}
		req, bad := parseCreate(kc.k, kc.c, []byte(body), scopes)
		if bad != nil {
			switch bad.code {
			case amlapi.CodeInvalidIdentifier, amlapi.CodeInvalidExpand, amlapi.CodeInvalidRequest:
				if bad.status != 400 {
					t.Fatalf("%s with status %d", bad.code, bad.status)
				}
			case amlapi.CodeForbidden:
				if bad.status != 403 {
					t.Fatalf("%s with status %d", bad.code, bad.status)
				}
			default:
				t.Fatalf("unexpected error %v", bad)
			}
			return
		}
		if req.identifier == "" || req.idKind == "" {
			t.Fatalf("accepted without an identifier: %+v", req)
		}
	})
}

// FuzzCreateHandler sends garbage through the whole handler: never a 5xx.
func FuzzCreateHandler(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	sb, err := New(Config{ReadyAfter: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	sb.tokens["fuzz"] = token{clientID: DefaultClientID, scopes: []string{amlapi.ScopeBasic, amlapi.ScopeOFAC}, expires: time.Now().Add(24 * time.Hour)}
	h := sb.Handler()
	f.Fuzz(func(t *testing.T, body string) {
		for _, p := range []string{amlapi.CreateOrganizationPath(amlapi.SE), amlapi.CreateBeneficialPath} {
			r := httptest.NewRequest(http.MethodPost, p, bytes.NewBufferString(body))
			r.Header.Set("Authorization", "Bearer fuzz")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code >= 500 || (w.Code != 201 && w.Code != 400 && w.Code != 403) {
				t.Fatalf("POST %s %q: %d %s", p, body, w.Code, w.Body)
			}
		}
	})
}
