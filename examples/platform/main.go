// Command platform is a platform's side of kybflow in a module of its own,
// as a team integrating it would write it: it submits two lookups with the
// Go client of github.com/kybflow/kybflow and waits for their endings. Run
// it against development mode (go run ./cmd/kybflow-dev, in the repository):
//
//	NATS_URL=nats://127.0.0.1:4222 go run .
//
// It connects as every kybflow program does (package natsconn): NATS_URL,
// and for a secured NATS NATS_USER and NATS_PASSWORD, NATS_CREDS or
// NATS_NKEY, NATS_CA, NATS_CERT and NATS_KEY, NATS_INBOX_PREFIX; and
// AML_TENANT when the platform is one tenant of a shared deployment.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/client"
	"github.com/kybflow/kybflow/natsconn"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "platform:", err)
		os.Exit(1)
	}
}

func run() error {
	settings := natsconn.FromEnv(natsconn.Settings{InboxPrefix: "_INBOX_kybflow_platform"}, os.LookupEnv)
	nc, err := settings.Connect("platform-example")
	if err != nil {
		return err
	}
	defer nc.Close()
	// A platform sharing the deployment with others has a tenant (its NATS
	// user is allowed only that tenant's subjects): AML_TENANT, as amlctl.
	c, err := client.New(nc, client.WithTenant(os.Getenv("AML_TENANT")))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	suffix := time.Now().UTC().Format("20060102T150405.000000000")

	// A Swedish organization with its AML report: it completes with the
	// JSON result and the report.
	ok := kybflow.LookupCommand{LookupID: "example-se-" + fmtID(suffix), Type: kybflow.TypeOrganization,
		Country: kybflow.CountrySE, Identifier: "5560360793", Reports: []kybflow.ReportType{kybflow.ReportAML}}
	if err := c.Submit(ctx, ok); err != nil {
		return err
	}
	res, err := c.Wait(ctx, ok.LookupID)
	if err != nil {
		return err
	}
	if res.Completed == nil {
		return fmt.Errorf("%s: %s: %s", ok.LookupID, res.Failed.Code, res.Failed.Reason)
	}
	fmt.Printf("%s completed with %d artifacts\n", ok.LookupID, len(res.Completed.Artifacts))
	for _, a := range res.Completed.Artifacts {
		fmt.Printf("  %s %d bytes sha256 %s at %s/%s\n", a.Name, a.Size, a.SHA256, a.Bucket, a.Key)
	}

	// A Norwegian organization number with a wrong check digit: the lookup
	// ends failed, with code invalid_identifier.
	bad := kybflow.LookupCommand{LookupID: "example-no-" + fmtID(suffix), Type: kybflow.TypeOrganization,
		Country: kybflow.CountryNO, Identifier: "923609017"}
	if err := c.Submit(ctx, bad); err != nil {
		return err
	}
	if res, err = c.Wait(ctx, bad.LookupID); err != nil {
		return err
	}
	if res.Failed == nil {
		return fmt.Errorf("%s completed; a wrong check digit should fail", bad.LookupID)
	}
	fmt.Printf("%s failed: %s (%s)\n", bad.LookupID, res.Failed.Code, res.Failed.Reason)
	return nil
}

// fmtID keeps what a lookupId may hold: A-Z a-z 0-9 _ -.
func fmtID(s string) string {
	out := []byte(s)
	for i, b := range out {
		if !(b >= '0' && b <= '9' || b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b == '-' || b == '_') {
			out[i] = '-'
		}
	}
	return string(out)
}
