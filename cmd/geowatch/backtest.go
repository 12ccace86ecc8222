package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/geowatch/geowatch/configs"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"go.uber.org/zap"
)

// backtestStore reads observations from the database and keeps alerts in
// memory, so a backtest runs the daemon's engine without writing anything. It
// keeps no silences: a backtest announces nothing anyway.
type backtestStore struct {
	monitor.ObservationStore
	monitor.AlertStore
}

// backtestRow is one transition as the backtest prints and writes it.
type backtestRow struct {
	At       jsonTime           `json:"at"`
	Watch    string             `json:"watch"`
	Rule     string             `json:"rule"`
	RuleType string             `json:"rule_type"`
	Severity string             `json:"severity"`
	AlertID  int64              `json:"alert_id"`
	From     string             `json:"from"`
	To       string             `json:"to"`
	Count    int                `json:"count"`
	Lat      float64            `json:"lat"`
	Lon      float64            `json:"lon"`
	First    jsonTime           `json:"first_seen"`
	Last     jsonTime           `json:"last_seen"`
	Stats    map[string]float64 `json:"stats,omitempty"`
	Summary  string             `json:"summary,omitempty"`
	// Progression is a progression alert's steps, speed and predicted next
	// step as they stood at At. A progression that gains a step while firing
	// has a row of its own, transition firing>step.
	Progression *monitor.Progression `json:"progression,omitempty"`
}

// cmdBacktest replays stored observations (or a file) through the config's
// watches on a simulated clock with the daemon's engine, and prints every alert
// transition that would have happened. It notifies no one and writes nothing to
// the database.
func cmdBacktest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("backtest", stderr)
	cfgPath := fs.String("config", "", "config `FILE` whose watches to replay (default: the embedded default config)")
	from := fs.String("from", "", "start `TIME`: RFC 3339, a date, a duration back from now (12h) or now; required")
	to := fs.String("to", "", "end `TIME`, in the forms of --from; required")
	step := fs.String("step", "1h", "evaluate every watch every `DURATION` of simulated time")
	dbPath := fs.String("db", "", "database to read observations from: a SQLite `PATH` or a postgres:// URL (default: the config's)")
	file := fs.String("file", "", "replay this GeoJSON/CSV `FILE` instead of the database (loaded into a temporary one)")
	source := fs.String("source", "backtest", "with --file: the source `NAME` its records get (selects a config csv source's options)")
	preset := fs.String("preset", "", "with --file: csv `PRESET`")
	jsonOut := fs.String("json", "", "also write the transitions as a JSON array to `FILE`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *from == "":
		return usageError{"backtest: --from TIME is required: " + timeForms}
	case *to == "":
		return usageError{"backtest: --to TIME is required: " + timeForms}
	}
	now := time.Now()
	start, err := parseWhen(*from, now)
	if err != nil {
		return usageError{fmt.Sprintf("backtest: --from %v", err)}
	}
	end, err := parseWhen(*to, now)
	if err != nil {
		return usageError{fmt.Sprintf("backtest: --to %v", err)}
	}
	every, err := configs.ParseDuration(*step)
	if err != nil || every <= 0 {
		return usageError{fmt.Sprintf("backtest: --step %q: want a positive duration", *step)}
	}
	if !end.After(start) {
		return usageError{"backtest: --to must be after --from"}
	}
	_, plan, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	db := *dbPath
	if db == "" {
		db = plan.Database
	}
	if *file != "" {
		dir, err := os.MkdirTemp("", "geowatch-backtest-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		db = filepath.Join(dir, "backtest.gpkg")
		ingestArgs := []string{*file, "--source", *source, "--db", db}
		if *cfgPath != "" {
			ingestArgs = append(ingestArgs, "--config", *cfgPath)
		}
		if *preset != "" {
			ingestArgs = append(ingestArgs, "--preset", *preset)
		}
		if err := cmdIngest(ctx, ingestArgs, stderr, stderr); err != nil {
			return fmt.Errorf("backtest: %w", err)
		}
	}
	st, err := openStore(ctx, db, store.ReadOnly())
	if err != nil {
		return err
	}
	defer st.Close()
	// Alerts stay in memory: the backtest has no subscribers, and reads what
	// they would have been told from the transitions.
	alerts := monitor.NewMemoryAlerts()
	engine, err := monitor.NewEngine(ctx, backtestStore{ObservationStore: st, AlertStore: alerts}, zap.NewNop())
	if err != nil {
		return err
	}

	steps := int(end.Sub(start)/every) + 1
	bar := newProgressBar(stderr, int64(steps), "backtest")
	// A progression that gains a step is no transition, but it is the news:
	// the journey moved on. Each is a row, so the table shows it step by step.
	var moved []backtestRow
	stepsSeen := map[int64]int{}
	for now := start; !now.After(end); now = now.Add(every) {
		for _, w := range plan.Watches {
			if err := engine.Evaluate(ctx, w.Watch, now); err != nil {
				return fmt.Errorf("backtest at %s: %w", now.Format(time.RFC3339), err)
			}
		}
		open, err := alerts.OpenAlerts(ctx)
		if err != nil {
			return err
		}
		for _, a := range open {
			p := a.Finding.Progression
			if p == nil || a.State != monitor.StateFiring {
				continue
			}
			seen, known := stepsSeen[a.ID]
			stepsSeen[a.ID] = len(p.Steps)
			if known && len(p.Steps) > seen {
				moved = append(moved, rowOf(monitor.Event{Alert: a, Transition: monitor.Transition{AlertID: a.ID, At: now, From: monitor.StateFiring, To: monitor.StateFiring}}, "step"))
			}
		}
		if bar != nil {
			bar.Add(1) //nolint:errcheck // drawing only
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if bar != nil {
		bar.Finish() //nolint:errcheck // drawing only
		fmt.Fprintln(stderr)
	}
	var rows []backtestRow
	for _, ev := range alerts.Events() {
		if !monitor.Deliverable(ev.Transition) {
			continue
		}
		rows = append(rows, rowOf(ev, ""))
	}
	rows = append(rows, moved...)
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].At.Before(rows[j].At.Time) })
	if *jsonOut != "" {
		data, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonOut, append(data, '\n'), 0o640); err != nil {
			return fmt.Errorf("backtest: %w", err)
		}
	}
	return writeBacktest(stdout, stderr, rows, steps, len(plan.Watches))
}

// rowOf is ev as a backtest row; to, when set, replaces the state entered
// ("step": a progression moved on).
func rowOf(ev monitor.Event, to string) backtestRow {
	a, t := ev.Alert, ev.Transition
	if to == "" {
		to = t.To.String()
	}
	return backtestRow{At: jsonTime{t.At}, Watch: a.Watch, Rule: a.Rule, RuleType: a.RuleType,
		Severity: a.Severity.String(), AlertID: a.ID, From: t.From.String(), To: to,
		Count: a.Finding.Count, Lat: a.Finding.Center.Lat(), Lon: a.Finding.Center.Lon(),
		First: jsonTime{a.Finding.FirstSeen}, Last: jsonTime{a.Finding.LastSeen}, Stats: a.Finding.Stats, Summary: a.Summary,
		Progression: a.Finding.Progression}
}

// writeBacktest prints the transitions on w and the summary on summary.
func writeBacktest(w, summary io.Writer, rows []backtestRow, steps, watches int) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tWATCH\tRULE\tALERT\tTRANSITION\tCOUNT\tLAT\tLON\tSTATS")
	for _, r := range rows {
		stats := formatStats(r.Stats)
		if r.Progression != nil {
			stats = formatProgression(r.Progression)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s>%s\t%d\t%.4f\t%.4f\t%s\n", r.At.UTC().Format(time.RFC3339), r.Watch, r.Rule,
			r.AlertID, r.From, r.To, r.Count, r.Lat, r.Lon, stats)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(summary, "%d transitions over %d steps of %d watches\n", len(rows), steps, watches)
	return err
}

func formatStats(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%.4g", k, m[k])
	}
	return strings.Join(parts, " ")
}

// formatProgression reads a progression as an analyst would say it: "step 3
// Bamburovo km 95.6 at 22:23Z (3 reports); 38 km/h; next Barabash km 126.4 ETA
// 23:12Z; end Vladivostok railway station km 251.8 ETA 03:47Z".
func formatProgression(p *monitor.Progression) string {
	name := func(s monitor.ProgressionStep) string {
		if s.Place != "" {
			return s.Place + " "
		}
		return ""
	}
	last := p.Steps[len(p.Steps)-1]
	s := fmt.Sprintf("step %d %skm %.1f at %s (%d reports); %.0f km/h", len(p.Steps), name(last), last.AlongKm,
		last.At.UTC().Format("15:04Z"), last.Count, p.SpeedKmh)
	if n := p.Next; n != nil {
		s += fmt.Sprintf("; next %skm %.1f ETA %s", name(*n), n.AlongKm, n.At.UTC().Format("15:04Z"))
	}
	if e := p.End; e != nil {
		s += fmt.Sprintf("; end %skm %.1f ETA %s", name(*e), e.AlongKm, e.At.UTC().Format("15:04Z"))
	}
	return s
}
