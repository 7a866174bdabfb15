package handler

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/budget"
	"github.com/kybflow/kybflow/internal/lookups"
)

// Metrics of the pipeline. Register them on an injected registry; a test
// makes a fresh one.
type Metrics struct {
	LookupsAccepted  prometheus.Counter
	LookupsCompleted prometheus.Counter
	LookupsFailed    *prometheus.CounterVec // by code
	SessionsOpened   *prometheus.CounterVec // by source: on_demand, monitor
	BudgetWaits      *prometheus.CounterVec // by source: sessions that waited for the budget
	ArtifactsStored  prometheus.Counter
	BytesStored      prometheus.Counter
	Polls            prometheus.Counter
	Webhooks         *prometheus.CounterVec // by event
	Events           *prometheus.CounterVec // by kind, first publish only
	TransientErrors  *prometheus.CounterVec // by operation
	DeadLetters      prometheus.Counter
	LookupDuration   prometheus.Histogram
	Unreadable       prometheus.Counter     // session answers we could not read
	SessionNotFound  *prometheus.CounterVec // by cause: expired, soon_after_create
	EndingsRepaired  prometheus.Counter     // endings a later delivery found missing and published
	ReportSignatures *prometheus.CounterVec // reports stored, by signature status
}

// NewMetrics makes the metrics and registers them on reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		LookupsAccepted:  prometheus.NewCounter(prometheus.CounterOpts{Name: "kybflow_lookups_accepted_total", Help: "Valid lookup commands recorded."}),
		LookupsCompleted: prometheus.NewCounter(prometheus.CounterOpts{Name: "kybflow_lookups_completed_total", Help: "Lookups completed with every artifact stored."}),
		LookupsFailed:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kybflow_lookups_failed_total", Help: "Lookups failed, by failure code."}, []string{"code"}),
		SessionsOpened:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kybflow_sessions_opened_total", Help: "BankID AML sessions opened (each costs money), by source: on_demand or monitor."}, []string{"source"}),
		BudgetWaits:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kybflow_session_budget_waits_total", Help: "Sessions not opened yet because SESSION_BUDGET was used up (the command waits for the next window), by source."}, []string{"source"}),
		ArtifactsStored:  prometheus.NewCounter(prometheus.CounterOpts{Name: "kybflow_artifacts_stored_total", Help: "Results (JSON, reports) stored."}),
		BytesStored:      prometheus.NewCounter(prometheus.CounterOpts{Name: "kybflow_artifact_bytes_stored_total", Help: "Bytes of results stored."}),
		Polls:            prometheus.NewCounter(prometheus.CounterOpts{Name: "kybflow_session_status_calls_total", Help: "Session status calls (polls and webhook confirmations)."}),
		Webhooks:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kybflow_webhooks_handled_total", Help: "Webhooks handled by the worker, by event."}, []string{"event"}),
		Events:           prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kybflow_events_published_total", Help: "Events published, by kind."}, []string{"kind"}),
		TransientErrors:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kybflow_transient_errors_total", Help: "Transient errors that will be retried, by operation."}, []string{"operation"}),
		DeadLetters:      prometheus.NewCounter(prometheus.CounterOpts{Name: "kybflow_dead_letters_total", Help: "Commands dead-lettered."}),
		LookupDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kybflow_lookup_duration_seconds", Help: "Time from accepted to completed.",
			Buckets: prometheus.ExponentialBuckets(0.25, 2, 16),
		}),
		Unreadable: prometheus.NewCounter(prometheus.CounterOpts{Name: "kybflow_session_answers_unreadable_total", Help: "Session answers (2xx) the client could not read; model.go may not match the API."}),
		SessionNotFound: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kybflow_session_not_found_total",
			Help: "Session status calls answered 404, by cause: expired (older than the results' lifetime) or soon_after_create (the model's session path may be wrong)."}, []string{"cause"}),
		EndingsRepaired: prometheus.NewCounter(prometheus.CounterOpts{Name: "kybflow_endings_repaired_total",
			Help: "Endings a later delivery found missing from the events stream and published (a worker died between writing an ending and publishing it, or the delivery raced that publish)."}),
		ReportSignatures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kybflow_report_signatures_total",
			Help: "Reports stored, by the status of their signature: valid, invalid, unsigned, untrusted."}, []string{"status"}),
	}
	if reg != nil {
		reg.MustRegister(m.LookupsAccepted, m.LookupsCompleted, m.LookupsFailed, m.SessionsOpened, m.BudgetWaits, m.ArtifactsStored,
			m.BytesStored, m.Polls, m.Webhooks, m.Events, m.TransientErrors, m.DeadLetters, m.LookupDuration,
			m.Unreadable, m.SessionNotFound, m.EndingsRepaired, m.ReportSignatures)
	}
	for _, s := range kybflow.SignatureStatuses() {
		m.ReportSignatures.WithLabelValues(string(s))
	}
	for _, s := range []budget.Source{budget.OnDemand, budget.Monitor} {
		m.SessionsOpened.WithLabelValues(string(s))
		m.BudgetWaits.WithLabelValues(string(s))
	}
	return m
}

func (m *Metrics) lookupFailed(code kybflow.FailureCode) {
	m.LookupsFailed.WithLabelValues(string(code)).Inc()
}

func (m *Metrics) lookupCompleted(rec lookups.Record) {
	m.LookupsCompleted.Inc()
	if !rec.AcceptedAt.IsZero() {
		m.LookupDuration.Observe(rec.FinishedAt.Sub(rec.AcceptedAt).Seconds())
	}
}
