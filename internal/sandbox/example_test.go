package sandbox_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/testenv"
)

// Example starts a sandbox on a free port and walks one organization
// session with plain net/http: token, create, poll, download.
func Example() {
	srv, err := sandbox.Start(sandbox.Config{ReadyAfter: 50 * time.Millisecond}, "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	// A token, by the client-credentials grant (HTTP Basic).
	req, _ := http.NewRequest(http.MethodPost, srv.TokenURL(), strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(sandbox.DefaultClientID, sandbox.DefaultClientSecret)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	call(req, &tok)
	bearer := func(r *http.Request) *http.Request {
		r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		return r
	}

	// Create a Norwegian organization session.
	body := `{"identifier":"974760673","expands":["roles"],"reports":["aml"]}`
	req, _ = http.NewRequest(http.MethodPost, srv.URL()+amlapi.CreateOrganizationPath(amlapi.NO), strings.NewReader(body))
	var created amlapi.SessionCreated
	fmt.Println("create:", call(bearer(req), &created))

	// Poll until DONE, then fetch the JSON through its link.
	var s amlapi.Session
	if err := testenv.Poll(10*time.Second, func() error {
		req, _ = http.NewRequest(http.MethodGet, srv.URL()+amlapi.SessionPath(amlapi.KindOrganization, created.SessionID), nil)
		call(bearer(req), &s)
		if s.Status != amlapi.SessionDone {
			return errors.New("session " + string(s.Status))
		}
		return nil
	}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("json:", s.JSONData.Status, "report:", s.Reports[amlapi.ReportAML].Status)
	var doc struct {
		KeyInformation struct{ Name, OrganizationNumber string }
	}
	req, _ = http.NewRequest(http.MethodGet, s.JSONData.Link, nil)
	call(bearer(req), &doc)
	fmt.Println(doc.KeyInformation.Name, doc.KeyInformation.OrganizationNumber)
	// Output:
	// create: 201
	// json: READY report: READY
	// Kvitfjell Bygg AS 974760673
}

func call(req *http.Request, v any) int {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return 0
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		fmt.Println(err)
	}
	return resp.StatusCode
}
