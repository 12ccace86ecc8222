package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/geowatch/geowatch/configs"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"go.uber.org/zap"
)

// cmdSources prints the sources table: how each check's last run went and what
// it has brought in. It opens the database read-only, so the daemon may run.
func cmdSources(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sources", stderr)
	cfgPath := fs.String("config", "", "config `FILE` naming the database (default: the embedded default config)")
	dbPath := fs.String("db", "", "database: a SQLite `PATH` or a postgres:// URL (default: the config's database)")
	format := fs.String("format", "table", "output `FORMAT`: table or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"sources takes no arguments"}
	}
	if *format != "table" && *format != "json" {
		return usageError{fmt.Sprintf("sources: --format %q: want table or json", *format)}
	}
	path, err := databasePath(*cfgPath, *dbPath)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, path, store.ReadOnly())
	if err != nil {
		return err
	}
	defer st.Close()
	ss, err := st.Sources(ctx)
	if err != nil {
		return err
	}
	if *format == "json" {
		return writeSourcesJSON(stdout, ss)
	}
	return writeSourcesTable(stdout, ss)
}

// databasePath is --db if set, else the database of the config at cfgPath (the
// embedded default config when cfgPath is "").
func databasePath(cfgPath, dbPath string) (string, error) {
	if dbPath != "" {
		return dbPath, nil
	}
	_, plan, err := loadConfig(cfgPath)
	if err != nil {
		return "", err
	}
	return plan.Database, nil
}

// openWritable opens the database at path read-write as the daemon does: with
// the durability of plan (normal when plan is nil) and the store's log lines.
func openWritable(ctx context.Context, path string, plan *configs.Plan, log *zap.Logger, extra ...store.Option) (store.Backend, error) {
	durability := store.DurabilityNormal
	opts := append([]store.Option{store.WithLogger(log.Named("store"))}, extra...)
	if plan != nil {
		if plan.FullSync {
			durability = store.DurabilityFull
		}
		opts = append(opts, store.WithWALLimits(plan.WALWarnBytes, plan.WALMaxBytes))
		spatial, err := store.ParseSpatialIndex(plan.SpatialIndex)
		if err != nil { // Build checked it
			return nil, err
		}
		opts = append(opts, store.WithSpatialIndex(spatial), store.WithPasswordFile(plan.DatabasePasswordFile))
	}
	return openStore(ctx, path, append(opts, store.WithDurability(durability))...)
}

func writeSourcesTable(w io.Writer, ss []store.SourceStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tLAST RUN\tLAST SUCCESS\tFAILURES\tSEEN\tADDED\tUPDATED\tUNCHANGED\tREJECTED\tTOTAL SEEN\tTOTAL ADDED\tTOTAL UPDATED\tTOTAL UNCHANGED\tTOTAL REJECTED\tLAST ERROR")
	for _, s := range ss {
		l, t := s.Last, s.Total
		lastErr := s.LastError
		if lastErr == "" {
			lastErr = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n",
			s.Name, s.Type, tableTime(s.LastRun), tableTime(s.LastSuccess), s.ConsecutiveFailures,
			l.Seen, l.Added, l.Updated, l.Unchanged, l.Rejected,
			t.Seen, t.Added, t.Updated, t.Unchanged, t.Rejected, lastErr)
	}
	return tw.Flush()
}

// tableTime prints a time in UTC to the second, or "-" for never.
func tableTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// sourceJSON is one source as --format json prints it; keys follow the
// sources table's columns.
type sourceJSON struct {
	Name                string     `json:"name"`
	Type                string     `json:"type"`
	LastRun             *jsonTime  `json:"last_run"`
	LastSuccess         *jsonTime  `json:"last_success"`
	LastError           *string    `json:"last_error"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	LastDurationSeconds float64    `json:"last_duration_s"`
	Last                countsJSON `json:"last"`
	Total               countsJSON `json:"total"`
}

type countsJSON struct {
	Seen      int `json:"seen"`
	Added     int `json:"added"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Rejected  int `json:"rejected"`
}

func counts(r monitor.IngestResult) countsJSON {
	return countsJSON{Seen: r.Seen, Added: r.Added, Updated: r.Updated, Unchanged: r.Unchanged, Rejected: r.Rejected}
}

// writeSourcesJSON prints one JSON array, with null for a time that never was
// and for no error.
func writeSourcesJSON(w io.Writer, ss []store.SourceStatus) error {
	out := make([]sourceJSON, 0, len(ss))
	for _, s := range ss {
		j := sourceJSON{
			Name: s.Name, Type: s.Type, LastRun: optTime(s.LastRun), LastSuccess: optTime(s.LastSuccess),
			ConsecutiveFailures: s.ConsecutiveFailures, LastDurationSeconds: s.LastDuration.Seconds(),
			Last: counts(s.Last), Total: counts(s.Total),
		}
		if s.LastError != "" {
			j.LastError = &s.LastError
		}
		out = append(out, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
