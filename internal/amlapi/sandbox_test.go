package amlapi_test

// The client against the sandbox: one suite proving that the two sides of
// the model in model.go agree, endpoint by endpoint and error by error.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/kybflow/kybflow/identifier"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/testenv"
)

func startSandbox(t *testing.T, cfg sandbox.Config) *sandbox.Server {
	t.Helper()
	if cfg.ReadyAfter == 0 {
		cfg.ReadyAfter = 100 * time.Millisecond
	}
	if cfg.ReportInterval == 0 {
		cfg.ReportInterval = 50 * time.Millisecond
	}
	srv, err := sandbox.Start(cfg, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func client(t *testing.T, srv *sandbox.Server, mod func(*amlapi.Config)) *amlapi.Client {
	t.Helper()
	cfg := amlapi.Config{
		BaseURL: srv.URL(), IssuerURL: srv.IssuerURL(), ClientID: "sandbox", ClientSecret: "sandbox-secret",
		Retry: amlapi.RetryPolicy{InitialInterval: 20 * time.Millisecond, MaxInterval: 200 * time.Millisecond, MaxElapsedTime: 10 * time.Second},
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := amlapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitReady polls a session until every entity is READY.
func waitReady(ctx context.Context, t *testing.T, c *amlapi.Client, kind amlapi.Kind, id string) *amlapi.Session {
	t.Helper()
	var s *amlapi.Session
	testenv.Eventually(t, 10*time.Second, func() error {
		var err error
		if s, err = c.Session(ctx, kind, id); err != nil {
			t.Fatalf("session %s: %v", id, err)
		}
		switch s.Status {
		case amlapi.SessionDone:
			return nil
		case amlapi.SessionFailed:
			t.Fatalf("session %s failed", id)
		}
		return fmt.Errorf("session %s is %s", id, s.Status)
	})
	return s
}

func download(t *testing.T, c *amlapi.Client, link, wantType string) []byte {
	t.Helper()
	d, err := c.Download(context.Background(), link)
	if err != nil {
		t.Fatalf("download %s: %v", link, err)
	}
	defer d.Body.Close()
	b, err := io.ReadAll(d.Body)
	if err != nil {
		t.Fatal(err)
	}
	if d.ContentType != wantType || (d.Size >= 0 && d.Size != int64(len(b))) {
		t.Errorf("download %s: type %q size %d (read %d), want %s", link, d.ContentType, d.Size, len(b), wantType)
	}
	return b
}

func TestClientAgainstSandboxEveryEndpoint(t *testing.T) {
	srv := startSandbox(t, sandbox.Config{NationalRegistry: amlapi.AccessGranted})
	c := client(t, srv, func(c *amlapi.Config) { c.ClientAuth = amlapi.ClientSecretPost })
	ctx := context.Background()

	ar, err := c.AccessRights(ctx)
	if err != nil || ar.NationalRegistry != amlapi.AccessGranted {
		t.Fatalf("access rights %+v, %v", ar, err)
	}

	for _, tc := range []struct {
		country amlapi.Country
		id      string
	}{{amlapi.NO, "923609016"}, {amlapi.SE, "556036-0793"}, {amlapi.FI, "2077474-0"}} {
		sid, err := c.CreateOrganizationSession(ctx, tc.country, amlapi.CreateSessionRequest{
			Identifier: tc.id, Expands: []string{"roles", "ownership", "sanction", "financials"},
			Reports: []amlapi.ReportType{amlapi.ReportAML, amlapi.ReportCertificateOfIncorporation},
		}, amlapi.CreateOptions{})
		if err != nil {
			t.Fatalf("%s: %v", tc.country, err)
		}
		s := waitReady(ctx, t, c, amlapi.KindOrganization, sid)
		doc, err := amlapi.DecodeOrganization(bytes.NewReader(download(t, c, s.JSONData.Link, amlapi.ContentTypeJSON)))
		if err != nil {
			t.Fatalf("%s: decode: %v", tc.country, err)
		}
		// Every requested block comes back present or as an empty node;
		// one not requested (address) stays "not requested".
		if doc.KeyInformation.State != amlapi.Present || doc.Roles.State == amlapi.NotRequested ||
			doc.Ownership.State == amlapi.NotRequested || doc.Sanction.State == amlapi.NotRequested ||
			doc.Financials.State == amlapi.NotRequested || doc.Address.State != amlapi.NotRequested {
			t.Errorf("%s: blocks %v", tc.country, doc.Presences())
		}
		for _, r := range []amlapi.ReportType{amlapi.ReportAML, amlapi.ReportCertificateOfIncorporation} {
			if pdf := download(t, c, s.Reports[r].Link, amlapi.ContentTypePDF); !bytes.HasPrefix(pdf, []byte("%PDF-")) {
				t.Errorf("%s %s is not a PDF", tc.country, r)
			}
		}
	}

	sid, err := c.CreateBeneficialSession(ctx, amlapi.CreateSessionRequest{
		Identifier: "974760673", Expands: []string{"citizenship"}, Reports: []amlapi.ReportType{amlapi.ReportAML},
	}, amlapi.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := waitReady(ctx, t, c, amlapi.KindBeneficial, sid)
	bo, err := amlapi.DecodeBeneficialOwners(bytes.NewReader(download(t, c, s.JSONData.Link, amlapi.ContentTypeJSON)))
	if err != nil {
		t.Fatal(err)
	}
	if bo.BeneficialOwners.State != amlapi.Present || len(bo.BeneficialOwners.Value) == 0 {
		t.Error("no beneficial owners decoded")
	}
	if n := srv.Sandbox().Inspect().SessionsPerIdentifier["organization/NO/923609016"]; n != 1 {
		t.Errorf("sandbox saw %d NO sessions, want 1", n)
	}
}

func TestClientAgainstSandboxErrors(t *testing.T) {
	ctx := context.Background()

	t.Run("invalid identifier never reaches the API", func(t *testing.T) {
		srv := startSandbox(t, sandbox.Config{})
		c := client(t, srv, nil)
		_, err := c.CreateOrganizationSession(ctx, amlapi.NO, amlapi.CreateSessionRequest{Identifier: "923609017"}, amlapi.CreateOptions{})
		if !errors.Is(err, identifier.ErrInvalid) || amlapi.ClassOf(err) != amlapi.Permanent {
			t.Fatalf("err %v", err)
		}
		if n := len(srv.Sandbox().Inspect().Sessions); n != 0 {
			t.Errorf("%d sessions", n)
		}
	})

	t.Run("a DUNS number on NO is sent as one and accepted", func(t *testing.T) {
		srv := startSandbox(t, sandbox.Config{})
		c := client(t, srv, nil)
		// 150483782 fails the Norwegian check digit: only its type makes it valid.
		if _, err := c.CreateOrganizationSession(ctx, amlapi.NO, amlapi.CreateSessionRequest{Identifier: "15-048-3782"}, amlapi.CreateOptions{IdentifierKind: identifier.DUNS}); err != nil {
			t.Fatalf("DUNS on NO: %v", err)
		}
		if n := srv.Sandbox().Inspect().SessionsPerIdentifier["organization/NO/150483782"]; n != 1 {
			t.Errorf("sessions for the DUNS number: %d", n)
		}
	})

	t.Run("the API's own 400 is permanent", func(t *testing.T) {
		srv := startSandbox(t, sandbox.Config{})
		c := client(t, srv, nil)
		_, err := c.CreateOrganizationSession(ctx, amlapi.NO, amlapi.CreateSessionRequest{Identifier: "923609016", Expands: []string{"horoscope"}}, amlapi.CreateOptions{})
		var ae *amlapi.Error
		if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest || ae.Code != amlapi.CodeInvalidExpand || ae.Class != amlapi.Permanent {
			t.Fatalf("err %v", err)
		}
	})

	t.Run("OFAC without its scope is 403, permanent", func(t *testing.T) {
		srv := startSandbox(t, sandbox.Config{})
		c := client(t, srv, nil) // asks for the basic scope only
		_, err := c.CreateOrganizationSession(ctx, amlapi.NO, amlapi.CreateSessionRequest{Identifier: "923609016", Expands: []string{"sanction.ofac"}}, amlapi.CreateOptions{})
		var ae *amlapi.Error
		if !errors.As(err, &ae) || ae.StatusCode != http.StatusForbidden || ae.Class != amlapi.Permanent {
			t.Fatalf("err %v", err)
		}
		withOFAC := client(t, srv, func(c *amlapi.Config) { c.Scopes = []string{amlapi.ScopeBasic, amlapi.ScopeOFAC} })
		if _, err := withOFAC.CreateOrganizationSession(ctx, amlapi.NO, amlapi.CreateSessionRequest{Identifier: "923609016", Expands: []string{"sanction.ofac"}}, amlapi.CreateOptions{}); err != nil {
			t.Fatalf("with the OFAC scope: %v", err)
		}
	})

	t.Run("wrong client secret is permanent", func(t *testing.T) {
		srv := startSandbox(t, sandbox.Config{})
		c := client(t, srv, func(c *amlapi.Config) { c.ClientSecret = "wrong" })
		_, err := c.AccessRights(ctx)
		if err == nil || amlapi.ClassOf(err) != amlapi.Permanent {
			t.Fatalf("err %v", err)
		}
	})

	t.Run("expired tokens are replaced", func(t *testing.T) {
		srv := startSandbox(t, sandbox.Config{TokenLifetime: time.Second})
		c := client(t, srv, nil)
		// Calls succeed all along, and within 2 s of 1 s tokens one is made
		// with a second token.
		testenv.Eventually(t, 2*time.Second, func() error {
			if _, err := c.AccessRights(ctx); err != nil {
				t.Fatal(err)
			}
			if n := srv.Sandbox().Inspect().Requests["POST /auth/realms/sandbox/protocol/openid-connect/token"]; n < 2 {
				return fmt.Errorf("%d token requests with 1 s tokens: no refresh (%v)", n, srv.Sandbox().Inspect().Requests)
			}
			return nil
		})
		if _, err := c.AccessRights(ctx); err != nil {
			t.Fatalf("with the second token: %v", err)
		}
	})

	t.Run("5xx and 429 with Retry-After are retried", func(t *testing.T) {
		srv := startSandbox(t, sandbox.Config{Seed: 3, Faults: sandbox.Faults{ErrorRate: 0.4, RateLimitRate: 0.3, RetryAfter: time.Second}})
		c := client(t, srv, nil)
		for range 5 {
			if _, err := c.AccessRights(ctx); err != nil {
				t.Fatalf("under faults: %v", err)
			}
		}
	})

	t.Run("unknown and expired sessions are Expired", func(t *testing.T) {
		srv := startSandbox(t, sandbox.Config{})
		c := client(t, srv, nil)
		if _, err := c.Session(ctx, amlapi.KindOrganization, "00000000-0000-4000-8000-000000000000"); amlapi.ClassOf(err) != amlapi.Expired {
			t.Fatalf("unknown session: %v", err)
		}
		sid, err := c.CreateOrganizationSession(ctx, amlapi.NO, amlapi.CreateSessionRequest{Identifier: sandbox.ExpiresNO}, amlapi.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s := waitReady(ctx, t, c, amlapi.KindOrganization, sid)
		// The sandbox's clock expires the entities ExpiresAtOnceLifetime
		// after they are READY: the status says so first.
		testenv.Eventually(t, sandbox.ExpiresAtOnceLifetime+2*time.Second, func() error {
			again, err := c.Session(ctx, amlapi.KindOrganization, sid)
			if err != nil {
				t.Fatalf("status within the lifetime: %v", err)
			}
			if again.JSONData.Status != amlapi.EntityExpired {
				return fmt.Errorf("json is %s", again.JSONData.Status)
			}
			return nil
		})
		_, err = c.Download(ctx, s.JSONData.Link)
		var ae *amlapi.Error
		if !errors.As(err, &ae) || ae.StatusCode != http.StatusGone || amlapi.ClassOf(err) != amlapi.Expired {
			t.Fatalf("download after the lifetime: %v", err)
		}
		again, err := c.Session(ctx, amlapi.KindOrganization, sid)
		if err != nil || again.JSONData.Status != amlapi.EntityExpired {
			t.Fatalf("status after the lifetime: %+v, %v", again, err)
		}
	})
}
