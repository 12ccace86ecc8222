package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/sqlite"
)

// sharedData is the real data shared by the project's checkouts (see README).
const sharedData = "../../../shared/data"

// TestIngestRealData imports every observation file of ../shared/data with
// `geowatch ingest` and reconciles the sources table, the observations and the
// rejects with what the files hold; a second import stores nothing new.
func TestIngestRealData(t *testing.T) {
	if _, err := os.Stat(sharedData); err != nil {
		t.Skipf("real data absent (%v): the shared data directory ../shared/data is not checked out here", err)
	}
	tests := []struct {
		name     string
		glob     string // under sharedData
		args     []string
		stored   int64
		rejected int
		fields   map[string]int // rejects by field
	}{
		{name: "kilauea", glob: "usgs-week-2018-06-kilauea/*.geojson", stored: 4711},
		{name: "solomon", glob: "usgs-week-2014-04-solomon/*.geojson", stored: 1513},
		{name: "usgs-csv", glob: "usgs-csv-2020-04/*.csv", args: []string{"--preset", "usgs-csv"}, stored: 15410},
		// 38 rows GDELT did not locate, 51 about events more than 3 days old.
		{name: "gdelt", glob: "gdelt/gdelt2_*.export.CSV", args: []string{"--preset", "gdelt2"}, stored: 2022,
			rejected: 89, fields: map[string]int{"ActionGeo_Lat": 38, "SQLDATE": 51}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join(sharedData, tc.glob))
			if err != nil || len(files) == 0 {
				t.Fatalf("no file matches %s (%v)", tc.glob, err)
			}
			db := filepath.Join(t.TempDir(), "geowatch.gpkg")
			var want monitor.IngestResult // over the files: the first import
			for _, file := range files {
				got := ingestFile(t, file, db, tc.name, tc.args)
				if got.Seen != got.Added+got.Updated+got.Unchanged+got.Rejected {
					t.Errorf("%s: seen %d != added+updated+unchanged+rejected %+v", file, got.Seen, got)
				}
				want.Add(got)
			}
			if int64(want.Added) != tc.stored || want.Rejected != tc.rejected || want.Updated != 0 || want.Unchanged != 0 {
				t.Errorf("first import = %+v, want added %d, rejected %d", want, tc.stored, tc.rejected)
			}
			checkSource(t, db, tc.name, want, want)
			if n := countObservations(t, db); n != tc.stored {
				t.Errorf("stored %d observations, want %d", n, tc.stored)
			}
			rejects := readRejects(t, db)
			if len(rejects) != tc.rejected {
				t.Errorf("%d rows in rejects, want %d", len(rejects), tc.rejected)
			}
			fields := map[string]int{}
			for _, r := range rejects {
				fields[r.field]++
				if r.source != tc.name || !strings.HasPrefix(r.record, "line ") || !strings.Contains(r.record, "(id ") || r.reason == "" {
					t.Errorf("reject %+v, want source %s, record line <n> (id …) and a reason", r, tc.name)
				}
			}
			if len(fields) != len(tc.fields) {
				t.Errorf("rejects by field %v, want %v", fields, tc.fields)
			}
			for f, n := range tc.fields {
				if fields[f] != n {
					t.Errorf("rejects by field %v, want %v", fields, tc.fields)
				}
			}

			// The same files again: everything is unchanged, nothing is added.
			var again monitor.IngestResult
			for _, file := range files {
				again.Add(ingestFile(t, file, db, tc.name, tc.args))
			}
			wantAgain := monitor.IngestResult{Seen: want.Seen, Unchanged: want.Seen - want.Rejected, Rejected: want.Rejected}
			if again != wantAgain {
				t.Errorf("second import = %+v, want %+v", again, wantAgain)
			}
			total := want
			total.Add(again)
			checkSource(t, db, tc.name, again, total)
			if n := countObservations(t, db); n != tc.stored {
				t.Errorf("after the second import: %d observations, want %d", n, tc.stored)
			}
		})
	}
}

// ingestFile runs `geowatch ingest` in-process and returns the counts its
// summary line prints.
func ingestFile(t *testing.T, file, db, source string, args []string) monitor.IngestResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	argv := append([]string{"ingest", file, "--source", source, "--db", db}, args...)
	if err := run(t.Context(), argv, &stdout, &stderr); err != nil {
		t.Fatalf("geowatch %s: %v\nstderr:\n%s", strings.Join(argv, " "), err, stderr.String())
	}
	var r monitor.IngestResult
	if _, err := fmt.Sscanf(stdout.String(), "seen %d, added %d, updated %d, unchanged %d, rejected %d\n",
		&r.Seen, &r.Added, &r.Updated, &r.Unchanged, &r.Rejected); err != nil {
		t.Fatalf("summary %q: %v", stdout.String(), err)
	}
	if strings.Contains(stderr.String(), "\r") {
		t.Errorf("stderr is not a terminal, yet holds a progress bar: %q", stderr.String())
	}
	return r
}

// checkSource asserts the sources row of name, read as an analyst would.
func checkSource(t *testing.T, db, name string, last, total monitor.IngestResult) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), db, store.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ss, err := st.Sources(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 || ss[0].Name != name {
		t.Fatalf("sources = %+v, want one row, %s", ss, name)
	}
	s := ss[0]
	if s.Last != last || s.Total != total || s.LastError != "" || s.ConsecutiveFailures != 0 || s.LastSuccess.IsZero() {
		t.Errorf("sources row = %+v, want last %+v, total %+v, a success and no error", s, last, total)
	}
	for _, r := range []monitor.IngestResult{s.Last, s.Total} {
		if r.Seen != r.Added+r.Updated+r.Unchanged+r.Rejected {
			t.Errorf("sources row %s: seen %d != added+updated+unchanged+rejected in %+v", name, r.Seen, r)
		}
	}
}

func countObservations(t *testing.T, db string) int64 {
	t.Helper()
	st, err := sqlite.Open(t.Context(), db, store.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n, err := st.CountObservations(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type rejectRow struct{ source, record, field, reason string }

// readRejects reads the rejects table with plain SQL, as an analyst's sqlite3
// would: the store has no API for it, and the test checks the file, not the API.
// The driver is go-sqlite3's, registered by the store's import of it.
func readRejects(t *testing.T, db string) []rejectRow {
	t.Helper()
	c, err := sql.Open("sqlite3", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rows, err := c.QueryContext(t.Context(), `SELECT source, record, coalesce(field, ''), reason FROM rejects ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []rejectRow
	for rows.Next() {
		var r rejectRow
		if err := rows.Scan(&r.source, &r.record, &r.field, &r.reason); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
