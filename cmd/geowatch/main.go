// Command geowatch is a geospatial event-monitoring daemon: on cron schedules it
// pulls place-tagged observations from feeds into a SQLite/GeoPackage file and
// raises alerts when activity clusters near watched places.
//
// See README.md for the commands, the configuration and the database schema.
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
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "geowatch:", err)
		os.Exit(exitCode(err))
	}
}
