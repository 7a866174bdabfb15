package amlapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
)

// fakeAML stands in for the AML API and its token endpoint.
func fakeAML() *httptest.Server {
	const id = "3b9f6c1e-0000-4000-8000-000000000001"
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reply := func(status int, v any) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(v)
		}
		switch {
		case r.URL.Path == "/token":
			reply(http.StatusOK, map[string]any{"access_token": "t0k3n", "token_type": "Bearer", "expires_in": 300})
		case r.Header.Get("Authorization") != "Bearer t0k3n":
			reply(http.StatusUnauthorized, amlapi.ErrorBody{ErrorCode: amlapi.CodeUnauthorized})
		case r.Method == http.MethodPost && r.URL.Path == amlapi.CreateOrganizationPath(amlapi.NO):
			reply(http.StatusCreated, amlapi.SessionCreated{SessionID: id})
		case r.URL.Path == amlapi.SessionPath(amlapi.KindOrganization, id):
			expires := amlapi.NewTime(time.Now().Add(amlapi.Lifetime))
			reply(http.StatusOK, amlapi.Session{SessionID: id, Status: amlapi.SessionDone, Created: amlapi.NewTime(time.Now()),
				JSONData: amlapi.Entity{Status: amlapi.EntityReady, Link: amlapi.JSONLinkPath(amlapi.KindOrganization, id), Expires: &expires}})
		case r.URL.Path == amlapi.JSONLinkPath(amlapi.KindOrganization, id):
			w.Header().Set("Content-Type", amlapi.ContentTypeJSON)
			_, _ = io.WriteString(w, `{"keyInformation": {"name": "Nordlys Eksempel AS", "organizationNumber": "923609016"},
				"ownership": {"beneficials": []}}`)
		default:
			reply(http.StatusNotFound, amlapi.ErrorBody{ErrorCode: amlapi.CodeNotFound, ErrorMessage: "unknown session", TraceID: "abc"})
		}
	}))
}

func Example() {
	srv := fakeAML()
	defer srv.Close()

	client, err := amlapi.New(amlapi.Config{
		BaseURL:      srv.URL,            // e.g. https://aml.bankidapis.no
		TokenURL:     srv.URL + "/token", // or IssuerURL, to discover it
		ClientID:     "my-client",
		ClientSecret: "my-secret",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()

	// Open a session: the identifier is checked and normalized first.
	id, err := client.CreateOrganizationSession(ctx, amlapi.NO, amlapi.CreateSessionRequest{
		Identifier: "923 609 016",
		Expands:    []string{"ownership.beneficials"},
	}, amlapi.CreateOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}

	// Poll it (or wait for a webhook, then confirm it this way).
	s, err := client.Session(ctx, amlapi.KindOrganization, id)
	if err != nil || s.JSONData.Status != amlapi.EntityReady {
		fmt.Println("not ready:", err)
		return
	}

	// Download the JSON result and decode it.
	d, err := client.Download(ctx, s.JSONData.Link)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Body.Close()
	doc, err := amlapi.DecodeOrganization(d.Body)
	if err != nil {
		fmt.Println(err)
		return
	}
	ki, _ := doc.KeyInformation.Found()
	fmt.Println(ki.Name, ki.OrganizationNumber)
	fmt.Println("beneficial owners:", doc.Ownership.Value.Beneficials.State)
	fmt.Println("sanction:", doc.Sanction.State)

	// React to errors by their class.
	_, err = client.Session(ctx, amlapi.KindOrganization, "long-gone")
	switch amlapi.ClassOf(err) {
	case amlapi.Expired:
		fmt.Println("expired, open a new session:", err)
	case amlapi.Transient:
		fmt.Println("try again later:", err)
	case amlapi.Permanent:
		fmt.Println("give up:", err)
	}

	// Output:
	// Nordlys Eksempel AS 923609016
	// beneficial owners: empty
	// sanction: not requested
	// expired, open a new session: amlapi: get organization session: 404 SESSION_NOT_FOUND: unknown session (trace abc)
}
