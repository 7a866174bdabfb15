package cli

// What amlctl monitors list and show print.

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kybflow/kybflow"
)

// printMonitors prints the table of list.
func printMonitors(w io.Writer, views []monitorView) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MONITOR\tTENANT\tSTATUS\tSCHEDULE\tUNTIL\tRUNS\tLAST RUN\tLAST LOOKUP\tNEXT RUN\tSESSIONS/30D")
	for _, v := range views {
		last, lastID := "-", "-"
		if v.LastRun != nil {
			last, lastID = timeText(&v.LastRun.At), v.LastRun.LookupID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", v.MonitorID, orDash(v.Tenant), v.Status, scheduleText(v.Schedule),
			timeText(v.Until), v.Runs, last, lastID, timeText(v.NextRun), sessions(v.SessionsPerMonth))
	}
	tw.Flush()
}

// printMonitorsJSON prints each monitor as a JSON object on one line.
func printMonitorsJSON(w io.Writer, views []monitorView) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, v := range views {
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return nil
}

// printMonitor prints show's lines.
func printMonitor(w io.Writer, v monitorView) {
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "  %-12s %s\n", label, fmt.Sprintf(format, args...))
	}
	of := ""
	if v.Tenant != "" {
		of = " of tenant " + v.Tenant
	}
	fmt.Fprintf(w, "monitor %s%s: %s\n", v.MonitorID, of, v.Status)
	line("schedule", "%s", scheduleText(v.Schedule))
	if v.Until != nil {
		line("until", "%s", timeText(v.Until))
	} else {
		line("until", "none")
	}
	if l := v.Lookup; l != nil {
		s := fmt.Sprintf("%s %s", l.Type, l.Identifier)
		if l.IdentifierType == kybflow.IdentifierDUNS {
			s += " (DUNS)"
		} else if l.Country != "" {
			s += " (" + string(l.Country) + ")"
		}
		if len(l.Expands) > 0 {
			s += ", expands " + strings.Join(l.Expands, ",")
		}
		if len(l.Reports) > 0 {
			reports := make([]string, len(l.Reports))
			for i, r := range l.Reports {
				reports[i] = string(r)
			}
			s += ", reports " + strings.Join(reports, ",")
		}
		if l.Language != "" {
			s += ", language " + l.Language
		}
		line("lookup", "%s", s)
	}
	line("created", "%s", v.CreatedAt.UTC().Format(time.RFC3339))
	line("updated", "%s", v.UpdatedAt.UTC().Format(time.RFC3339))
	line("runs", "%d so far", v.Runs)
	if v.LastRun != nil {
		line("last run", "%s, due %s", v.LastRun.LookupID, timeText(&v.LastRun.At))
	} else {
		line("last run", "none yet")
	}
	if v.NextRun != nil {
		line("next run", "%s", timeText(v.NextRun))
	} else {
		line("next run", "none: %s", v.noNextRun)
	}
	line("cost", "%s sessions per 30 days (one per run)", sessions(v.SessionsPerMonth))
	for i, r := range v.Recent {
		label := ""
		if i == 0 {
			label = "recent runs"
		}
		line(label, "%s, due %s, JSON %s", r.LookupID, timeText(&r.At), orDash(r.JSON))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// scheduleText is a schedule on one line: every 168h, cron 0 0 6 * * MON
// Europe/Oslo.
func scheduleText(s kybflow.Schedule) string {
	if s.Every != "" {
		return "every " + s.Every
	}
	zone := s.TimeZone
	if zone == "" {
		zone = "UTC"
	}
	return strings.Join([]string{"cron", s.Cron, zone}, " ")
}

// sessions is a cost: whole, or to a tenth; "?" when unknown.
func sessions(n *float64) string {
	switch {
	case n == nil:
		return "?"
	case *n == float64(int64(*n)):
		return fmt.Sprintf("%d", int64(*n))
	}
	return fmt.Sprintf("%.1f", *n)
}

// timeText is t to the second in UTC, or "-".
func timeText(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
