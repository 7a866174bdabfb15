// Command worker runs the lookup pipeline. See `worker --help` and
// docs/design.md. `worker topology` makes the streams, the bucket and the
// consumers once and exits, for workers that run with TOPOLOGY_MODE=verify
// (see `worker topology --help`). Development mode is cmd/kybflow-dev: this
// production binary links no embedded server, sandbox or bridge.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kybflow/kybflow/internal/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	run := worker.Main
	args := os.Args[1:]
	if len(args) > 0 {
		switch args[0] {
		case "dev":
			fmt.Fprintln(os.Stderr, "worker: development mode is its own command now: go run ./cmd/kybflow-dev")
			os.Exit(2)
		case "topology":
			run, args = worker.TopologyMain, args[1:]
		}
	}
	err := run(ctx, args, os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}
