package natsconn_test

import (
	"fmt"

	"github.com/kybflow/kybflow/natsconn"
)

// A program reads the NATS CLI's variables (os.LookupEnv in a program; a
// map here), checks them at start, and connects with Connect or Options.
// Printing or logging the settings shows no secret.
func ExampleFromEnv() {
	env := map[string]string{"NATS_URL": "tls://nats-0:4222", "NATS_USER": "kybflow-platform", "NATS_PASSWORD": "s3cret"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	s := natsconn.FromEnv(natsconn.Settings{InboxPrefix: "_INBOX_kybflow_platform"}, lookup)
	if err := s.Validate(); err != nil {
		fmt.Println(err) // each problem names its variable
		return
	}
	fmt.Println(s)
	fmt.Println(natsconn.RedactURL("nats://alice:s3cret@nats-0:4222,nats://nats-1:4222"))
	// Output:
	// [url=tls://nats-0:4222 auth=user kybflow-platform and password tls=true inbox_prefix=_INBOX_kybflow_platform]
	// nats://redacted@nats-0:4222,nats://nats-1:4222
}
