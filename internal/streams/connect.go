package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kybflow/kybflow/natsconn"
)

// Reconnect timing: servers of a cluster come back within seconds (a
// restart, a rolling upgrade), so clients ask again often, with jitter so
// that many replicas do not ask in step.
const (
	reconnectWait   = 250 * time.Millisecond
	reconnectJitter = 250 * time.Millisecond
)

// Conn is a long-running service's NATS connection and what readiness
// needs to know of it: why it is not connected.
type Conn struct {
	*nats.Conn
	state *connState
}

// Connect connects to NATS with settings as a long-running service must:
// it does not fail when no server answers yet (it keeps trying in the
// background, and Check says why it is not connected), reconnects forever,
// and logs disconnects and reconnects. A server that refuses the
// credentials or a certificate that cannot be trusted is said once, as an
// error, with what to check; the connection keeps trying (a credential
// may be granted or a certificate renewed meanwhile), and Check gives the
// reason until it succeeds. It fails only for settings that cannot be
// used at all (natsconn.Settings.Validate). opts come after ours.
func Connect(settings natsconn.Settings, name string, log *slog.Logger, opts ...nats.Option) (*Conn, error) {
	auth, err := settings.Options()
	if err != nil {
		return nil, err
	}
	st := &connState{log: log}
	url := settings.URL
	if url == "" {
		url = nats.DefaultURL
	}
	own := []nats.Option{
		nats.Name(name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		nats.ReconnectJitter(reconnectJitter, reconnectJitter),
		// A refused credential is retried like any other failure (the
		// default gives up after the same one twice, leaving a process that
		// never connects), but said loudly, once: see connState.
		nats.IgnoreAuthErrorAbort(),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				st.failed(err)
				if !natsconn.Refused(err) {
					log.Warn("nats: disconnected", "err", natsconn.Explain(err))
				}
			}
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) { st.failed(err) }),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			st.connected()
			log.Info("nats: reconnected", "server", natsconn.RedactURL(nc.ConnectedUrl()))
		}),
		nats.ConnectHandler(func(nc *nats.Conn) {
			st.connected()
			log.Info("nats: connected", "server", natsconn.RedactURL(nc.ConnectedUrl()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) {
				st.deny(err) // a refused publish or subscription: the connection is fine
			} else {
				st.failed(err)
			}
			if natsconn.Refused(err) {
				return // said once by failed, however often it comes back
			}
			if sub != nil {
				log.Warn("nats: asynchronous error", "subject", sub.Subject, "err", natsconn.Explain(err))
				return
			}
			log.Warn("nats: asynchronous error", "err", natsconn.Explain(err))
		}),
	}
	nc, err := nats.Connect(url, append(append(auth, own...), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", natsconn.RedactURL(url), natsconn.Explain(err))
	}
	c := &Conn{Conn: nc, state: st}
	if nc.IsConnected() {
		st.connected()
	}
	return c, nil
}

// Denied is the last publish or subscription the server refused for the
// user's permissions (nil if none), for readiness to say why a request
// went unanswered.
func (c *Conn) Denied() error {
	c.state.mu.Lock()
	defer c.state.mu.Unlock()
	return c.state.denied
}

// Check is the connection's readiness: nil when connected, otherwise why
// not, with the last error the client saw (a refused credential, an
// untrusted certificate, a server that does not answer).
func (c *Conn) Check(context.Context) error {
	if c.IsConnected() {
		return nil
	}
	if err := c.state.last(); err != nil {
		return fmt.Errorf("not connected: %w", natsconn.Explain(err))
	}
	return errors.New("not connected")
}

// connState remembers the last connection error, and logs a refusal (of
// the credentials or the certificates) once until the next success: a
// client retrying every quarter second would otherwise say it four times a
// second, or, as the default does, never.
type connState struct {
	log *slog.Logger

	mu      sync.Mutex
	err     error
	refused bool  // a refusal was logged since the last success
	denied  error // the last permissions violation
}

func (s *connState) deny(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied = err
}

func (s *connState) failed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
	if refusal(err) && !s.refused {
		s.refused = true
		s.log.Error("nats: the server refused this connection; retrying, but it will not succeed until the configuration or the server changes",
			"err", natsconn.Explain(err))
	}
}

func (s *connState) connected() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err, s.refused = nil, false
}

func (s *connState) last() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// refusal reports whether err is one retrying alone cannot mend: the
// server refused the credentials, or TLS could not be established with the
// certificates given.
func refusal(err error) bool {
	return natsconn.Refused(err)
}
