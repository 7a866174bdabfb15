// Command kybflow-dev runs all of kybflow in one process for a first run
// with nothing installed: an embedded NATS server, the BankID AML API
// sandbox, the webhook bridge and the worker, then a sample lookup. See
// `kybflow-dev --help` and internal/devmode. It is a binary of its own so
// that the production worker links none of it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kybflow/kybflow/internal/devmode"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := devmode.Main(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "kybflow-dev:", err)
		os.Exit(1)
	}
}
