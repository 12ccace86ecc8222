package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/sqlite"
)

const usgsMonth = "../../../shared/data/usgs-csv-2020-04/all_month_2020-03-28_2020-04-27.csv"

// TestBacktestChallis replays the real USGS month through a watch on the
// Challis, Idaho epicentre and a quiet one: the cluster, surge and scan rules
// fire within one hourly step of the M6.5 mainshock (2020-03-31 23:52 UTC), the
// quiet watch stays silent all month, and nothing is written to the database.
func TestBacktestChallis(t *testing.T) {
	if _, err := os.Stat(usgsMonth); err != nil {
		t.Skipf("shared data absent (%v): run from a checkout beside ../shared", err)
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "usgs.gpkg")
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"ingest", usgsMonth, "--source", "usgs", "--preset", "usgs-csv", "--db", db}, &out, &errOut); err != nil {
		t.Fatalf("ingest: %v\n%s", err, errOut.String())
	}

	mainshock := time.Date(2020, 3, 31, 23, 52, 0, 0, time.UTC)
	report := filepath.Join(dir, "transitions.json")
	out.Reset()
	args := []string{"backtest", "--config", "testdata/challis.yaml", "--db", db, "--json", report,
		"--from", "2020-03-31T12:00:00Z", "--to", "2020-04-01T06:00:00Z", "--step", "1h"}
	if err := run(t.Context(), args, &out, &errOut); err != nil {
		t.Fatalf("backtest: %v\n%s", err, errOut.String())
	}
	t.Logf("backtest around the mainshock:\n%s", out.String())
	var rows []backtestRow
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	assertFixedWidthTimes(t, data)
	if err := json.Unmarshal(data, &rows); err != nil {
		t.Fatal(err)
	}
	firstEval := mainshock.Truncate(time.Hour).Add(time.Hour) // the first step after it
	fired := map[string]time.Time{}
	for _, r := range rows {
		if r.Watch != "challis" {
			t.Errorf("quiet watch %s: %+v", r.Watch, r)
		}
		if r.To == "firing" && fired[r.Rule].IsZero() {
			fired[r.Rule] = r.At.Time
		}
	}
	for _, rule := range []string{"cluster", "surge", "scan"} {
		at, ok := fired[rule]
		switch {
		case !ok:
			t.Errorf("challis %s never fired", rule)
		case at.Before(mainshock):
			t.Errorf("challis %s fired at %v, before the mainshock", rule, at)
		case at.After(firstEval.Add(time.Hour)):
			t.Errorf("challis %s fired at %v, more than one step after the first evaluation after the mainshock (%v)", rule, at, firstEval)
		}
	}

	// The quiet watch over the whole month, at a coarser step.
	out.Reset()
	args = []string{"backtest", "--config", "testdata/challis.yaml", "--db", db,
		"--from", "2020-03-28T20:00:00Z", "--to", "2020-04-27T18:00:00Z", "--step", "6h"}
	if err := run(t.Context(), args, &out, &errOut); err != nil {
		t.Fatalf("backtest: %v\n%s", err, errOut.String())
	}
	if bytes.Contains(out.Bytes(), []byte("des-moines")) {
		t.Errorf("the quiet watch fired:\n%s", out.String())
	}

	st, err := sqlite.Open(t.Context(), db, store.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if alerts, err := st.Alerts(t.Context(), store.AlertFilter{}); err != nil || len(alerts) != 0 {
		t.Errorf("backtest wrote %d alerts to the database (%v), want none", len(alerts), err)
	}
}
