package worker

// The national registry access note of /readyz and its gauge.

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kybflow/kybflow/internal/amlapi"
)

// accessRights keeps what the AML API says of our National Registry
// access (which the beneficial owners expands citizenship, birthplace and
// ssn need), re-read every ACCESS_RIGHTS_INTERVAL: it changes when a
// delegation is granted or revoked, without a restart. It is shown in
// /metrics and in the body of /readyz, never in its status: without access
// lookups still complete, with those fields left out (and said so in their
// completed events).
type accessRights struct {
	gauge *prometheus.GaugeVec
	mu    sync.Mutex
	last  string // what /readyz shows
}

func newAccessRights(reg prometheus.Registerer) *accessRights {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kybflow_national_registry_access", Help: "1 for the National Registry access the AML API last reported (GRANTED, PENDING, MISSING, or unknown when it could not be read), 0 for the others.",
	}, []string{"access"})
	reg.MustRegister(g)
	return &accessRights{gauge: g, last: "not read yet"}
}

// accessRightsTimeout bounds one read of the access rights.
const accessRightsTimeout = 10 * time.Second

// read asks the API once and records the answer.
func (a *App) readAccessRights(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, accessRightsTimeout)
	defer cancel()
	ar, err := a.api.AccessRights(ctx)
	value, shown := "unknown", ""
	if err != nil {
		a.log.Warn("could not read access rights", "err", err)
		shown = "unknown (" + amlapi.ClassOf(err).String() + " error reading it)"
	} else {
		value = string(ar.NationalRegistry)
		shown = value
	}
	r := a.access
	r.mu.Lock()
	changed := r.last != shown
	r.last = shown
	r.mu.Unlock()
	for _, v := range []string{string(amlapi.AccessGranted), string(amlapi.AccessPending), string(amlapi.AccessMissing), "unknown"} {
		r.gauge.WithLabelValues(v).Set(0)
	}
	if value != "unknown" && value != string(amlapi.AccessGranted) && value != string(amlapi.AccessPending) && value != string(amlapi.AccessMissing) {
		value = "unknown" // a value the model does not know: a closed label set
	}
	r.gauge.WithLabelValues(value).Set(1)
	if changed && err == nil {
		a.log.Info("access rights", "national_registry", string(ar.NationalRegistry))
	}
}

// note is the /readyz line.
func (r *accessRights) note() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// watchAccessRights reads the access rights now and every interval until
// ctx ends.
func (a *App) watchAccessRights(ctx context.Context) error {
	t := time.NewTicker(a.cfg.AccessRightsInterval)
	defer t.Stop()
	for {
		a.readAccessRights(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
