// Tests of creating organization and beneficial sessions, and of the identifiers they refuse.

package amlapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/identifier"
)

func TestCreateOrganizationSession(t *testing.T) {
	tests := []struct {
		country Country
		kind    identifier.Kind
		in      string
		wire    string
		path    string
	}{
		{NO, "", "923 609 016", "923609016", "/organization/session/no"},
		{NO, identifier.DUNS, "12-345-6789", "123456789", "/organization/session/no"},
		{SE, "", "556036-0793", "5560360793", "/organization/session/se"},
		{FI, "", "20774740", "2077474-0", "/organization/session/fi"},
		{FI, identifier.DUNS, "123456789", "123456789", "/organization/session/fi"},
	}
	for _, tt := range tests {
		t.Run(string(tt.country)+"/"+tt.in, func(t *testing.T) {
			f := newFake(t)
			f.setAPI(created("s-1"))
			c := newClient(t, testConfig(f))
			req := CreateSessionRequest{
				Identifier: tt.in,
				Expands:    []string{"address", "ownership.beneficials"},
				Reports:    []ReportType{ReportAML},
				Language:   "en",
				Webhook:    &WebhookSubscription{URL: "https://hooks.example/aml"},
			}
			id, err := c.CreateOrganizationSession(context.Background(), tt.country, req, CreateOptions{IdentifierKind: tt.kind})
			if err != nil {
				t.Fatal(err)
			}
			if id != "s-1" {
				t.Errorf("session id = %q", id)
			}
			if req.Identifier != tt.in {
				t.Error("the caller's request was modified")
			}
			reqs := f.recorded()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != http.MethodPost || r.Path != tt.path || r.ContentType != "application/json" || r.Auth != "Bearer tok-1" {
				t.Errorf("request = %s %s (%s, %s)", r.Method, r.Path, r.ContentType, r.Auth)
			}
			var sent CreateSessionRequest
			if err := json.Unmarshal(r.Body, &sent); err != nil {
				t.Fatal(err)
			}
			want := req
			want.Identifier = tt.wire
			if tt.kind == identifier.DUNS {
				want.IdentifierType = IdentifierTypeDUNS // 9 digits alone cannot say
			}
			if got, _ := json.Marshal(sent); string(got) != string(must(json.Marshal(want))) {
				t.Errorf("body = %s, want %s", got, must(json.Marshal(want)))
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestCreateBeneficialSession(t *testing.T) {
	f := newFake(t)
	f.setAPI(created("b-1"))
	c := newClient(t, testConfig(f))
	ctx := context.Background()
	id, err := c.CreateBeneficialSession(ctx, CreateSessionRequest{Identifier: "974760673", Expands: BeneficialExpands}, CreateOptions{})
	if err != nil || id != "b-1" {
		t.Fatalf("CreateBeneficialSession = %q, %v", id, err)
	}
	if _, err := c.CreateBeneficialSession(ctx, CreateSessionRequest{Identifier: "123456789"}, CreateOptions{IdentifierKind: identifier.DUNS}); err != nil {
		t.Fatalf("DUNS: %v", err)
	}
	reqs := f.recorded()
	if len(reqs) != 2 || reqs[0].Path != CreateBeneficialPath || !strings.Contains(string(reqs[0].Body), `"identifier":"974760673"`) {
		t.Errorf("requests = %+v", reqs)
	}
}

func TestCreateRefusesInvalidIdentifierWithoutRequest(t *testing.T) {
	f := newFake(t)
	f.setAPI(created("never"))
	c := newClient(t, testConfig(f))
	ctx := context.Background()
	calls := []struct {
		name string
		call func() (string, error)
	}{
		{"bad check digit", func() (string, error) {
			return c.CreateOrganizationSession(ctx, NO, CreateSessionRequest{Identifier: "923609017"}, CreateOptions{})
		}},
		{"Swedish number in Norway", func() (string, error) {
			return c.CreateOrganizationSession(ctx, NO, CreateSessionRequest{Identifier: "5560360793"}, CreateOptions{})
		}},
		{"wrong kind for country", func() (string, error) {
			return c.CreateOrganizationSession(ctx, SE, CreateSessionRequest{Identifier: "923609016"}, CreateOptions{IdentifierKind: identifier.NorwegianOrgNumber})
		}},
		{"empty", func() (string, error) {
			return c.CreateOrganizationSession(ctx, FI, CreateSessionRequest{}, CreateOptions{})
		}},
		{"beneficial: Finnish kind", func() (string, error) {
			return c.CreateBeneficialSession(ctx, CreateSessionRequest{Identifier: "2077474-0"}, CreateOptions{IdentifierKind: identifier.FinnishBusinessID})
		}},
		{"beneficial: bad DUNS", func() (string, error) {
			return c.CreateBeneficialSession(ctx, CreateSessionRequest{Identifier: "12345"}, CreateOptions{IdentifierKind: identifier.DUNS})
		}},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.call()
			if !errors.Is(err, identifier.ErrInvalid) || ClassOf(err) != Permanent {
				t.Fatalf("err = %v (class %v), want a Permanent error wrapping identifier.ErrInvalid", err, ClassOf(err))
			}
		})
	}
	_, err := c.CreateOrganizationSession(ctx, "DK", CreateSessionRequest{Identifier: "923609016"}, CreateOptions{})
	if err == nil || ClassOf(err) != Permanent {
		t.Errorf("unknown country: %v", err)
	}
	if n := f.discoveryHits.Load() + f.tokenHits.Load() + f.apiHits.Load(); n != 0 {
		t.Errorf("%d requests made for invalid input, want none", n)
	}
}

func TestCreateAnswerWithoutSessionID(t *testing.T) {
	f := newFake(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusCreated, map[string]string{"id": "x"})
	})
	c := newClient(t, testConfig(f))
	_, err := c.CreateOrganizationSession(context.Background(), NO, CreateSessionRequest{Identifier: "923609016"}, CreateOptions{})
	if err == nil || ClassOf(err) != Permanent || !strings.Contains(err.Error(), "sessionId") {
		t.Fatalf("err = %v, want a Permanent error about the missing sessionId", err)
	}
	if n := f.apiHits.Load(); n != 1 {
		t.Errorf("%d requests, want 1 (a created session must not be retried)", n)
	}
}
