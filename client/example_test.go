package client_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/client"
)

// A platform submits a lookup and waits for its ending. (It needs a NATS
// server with a worker; see examples/platform for a whole program.)
func ExampleClient_Submit() {
	nc, err := nats.Connect(os.Getenv("NATS_URL"))
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	c, err := client.New(nc)
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := kybflow.LookupCommand{LookupID: "onb-2026-000123", Type: kybflow.TypeOrganization,
		Country: kybflow.CountrySE, Identifier: "5560360793", Reports: []kybflow.ReportType{kybflow.ReportAML}}
	switch err := c.Submit(ctx, cmd); {
	case errors.Is(err, client.ErrLookupIDConflict):
		fmt.Println("that lookupId is taken by another lookup; use a new one")
		return
	case errors.Is(err, client.ErrCommandsFull):
		fmt.Println("the workers are behind and the commands stream is full; submit it again later")
		return
	case err != nil:
		panic(err) // a malformed command (a *kybflow.CommandError), or NATS trouble
	}
	res, err := c.Wait(ctx, cmd.LookupID)
	if err != nil {
		panic(err)
	}
	if res.Failed != nil {
		fmt.Println("failed:", res.Failed.Code, res.Failed.Reason, "retryable:", res.Failed.Retryable)
		return
	}
	for _, a := range res.Completed.Artifacts {
		fmt.Println(a.Name, a.Size, a.Bucket+"/"+a.Key)
	}
}

// A downstream service follows every ending with a durable consumer: what
// its handler fails on comes again, and a restart continues where it was.
func ExampleClient_Events() {
	nc, err := nats.Connect(os.Getenv("NATS_URL"))
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	c, err := client.New(nc)
	if err != nil {
		panic(err)
	}
	err = c.Events(context.Background(), func(ev kybflow.Event) error {
		switch d := ev.Data.(type) {
		case kybflow.CompletedData:
			fmt.Println(d.LookupID, "completed with", len(d.Artifacts), "artifacts")
		case kybflow.FailedData:
			fmt.Println(d.LookupID, "failed:", d.Code)
		}
		return nil
	}, client.Durable("crm-sync"), client.OfKinds(kybflow.KindCompleted, kybflow.KindFailed))
	if err != nil {
		panic(err)
	}
}

// Fetching an artifact checks it against its event's size and sha256.
func ExampleFetchArtifact() {
	var d kybflow.CompletedData // from a completed event
	for _, a := range d.Artifacts {
		f, err := os.CreateTemp(".", a.Name+".*.part")
		if err != nil {
			panic(err)
		}
		// client.S3Source(minioClient) when the worker stores in S3.
		if err := client.FetchArtifact(context.Background(), client.DirSource("/var/lib/kybflow/results"), a, f); err != nil {
			f.Close()
			os.Remove(f.Name())
			panic(err)
		}
		f.Close()
	}
}

// A platform creates a monitor, which looks an organization up every week
// for a year, and waits for the worker to answer. A retry after an unknown
// outcome gives the same WithCommandID, so that the monitor is created
// once. (It needs a NATS server with a worker.)
func ExampleClient_CreateMonitor() {
	nc, err := nats.Connect(os.Getenv("NATS_URL"))
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	c, err := client.New(nc, client.WithTenant("acme"))
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lookup := kybflow.LookupCommand{Type: kybflow.TypeOrganization, Identifier: "923609016", Expands: []string{"roles", "ownership"}}
	sent, err := c.CreateMonitor(ctx, "kyc-923609016", lookup, kybflow.Schedule{Every: "168h"},
		client.Until(time.Now().AddDate(1, 0, 0)), client.WithCorrelationID("case-77"), client.WithCommandID("case-77-monitor"))
	if err != nil {
		panic(err) // a malformed command (a *kybflow.CommandError), or NATS trouble
	}
	res, err := c.WaitMonitor(ctx, sent)
	if err != nil {
		panic(err)
	}
	if !res.Applied() {
		fmt.Println("rejected:", res.Monitor.Code, res.Monitor.Reason)
		return
	}
	fmt.Println("monitor", res.Monitor.MonitorID, res.Monitor.Status)
}
