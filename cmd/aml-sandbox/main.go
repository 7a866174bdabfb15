// Command aml-sandbox runs the BankID AML API sandbox (internal/sandbox) on
// a local port: a faithful emulator with synthetic data, for development,
// tests and a first run. See `aml-sandbox --help` and docs/sandbox.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "aml-sandbox:", err)
		os.Exit(1)
	}
}
