package cli

// amlctl monitors list, show and delete --erase-history as the operator's
// NATS user of the shipped deploy/nats/kybflow-users.conf: every subject
// they need is granted (this is how the grants were found: a request
// refused is never answered, a flow control reply refused stalls a listing
// of many keys, a consumer delete refused leaves the consumer behind).

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/testenv"
)

// shippedUsersNATS starts NATS with the shipped users (their passwords
// "pw-<role>") and an unrestricted user admin, for the test's own setup;
// it returns the server's URL and admin's JetStream.
func shippedUsersNATS(t *testing.T) (string, jetstream.JetStream) {
	t.Helper()
	users := testenv.ShippedUsers(t, "../../deploy/nats/kybflow-users.conf")
	srv := testenv.NATSWithUsers(t, append(users, &server.User{Username: "admin", Password: "admin"})...)
	nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("admin", "admin"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return srv.ClientURL(), js
}

// consumers is the number of consumers on stream.
func consumers(t *testing.T, js jetstream.JetStream, stream string) int {
	t.Helper()
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Consumers
}

func TestMonitorsAsOperator(t *testing.T) {
	t.Parallel()
	url, admin := shippedUsersNATS(t)
	e := newMonitorEnvOn(t, url, admin)
	ctx := context.Background()
	dir := blobDir(t)
	op := map[string]string{"NATS_URL": url, "NATS_USER": "kybflow-operator", "NATS_PASSWORD": "pw-OPERATOR", "BLOB_DIR": dir, "EVENT_SOURCE": "urn:test"}
	e.monitor("acme.kyc-1", kybflow.Schedule{Every: "24h"}, kybflow.MonitorActive)
	e.monitor("kyc-2", kybflow.Schedule{Cron: "0 0 6 * * MON"}, kybflow.MonitorActive)

	r := amlctl(ctx, op, "monitors", "list")
	if r.code != 0 || strings.Count(r.stdout, "\n") != 3 || !strings.Contains(r.stderr, "2 monitors") {
		t.Fatalf("list as the operator:\n%s", r)
	}
	r = amlctl(ctx, op, "monitors", "show", "acme.kyc-1")
	if r.code != 0 || !strings.Contains(r.stdout, "  next run     20") {
		t.Fatalf("show as the operator: want its next run:\n%s", r)
	}
	if n := consumers(t, admin, "KV_AML_MONITORS"); n != 0 {
		t.Errorf("%d consumers left on KV_AML_MONITORS: the listing's was not deleted", n)
	}

	// Enough keys that listing them needs flow control, which a refused
	// reply stalls: the operator lists 20,000 monitors' keys (as list
	// does, without reading each), and a run after 20,000 lookups.
	fill(t, admin, "$KV.AML_MONITORS.acme.filler-", 20000)
	opNC, err := nats.Connect(url, nats.UserInfo("kybflow-operator", "pw-OPERATOR"), nats.CustomInboxPrefix("_INBOX_kybflow_amlctl"))
	if err != nil {
		t.Fatal(err)
	}
	defer opNC.Close()
	opJS, err := jetstream.New(opNC)
	if err != nil {
		t.Fatal(err)
	}
	listCtx, cancelList := context.WithTimeout(ctx, 30*time.Second)
	defer cancelList()
	kv, err := opJS.KeyValue(listCtx, "AML_MONITORS")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.ListKeys(listCtx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range keys.Keys() {
		n++
	}
	if n != 20002 {
		t.Errorf("the operator listed %d keys of AML_MONITORS, want 20002", n)
	}
	fill(t, admin, "$KV.AML_LOOKUPS.acme.filler-", 20000)
	e.runRecord("acme.kyc-1-r1772443815", "kyc-1", lookups.Completed)
	e.put(dir, "acme.kyc-1-r1772443815", "json")
	store, _, _ := e.stores()

	op["AML_TENANT"] = "acme"
	// A listing stalled (flow control refused) would never end.
	deleteCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	done := e.run(deleteCtx, op, "monitors", "delete", "--erase-history", "--timeout", "20s", "kyc-1")
	if err := store.Delete(ctx, "acme.kyc-1"); err != nil {
		t.Fatal(err)
	}
	e.answer("acme.kyc-1", 1, kybflow.MonitorData{MonitorID: "kyc-1", Tenant: "acme", Action: kybflow.MonitorDelete, Status: kybflow.MonitorDeleted})
	r = <-done
	if r.code != 0 || !strings.Contains(r.stdout, "monitor kyc-1: 1 run to erase (1 with a record, 0 with objects only)") ||
		!strings.Contains(r.stdout, "monitor kyc-1: 1 monitor event and 0 dead letters of its commands erased") ||
		!strings.Contains(r.stdout, "history erased (1 run)") || objects(dir, "acme.kyc-1-r1772443815") != 0 {
		t.Fatalf("delete --erase-history as the operator:\n%s", r)
	}
	if n := consumers(t, admin, "KV_AML_LOOKUPS"); n != 0 {
		t.Errorf("%d consumers left on KV_AML_LOOKUPS: the listing's was not deleted", n)
	}
	// The answer is awaited by subscription (direct gets every few seconds
	// would find it too, later): the operator may subscribe to it.
	for _, subject := range []string{"aml.events.acme.kyc-1.monitor", "aml.events.kyc-1.monitor"} {
		denied := make(chan error, 1)
		nc, err := nats.Connect(url, nats.UserInfo("kybflow-operator", "pw-OPERATOR"), nats.CustomInboxPrefix("_INBOX_kybflow_amlctl"),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { denied <- err }))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nc.SubscribeSync(subject); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-denied:
			t.Errorf("subscribe to %s as the operator: %v", subject, err)
		case <-time.After(200 * time.Millisecond):
		}
		nc.Close()
	}
	if _, subject, msgID := e.command(1); subject != "aml.commands.monitor.acme" || !strings.HasPrefix(msgID, "acme.kyc-1.monitor.delete.") {
		t.Errorf("the delete command: on %s, Nats-Msg-Id %s", subject, msgID)
	}
}

// fill publishes n keys prefix<i> to a bucket.
func fill(t *testing.T, js jetstream.JetStream, prefix string, n int) {
	t.Helper()
	for i := range n {
		if _, err := js.PublishAsync(prefix+strconv.Itoa(i), []byte("{}")); err != nil {
			t.Fatal(err)
		}
		if i%2000 == 1999 || i == n-1 {
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(30 * time.Second):
				t.Fatalf("%s keys not stored within 30s", prefix)
			}
		}
	}
}
