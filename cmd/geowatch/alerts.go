package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
)

// cmdAlerts lists alerts, newest first, and with --history their transitions.
// It opens the database read-only, so the daemon may run.
func cmdAlerts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("alerts", stderr)
	cfgPath := fs.String("config", "", "config `FILE` naming the database (default: the embedded default config)")
	dbPath := fs.String("db", "", "database: a SQLite `PATH` or a postgres:// URL (default: the config's database)")
	state := fs.String("state", "", "only alerts in `STATE`: pending, firing or resolved")
	watch := fs.String("watch", "", "only the alerts of watch `NAME`")
	since := fs.String("since", "", "only alerts updated at or after `TIME` (RFC 3339, or a duration back from now such as 24h); with --history, only transitions since then")
	history := fs.Bool("history", false, "also print each alert's transitions (at, from, to, notified_at)")
	format := fs.String("format", "table", "output `FORMAT`: table, json or geojson")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"alerts takes no arguments"}
	}
	if !validFormat(*format, "table", "json", "geojson") {
		return usageError{fmt.Sprintf("alerts: --format %q: want table, json or geojson", *format)}
	}
	var f store.AlertFilter
	f.Watch = *watch
	if *state != "" {
		s, err := monitor.ParseAlertState(*state)
		if err != nil {
			return usageError{fmt.Sprintf("alerts: --state: %v (want pending, firing or resolved)", err)}
		}
		f.State = s
	}
	t, err := parseWhen(*since, time.Now())
	if err != nil {
		return usageError{fmt.Sprintf("alerts: --since: %v", err)}
	}
	f.Since = t
	path, err := databasePath(*cfgPath, *dbPath)
	if err != nil {
		return err
	}
	st, err := openExisting(ctx, path)
	if err != nil {
		return err
	}
	defer st.Close()
	as, err := st.Alerts(ctx, f)
	if err != nil {
		return err
	}
	if len(as) == 0 && *watch != "" {
		if err := knownWatch(ctx, st, *cfgPath, *watch); err != nil {
			return err
		}
	}
	var hist map[int64][]store.TransitionRecord
	if *history {
		ids := make([]int64, len(as))
		for i, a := range as {
			ids[i] = a.ID
		}
		ts, err := st.Transitions(ctx, store.TransitionFilter{AlertIDs: ids, Since: f.Since})
		if err != nil {
			return err
		}
		hist = map[int64][]store.TransitionRecord{}
		for _, t := range ts {
			hist[t.AlertID] = append(hist[t.AlertID], t)
		}
	}
	switch *format {
	case "json":
		return writeAlertsJSON(stdout, as, hist)
	case "geojson":
		return writeAlertsGeoJSON(stdout, as, hist)
	}
	return writeAlertsTable(stdout, as, hist)
}

func writeAlertsTable(w io.Writer, as []monitor.Alert, hist map[int64][]store.TransitionRecord) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tWATCH\tRULE\tSEVERITY\tSTATE\tSTARTS AT\tUPDATED AT\tENDS AT\tCOUNT\tLAT\tLON")
	for _, a := range as {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%.5f\t%.5f\n", a.ID, a.Watch, a.Rule, a.Severity, a.State,
			tableTime(a.StartsAt), tableTime(a.UpdatedAt), tableTime(a.EndsAt), a.Finding.Count,
			a.Finding.Center.Lat(), a.Finding.Center.Lon())
	}
	if err := tw.Flush(); err != nil || hist == nil {
		return err
	}
	fmt.Fprintln(w, "\ntransitions:")
	fmt.Fprintln(tw, "ALERT\tTRANSITION\tAT\tFROM\tTO\tNOTIFIED AT")
	for i := len(as) - 1; i >= 0; i-- { // oldest alert first, as they happened
		for _, t := range hist[as[i].ID] {
			from := "-"
			if t.From != 0 {
				from = t.From.String()
			}
			fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\n", t.AlertID, t.ID, tableTime(t.At), from, t.To, tableTime(t.NotifiedAt))
		}
	}
	return tw.Flush()
}

// alertJSON is one alert as --format json prints it (and the properties of its
// GeoJSON feature); keys follow the alerts table's columns.
type alertJSON struct {
	ID        int64              `json:"id"`
	Watch     string             `json:"watch"`
	Rule      string             `json:"rule"`
	RuleType  string             `json:"rule_type"`
	Severity  string             `json:"severity"`
	State     string             `json:"state"`
	RadiusM   float64            `json:"radius_m"`
	WindowS   float64            `json:"window_s"`
	StartsAt  *jsonTime          `json:"starts_at"`
	UpdatedAt jsonTime           `json:"updated_at"`
	EndsAt    *jsonTime          `json:"ends_at"`
	Count     int                `json:"count"`
	Weight    float64            `json:"weight"`
	Lat       float64            `json:"lat"`
	Lon       float64            `json:"lon"`
	FirstSeen *jsonTime          `json:"first_seen"`
	LastSeen  *jsonTime          `json:"last_seen"`
	FIDs      []int64            `json:"fids"`
	Labels    map[string]string  `json:"labels,omitempty"`
	Summary   string             `json:"summary,omitempty"`
	Stats     map[string]float64 `json:"stats,omitempty"`
	// Progression is a progression alert's steps along its corridor, speed
	// and predicted next step.
	Progression *monitor.Progression `json:"progression,omitempty"`
	Transitions []transitionJSON     `json:"transitions,omitempty"`
}

type transitionJSON struct {
	ID         int64     `json:"id"`
	AlertID    int64     `json:"alert_id"`
	At         jsonTime  `json:"at"`
	From       *string   `json:"from"`
	To         string    `json:"to"`
	NotifiedAt *jsonTime `json:"notified_at"`
}

func toAlertJSON(a monitor.Alert, hist map[int64][]store.TransitionRecord) alertJSON {
	j := alertJSON{
		ID: a.ID, Watch: a.Watch, Rule: a.Rule, RuleType: a.RuleType, Severity: a.Severity.String(),
		State: a.State.String(), RadiusM: a.RadiusMeters, WindowS: a.Window.Seconds(),
		StartsAt: optTime(a.StartsAt), UpdatedAt: jsonTime{a.UpdatedAt}, EndsAt: optTime(a.EndsAt),
		Count: a.Finding.Count, Weight: a.Finding.Weight, Lat: a.Finding.Center.Lat(), Lon: a.Finding.Center.Lon(),
		FirstSeen: optTime(a.Finding.FirstSeen), LastSeen: optTime(a.Finding.LastSeen), FIDs: a.Finding.FIDs,
		Labels: a.Labels, Summary: a.Summary, Stats: finite(a.Finding.Stats), Progression: a.Finding.Progression,
	}
	if j.FIDs == nil {
		j.FIDs = []int64{}
	}
	if hist != nil {
		j.Transitions = []transitionJSON{}
		for _, t := range hist[a.ID] {
			j.Transitions = append(j.Transitions, toTransitionJSON(t))
		}
	}
	return j
}

func toTransitionJSON(t store.TransitionRecord) transitionJSON {
	tj := transitionJSON{ID: t.ID, AlertID: t.AlertID, At: jsonTime{t.At}, To: t.To.String(), NotifiedAt: optTime(t.NotifiedAt)}
	if t.From != 0 {
		s := t.From.String()
		tj.From = &s
	}
	return tj
}

// finite drops the statistics JSON cannot hold (an infinite ratio, a NaN).
func finite(m map[string]float64) map[string]float64 {
	if m == nil {
		return nil
	}
	out := make(map[string]float64, len(m))
	for k, v := range m {
		if v-v == 0 {
			out[k] = v
		}
	}
	return out
}

func writeAlertsJSON(w io.Writer, as []monitor.Alert, hist map[int64][]store.TransitionRecord) error {
	out := make([]alertJSON, 0, len(as))
	for _, a := range as {
		out = append(out, toAlertJSON(a, hist))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// writeAlertsGeoJSON prints a FeatureCollection: each alert at its hull (a
// cluster's), else at its centre.
func writeAlertsGeoJSON(w io.Writer, as []monitor.Alert, hist map[int64][]store.TransitionRecord) error {
	type geometry struct {
		Type        string `json:"type"`
		Coordinates any    `json:"coordinates"`
	}
	type feature struct {
		Type       string    `json:"type"`
		ID         int64     `json:"id"`
		Geometry   geometry  `json:"geometry"`
		Properties alertJSON `json:"properties"`
	}
	fc := struct {
		Type     string    `json:"type"`
		Features []feature `json:"features"`
	}{Type: "FeatureCollection", Features: []feature{}}
	for _, a := range as {
		g := geometry{Type: "Point", Coordinates: a.Finding.Center}
		if len(a.Finding.Hull) > 0 {
			g = geometry{Type: "Polygon", Coordinates: a.Finding.Hull}
		}
		fc.Features = append(fc.Features, feature{Type: "Feature", ID: a.ID, Geometry: g, Properties: toAlertJSON(a, hist)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(fc)
}

// knownWatch tells an empty answer from a typo: a watch with no alerts is in
// the effective config (--config, else the embedded default) or has alerts
// in the database under any state or time.
func knownWatch(ctx context.Context, st store.Backend, cfgPath, watch string) error {
	_, plan, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	var names []string
	for _, job := range plan.Watches {
		if job.Watch.Name == watch {
			return nil
		}
		names = append(names, job.Watch.Name)
	}
	if any, err := st.Alerts(ctx, store.AlertFilter{Watch: watch}); err != nil || len(any) > 0 {
		return err
	}
	return fmt.Errorf("alerts: no watch %q in the config or the database (watches: %v)", watch, names)
}
