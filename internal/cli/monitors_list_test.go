package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/monitors"
	"github.com/kybflow/kybflow/internal/testenv"
)

// TestMonitorsListShow: list and show read the records the worker writes
// (monitors.Store) and the schedules (AML_SCHEDULES): the next run of an
// every schedule, before its first fire and from its fires, of a cron one
// in its zone, none for a paused one; and each one's cost.
func TestMonitorsListShow(t *testing.T) {
	t.Parallel()
	e := newMonitorEnv(t)
	ctx := context.Background()
	due := time.Date(2026, 3, 2, 9, 30, 15, 0, time.UTC)
	weekly := e.monitor("acme.kyc-1", kybflow.Schedule{Every: "168h"}, kybflow.MonitorActive,
		monitors.Run{LookupID: "kyc-1-r1772443815", At: due.Add(-168 * time.Hour), JSON: kybflow.Artifact{Key: "lookups/acme.kyc-1-r1772443815/json.json"}},
		monitors.Run{LookupID: "kyc-1-r1773048615", At: due, JSON: kybflow.Artifact{Key: "lookups/acme.kyc-1-r1773048615/json.json"}})
	cron := kybflow.Schedule{Cron: "0 0 6 * * MON", TimeZone: "Europe/Oslo"}
	e.monitor("kyc-2", cron, kybflow.MonitorActive)
	e.monitor("acme.kyc-3", kybflow.Schedule{Every: "24h"}, kybflow.MonitorPaused)
	e.monitor("acme.kyc-4", kybflow.Schedule{Every: "1s"}, kybflow.MonitorActive)
	_, schedules, _ := e.stores()
	set, err := schedules.Timing(ctx, "acme.kyc-1")
	if err != nil || set.Set.IsZero() {
		t.Fatalf("the schedule of acme.kyc-1: %+v, %v", set, err)
	}
	testenv.Eventually(t, 10*time.Second, func() error { // kyc-4 has fired
		tm, err := schedules.Timing(ctx, "acme.kyc-4")
		if err == nil && tm.Fired.IsZero() {
			return fmt.Errorf("no fire of acme.kyc-4 yet: %+v", tm)
		}
		return err
	})

	t.Run("list", func(t *testing.T) {
		start := time.Now()
		r := amlctl(ctx, e.env, "monitors", "list")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 0 || len(lines) != 5 || !strings.HasPrefix(lines[0], "MONITOR ") || !strings.Contains(lines[0], "NEXT RUN") ||
			!strings.Contains(r.stderr, "4 monitors in AML_MONITORS, 3 active: their schedules cost ") {
			t.Fatalf("want exit 0, a header and 4 monitors, the total on stderr:\n%s", r)
		}
		weeklyNext := set.Set.Round(time.Second).Add(168 * time.Hour).UTC().Format(time.RFC3339)
		for i, want := range []string{
			"kyc-1 acme active every 168h 2027-03-01T00:00:00Z 2 2026-03-02T09:30:15Z kyc-1-r1773048615 " + weeklyNext + " 4.3",
			"kyc-3 acme paused every 24h 2027-03-01T00:00:00Z 0 - - - 30",
			"kyc-4 acme active every 1s ",
			"kyc-2 - active cron 0 0 6 * * MON Europe/Oslo 2027-03-01T00:00:00Z 0 - - ",
		} {
			if got := strings.Join(strings.Fields(lines[i+1]), " "); !strings.HasPrefix(got, want) {
				t.Errorf("line %d: %q, want it to begin %q", i+1, got, want)
			}
		}
		if !strings.HasSuffix(lines[3], " 2592000") {
			t.Errorf("every 1s costs %q, want 2592000 sessions", lines[3])
		}
		next, _ := monitors.NextRun(monitors.Record{Status: kybflow.MonitorActive, Definition: kybflow.MonitorDefinition{Schedule: cron}},
			monitors.Timing{Set: start}, start)
		cost, _ := monitors.SessionsPerMonth(cron, start)
		if want := fmt.Sprintf(" %s %d", next.Format(time.RFC3339), int(cost)); !strings.HasSuffix(strings.Join(strings.Fields(lines[4]), " "), want) {
			t.Errorf("cron monitor: %q, want it to end %q (its next slot and its slots in 30 days)", lines[4], want)
		}
		if strings.Contains(r.stdout, "923609016") || strings.Contains(r.stdout, "case-77") || strings.Contains(r.stdout, "kari") {
			t.Errorf("list prints the lookup or its correlationId or metadata:\n%s", r)
		}
	})

	t.Run("list --json of a tenant", func(t *testing.T) {
		r := amlctl(ctx, map[string]string{"NATS_URL": e.env["NATS_URL"], "AML_TENANT": "acme"}, "monitors", "list", "--json")
		var got []monitorView
		sc := bufio.NewScanner(strings.NewReader(r.stdout))
		for sc.Scan() {
			var v monitorView
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			got = append(got, v)
		}
		if r.code != 0 || len(got) != 3 || got[0].Key != "acme.kyc-1" || got[1].Key != "acme.kyc-3" || got[2].Key != "acme.kyc-4" {
			t.Fatalf("want acme's 3 monitors, one JSON object a line:\n%s", r)
		}
		w, paused, every := got[0], got[1], got[2]
		if w.Tenant != "acme" || w.MonitorID != "kyc-1" || w.Runs != 2 || w.LastRun == nil || w.LastRun.LookupID != "kyc-1-r1773048615" ||
			!w.LastRun.At.Equal(due) || w.NextRun == nil || !w.NextRun.Equal(set.Set.Round(time.Second).Add(168*time.Hour)) ||
			w.SessionsPerMonth == nil || fmt.Sprintf("%.3f", *w.SessionsPerMonth) != "4.286" || !w.Until.Equal(*weekly.Definition.Until) {
			t.Errorf("kyc-1: %+v", w)
		}
		if paused.Status != kybflow.MonitorPaused || paused.NextRun != nil || *paused.SessionsPerMonth != 30 {
			t.Errorf("kyc-3: %+v; want paused, no next run, 30 sessions", paused)
		}
		// From its latest fire: the next one, a whole second at most ahead.
		if every.NextRun == nil || time.Until(*every.NextRun) > time.Second || every.NextRun.Before(time.Now().Add(-time.Second)) ||
			every.NextRun.Nanosecond() != 0 {
			t.Errorf("kyc-4: next run %v; want the next whole second", every.NextRun)
		}
		if strings.Contains(r.stdout, `"lookup"`) || strings.Contains(r.stdout, "recent") {
			t.Errorf("list --json holds what show adds:\n%s", r)
		}
	})

	t.Run("show", func(t *testing.T) {
		r := amlctl(ctx, map[string]string{"NATS_URL": e.env["NATS_URL"], "AML_TENANT": "acme"}, "monitors", "show", "kyc-1")
		for _, want := range []string{"monitor kyc-1 of tenant acme: active\n", "  schedule     every 168h\n", "  until        2027-03-01T00:00:00Z\n",
			"  lookup       organization 923609016 (NO), expands roles, reports aml\n", "  runs         2 so far\n",
			"  last run     kyc-1-r1773048615, due 2026-03-02T09:30:15Z\n", "  cost         4.3 sessions per 30 days (one per run)\n",
			"  recent runs  kyc-1-r1772443815, due 2026-02-23T09:30:15Z, JSON lookups/acme.kyc-1-r1772443815/json.json\n",
			"               kyc-1-r1773048615, due 2026-03-02T09:30:15Z, JSON lookups/acme.kyc-1-r1773048615/json.json\n"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("show does not say %q:\n%s", want, r)
			}
		}
		if r.code != 0 || strings.Contains(r.stdout, "case-77") || strings.Contains(r.stdout, "kari") {
			t.Fatalf("want exit 0 and neither correlationId nor metadata:\n%s", r)
		}
		r = amlctl(ctx, e.env, "monitors", "show", "acme.kyc-3")
		if r.code != 0 || !strings.Contains(r.stdout, "  next run     none: paused\n") || !strings.Contains(r.stdout, "  last run     none yet\n") {
			t.Errorf("show of a paused monitor:\n%s", r)
		}
		r = amlctl(ctx, e.env, "monitors", "show", "--json", "kyc-2")
		var v monitorView
		if err := json.Unmarshal([]byte(r.stdout), &v); r.code != 0 || err != nil || v.Lookup == nil || v.Lookup.Identifier != "923609016" ||
			v.Schedule != cron || v.NextRun == nil || v.NextRun.Weekday() != time.Monday || strings.Contains(r.stdout, "case-77") {
			t.Errorf("show --json: %+v, %v\n%s", v, err, r)
		}
		r = amlctl(ctx, e.env, "monitors", "show", "kyc-9")
		if r.code != 1 || !strings.Contains(r.stderr, "no monitor kyc-9 in AML_MONITORS") {
			t.Errorf("show of no monitor: want exit 1 saying so:\n%s", r)
		}
	})
}

// TestMonitorsListEmpty: no monitors is no error; no worker yet is said so.
func TestMonitorsListEmpty(t *testing.T) {
	t.Parallel()
	e := newMonitorEnv(t)
	r := amlctl(context.Background(), e.env, "monitors", "list")
	if r.code != 0 || r.stdout != "" || r.stderr != "no monitors in AML_MONITORS\n" {
		t.Errorf("list of none:\n%s", r)
	}
	r = amlctl(context.Background(), map[string]string{"NATS_URL": testenv.NATS(t)}, "monitors", "list")
	if r.code != 1 || !strings.Contains(r.stderr, "AML_MONITORS not found: the worker has not started") {
		t.Errorf("list without the topology:\n%s", r)
	}
}
