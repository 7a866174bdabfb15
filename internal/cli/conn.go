package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/client"
	"github.com/kybflow/kybflow/natsconn"
)

// connectTimeout bounds the connection to each NATS server, so that a wrong
// NATS_URL fails in seconds.
const connectTimeout = 3 * time.Second

// natsSettings are the variables every command reads: where NATS is and
// how to connect to it (the group every kybflow binary reads), and which
// subjects and streams the worker uses.
type natsSettings struct {
	nats   natsconn.Settings
	prefix string
	tenant string
}

func (n *natsSettings) register(f *flags) {
	n.nats = natsconn.Settings{URL: nats.DefaultURL, InboxPrefix: "_INBOX_kybflow_amlctl"}
	f.set.NATS(&n.nats)
	f.set.SubjectPrefix(&n.prefix)
	f.set.String(&n.tenant, "AML_TENANT", "tenant", "",
		"the platform's tenant, when the deployment keeps platforms apart: lookups are then this tenant's (a LOOKUP_ID may also be given as tenant.lookupId)")
}

// key is the lookup key (tenant.lookupId, or the lookupId) that id names:
// a lookupId of AML_TENANT's, or without AML_TENANT a lookupId or a key.
func (n *natsSettings) key(id string) (string, error) {
	if n.tenant != "" {
		if !kybflow.ValidTenant(n.tenant) {
			return "", usagef("AML_TENANT %q: want 1 to %d of A-Z a-z 0-9 _ -", n.tenant, kybflow.MaxTenantLength)
		}
		if !kybflow.ValidLookupID(id) {
			return "", usagef("%q is not a lookupId: want 1 to 128 of A-Z a-z 0-9 _ -", id)
		}
		return kybflow.LookupKey(n.tenant, id), nil
	}
	if !kybflow.ValidLookupKey(id) {
		return "", usagef("%q is not a lookupId (1 to 128 of A-Z a-z 0-9 _ -) or a tenant's tenant.lookupId", id)
	}
	return id, nil
}

// subjects checks the prefix.
func (n *natsSettings) subjects() (kybflow.Subjects, error) {
	s, err := kybflow.NewSubjects(n.prefix)
	if err != nil {
		return s, usagef("AML_SUBJECT_PREFIX: %v", err)
	}
	return s, nil
}

// connect connects to NATS. The caller closes the connection.
func (n *natsSettings) connect() (*nats.Conn, jetstream.JetStream, error) {
	opts, err := n.nats.Options()
	if err != nil {
		return nil, nil, usagef("%v", err)
	}
	nc, err := nats.Connect(n.nats.URL, append(opts, nats.Name("amlctl"), nats.Timeout(connectTimeout))...)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot reach NATS at %s (set NATS_URL and the NATS_* credentials): %w",
			natsconn.RedactURL(n.nats.URL), natsconn.Explain(err))
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("JetStream at %s: %w", natsconn.RedactURL(n.nats.URL), err)
	}
	return nc, js, nil
}

// newClient is the public Go client on nc, for the deployment's subjects.
func newClient(nc *nats.Conn, s kybflow.Subjects, tenant string) (*client.Client, error) {
	c, err := client.New(nc, client.WithSubjectPrefix(s.Prefix), client.WithTenant(tenant))
	if err != nil {
		return nil, usagef("AML_TENANT: %v", err)
	}
	return c, nil
}

// streamError explains an error of an operation on stream: a missing
// stream (or a publish nobody answered) means that no worker has created
// the topology yet, or that it uses another prefix.
func streamError(s kybflow.Subjects, stream string, err error) error {
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound), errors.Is(err, jetstream.ErrNoStreamResponse),
		errors.Is(err, nats.ErrNoResponders):
		msg := fmt.Sprintf("stream %s not found: the worker has not started (it creates the streams at start)", stream)
		if s.Prefix != "" && s.Prefix != kybflow.DefaultPrefix {
			msg += fmt.Sprintf(", or it does not use AML_SUBJECT_PREFIX %q", s.Prefix)
		}
		return errors.New(msg)
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return fmt.Errorf("stream %s: JetStream is not enabled on this NATS server or account; kybflow needs it: %w", stream, err)
	}
	return fmt.Errorf("stream %s: %w", stream, err)
}

// explainMissing is streamError's explanation of err when stream is
// missing (the worker has not made it), else err as it is.
func explainMissing(s kybflow.Subjects, stream string, err error) error {
	if explained := streamError(s, stream, err); !errors.Is(explained, err) {
		return explained
	}
	return err
}
