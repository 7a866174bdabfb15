package console

// The health page: how full each stream is (internal/streams'
// FillCollector, the worker's kybflow_stream_* series, read once), what
// the worker's consumers have pending, and what the session budget has
// left (internal/budget on the bucket <PREFIX>_BUDGET, with the worker's
// SESSION_BUDGET). National Registry access is the worker's to read: it
// reports it on its own /metrics and /readyz only, not in NATS.

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kybflow/kybflow/internal/budget"
	"github.com/kybflow/kybflow/internal/streams"
)

// healthTimeout bounds the reads of the health page, all together.
const healthTimeout = 10 * time.Second

type streamRow struct {
	Name            string
	Bytes, MaxBytes int64
	Messages        int64
	Percent         float64 // of MaxBytes; 0 without one
	Consumers       []consumerRow
	Problem         string
}

type consumerRow struct {
	Name                             string
	Pending, AckPending, Redelivered uint64
	Waiting                          int
	LastActive                       time.Time
}

type budgetRow struct {
	Limit budget.Limit
	Left  int
}

type healthView struct {
	Streams       []streamRow
	Problem       string // the streams could not be read
	Budget        []budgetRow
	BudgetProblem string // why it is not shown
	BudgetBucket  string
}

// health is GET /health.
func (s *server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	d := s.Deployment
	v := healthView{BudgetBucket: d.names().BudgetBucket()}
	v.Streams, v.Problem = s.streamFill(ctx)
	for i := range v.Streams {
		s.consumers(ctx, &v.Streams[i])
	}
	if len(d.settings.Budget) == 0 {
		v.BudgetProblem = "The console is not given the worker's SESSION_BUDGET: without it, what the budget has left is not shown (without one, the worker opens sessions without a cap)."
	} else if kv, err := d.js.KeyValue(ctx, d.names().BudgetBucket()); err != nil {
		v.BudgetProblem = missing(d.names().BudgetBucket(), err)
	} else if left, err := budget.New(kv, d.settings.Budget, s.Now).Left(ctx); err != nil {
		v.BudgetProblem = err.Error()
	} else {
		for _, l := range d.settings.Budget {
			v.Budget = append(v.Budget, budgetRow{Limit: l, Left: left[l]})
		}
	}
	s.render(w, r, http.StatusOK, "health", "Health", v)
}

// streamFill reads the worker's streams and bucket through a
// FillCollector, into rows by name.
func (s *server) streamFill(ctx context.Context) ([]streamRow, string) {
	d := s.Deployment
	timeout := healthTimeout / 2
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl) / 2
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(streams.NewFillCollector(d.js, streams.Topology{Subjects: d.subjects}, timeout)); err != nil {
		return nil, err.Error()
	}
	families, err := reg.Gather()
	if err != nil {
		return nil, err.Error()
	}
	rows := map[string]*streamRow{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			name := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "stream" {
					name = l.GetValue()
				}
			}
			row := rows[name]
			if row == nil {
				row = &streamRow{Name: name}
				rows[name] = row
			}
			n := int64(m.GetGauge().GetValue())
			switch f.GetName() {
			case "kybflow_stream_bytes":
				row.Bytes = n
			case "kybflow_stream_max_bytes":
				row.MaxBytes = n
			case "kybflow_stream_messages":
				row.Messages = n
			}
		}
	}
	out := make([]streamRow, 0, len(rows))
	for _, row := range rows {
		if row.MaxBytes > 0 {
			row.Percent = float64(row.Bytes) * 100 / float64(row.MaxBytes)
		}
		out = append(out, *row)
	}
	slices.SortFunc(out, func(a, b streamRow) int { return cmp.Compare(a.Name, b.Name) })
	if len(out) == 0 {
		return nil, "No stream could be read: NATS does not answer, or the worker has not made them yet."
	}
	return out, ""
}

// consumers adds the durable consumers of row's stream: the worker's (the
// console's own and clients' are ephemeral).
func (s *server) consumers(ctx context.Context, row *streamRow) {
	st, err := s.Deployment.js.Stream(ctx, row.Name)
	if err != nil {
		row.Problem = err.Error()
		return
	}
	list := st.ListConsumers(ctx)
	for info := range list.Info() {
		if info.Config.Durable == "" {
			continue
		}
		c := consumerRow{Name: info.Name, Pending: info.NumPending, AckPending: uint64(info.NumAckPending), //nolint:gosec // G115: a count
			Redelivered: uint64(info.NumRedelivered), Waiting: info.NumWaiting} //nolint:gosec // G115: a count
		if info.Delivered.Last != nil {
			c.LastActive = *info.Delivered.Last
		}
		row.Consumers = append(row.Consumers, c)
	}
	if err := list.Err(); err != nil {
		row.Problem = err.Error()
	}
	slices.SortFunc(row.Consumers, func(a, b consumerRow) int { return cmp.Compare(a.Name, b.Name) })
}
