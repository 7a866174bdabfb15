package cli

// amlctl monitors, after the command line: send the command, and with
// --wait print the answer.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/client"
)

// sendMonitor sends the command and prints the submission, or with --wait
// the answer; a rejection exits 1.
func (a *app) sendMonitor(ctx context.Context, c *client.Client, action kybflow.MonitorAction, req monitorRequest, m monitorFlags) error {
	waitCtx := ctx
	if m.wait {
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithTimeout(ctx, m.timeout)
		defer cancel()
	}
	monitorID, opts := req.monitorID, req.opts
	var s client.MonitorSubmission
	var err error
	switch action {
	case kybflow.MonitorCreate:
		s, err = c.CreateMonitor(waitCtx, monitorID, *req.lookup, *req.schedule, opts...)
	case kybflow.MonitorUpdate:
		if req.lookup != nil {
			opts = append(opts, client.SetLookup(*req.lookup))
		}
		if req.schedule != nil {
			opts = append(opts, client.SetSchedule(*req.schedule))
		}
		s, err = c.UpdateMonitor(waitCtx, monitorID, opts...)
	case kybflow.MonitorPause:
		s, err = c.PauseMonitor(waitCtx, monitorID, opts...)
	case kybflow.MonitorResume:
		s, err = c.ResumeMonitor(waitCtx, monitorID, opts...)
	case kybflow.MonitorDelete:
		s, err = c.DeleteMonitor(waitCtx, monitorID, opts...)
	}
	if err != nil {
		var ce *kybflow.CommandError
		if errors.As(err, &ce) {
			return &exitError{code: exitFailure, msg: invalidMonitorMessage(err)}
		}
		return monitorWaitError(ctx, waitCtx, monitorID, m.timeout, streamError(c.Subjects(), c.Subjects().CommandsStream(), err))
	}
	if !m.wait {
		return a.printMonitorSubmitted(s, m.asJSON)
	}
	if !m.asJSON {
		what := "stored"
		if s.Duplicate {
			what = "was stored already (JetStream dropped this copy: same --command-id)"
		}
		fmt.Fprintf(a.stdout, "%s of monitor %s %s as command %d; waiting up to %s for the answer\n", action, monitorID, what, s.Sequence, m.timeout)
	}
	res, err := c.WaitMonitor(waitCtx, s)
	if err != nil {
		return monitorWaitError(ctx, waitCtx, monitorID, m.timeout, err)
	}
	if m.asJSON {
		raw, err := kybflow.EncodeEvent(res.Event)
		if err != nil {
			return err
		}
		if err := printJSONLine(a.stdout, raw); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.stdout, "monitor %s: %s\n", monitorID, summary(res.Event))
	}
	if !res.Applied() {
		return &exitError{code: exitFailure}
	}
	return nil
}

func (a *app) printMonitorSubmitted(s client.MonitorSubmission, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(struct {
			MonitorID string                `json:"monitorId"`
			Action    kybflow.MonitorAction `json:"action"`
			Sequence  uint64                `json:"sequence"`
			MsgID     string                `json:"msgId"`
			EventID   string                `json:"eventId"`
			Duplicate bool                  `json:"duplicate"`
		}{s.MonitorID, s.Action, s.Sequence, s.MsgID, s.EventID(), s.Duplicate})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.stdout, "%s\n", b)
		return err
	}
	if s.Duplicate {
		fmt.Fprintf(a.stderr, "this %s was stored already: JetStream dropped this copy (same --command-id)\n", s.Action)
	}
	fmt.Fprintln(a.stdout, s.EventID())
	fmt.Fprintf(a.stderr, "stored %s of monitor %s as command %d; the worker answers with the event above\nfollow it:  amlctl events --lookup %s --all\n",
		s.Action, s.MonitorID, s.Sequence, s.MonitorID)
	return nil
}

// monitorWaitError explains an interruption (ctx) or a --timeout
// (waitCtx): exit 2, and how to see the answer later.
func monitorWaitError(ctx, waitCtx context.Context, monitorID string, timeout time.Duration, err error) error {
	hint := fmt.Sprintf("its answer will be a monitor event: amlctl events --lookup %s --all", monitorID)
	switch {
	case ctx.Err() != nil:
		return &exitError{code: exitUsage, msg: "interrupted; " + hint}
	case waitCtx.Err() != nil:
		return &exitError{code: exitUsage, msg: fmt.Sprintf("no answer for monitor %s within %s (--timeout; is a worker of monitors running?); %s", monitorID, timeout, hint)}
	}
	return err
}

// invalidMonitorMessage is ParseMonitorCommand's complaint on one line.
func invalidMonitorMessage(err error) string {
	var reasons []string
	for _, e := range flattenErrors(err) {
		var ce *kybflow.CommandError
		if errors.As(e, &ce) {
			reasons = append(reasons, ce.Reason)
		} else {
			reasons = append(reasons, e.Error())
		}
	}
	return strings.Join(reasons, "; ")
}

// flattenErrors is the errors joined in err, or err alone.
func flattenErrors(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, flattenErrors(e)...)
	}
	return out
}
