package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/geowatch/geowatch/monitor"
)

// TestIngestNDJSONChunks streams newline-delimited Features in chunks smaller
// than the file, with blank and broken lines, one at a chunk's start, and checks
// that every reject names its line in the whole file.
func TestIngestNDJSONChunks(t *testing.T) {
	defer func(n int) { ingestChunk = n }(ingestChunk)
	ingestChunk = 3
	feature := func(id string, lat float64) string {
		return fmt.Sprintf(`{"type":"Feature","id":%q,"geometry":{"type":"Point","coordinates":[131.9,%v]},"properties":{"time":1700000000000,"type":"earthquake"}}`, id, lat)
	}
	lines := []string{
		feature("a", 43.1), // 1
		"",                 // 2
		feature("b", 43.2), // 3
		feature("c", 95),   // 4: latitude out of range
		feature("d", 43.3), // 5: the first chunk ends here
		"not json",         // 6: at the second chunk's start
		feature("e", 43.4), // 7
		"{\"type\":",       // 8: broken inside a chunk
		feature("f", 43.5), // 9
		feature("g", 99),   // 10: a chunk of its own, out of range
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "feed.ndjson")
	writeFile(t, file, strings.Join(lines, "\n")+"\n")
	db := filepath.Join(dir, "geowatch.gpkg")

	got := ingestFile(t, file, db, "drop", nil)
	if got.Seen != 9 || got.Added != 5 || got.Rejected != 4 {
		t.Errorf("ingest = %+v, want seen 9, added 5, rejected 4", got)
	}
	var records []string
	for _, r := range readRejects(t, db) {
		records = append(records, r.record+" "+r.field)
	}
	want := []string{"line 4 (c) geometry.coordinates", "line 6 feature", "line 8 feature", "line 10 (g) geometry.coordinates"}
	if !slices.Equal(records, want) {
		t.Errorf("rejects = %q, want %q", records, want)
	}
}

// TestIngestUsage checks the command line: what is required, and that a file
// with no records fails.
func TestIngestUsage(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "geowatch.gpkg")
	csvFile := filepath.Join(dir, "events.csv")
	writeFile(t, csvFile, "time,latitude,longitude,id\n")
	tests := []struct {
		name  string
		args  []string
		usage bool
	}{
		{"no file", []string{"ingest", "--source", "s", "--db", db}, true},
		{"no source", []string{"ingest", csvFile, "--db", db}, true},
		{"bad source name", []string{"ingest", csvFile, "--source", "a b", "--db", db}, true},
		{"bad format", []string{"ingest", csvFile, "--source", "s", "--format", "xml", "--db", db}, true},
		{"csv without preset", []string{"ingest", csvFile, "--source", "s", "--db", db}, true},
		{"unknown preset", []string{"ingest", csvFile, "--source", "s", "--preset", "nope", "--db", db}, true},
		{"no records", []string{"ingest", csvFile, "--source", "s", "--preset", "usgs-csv", "--db", db}, false},
		{"missing file", []string{"ingest", filepath.Join(dir, "absent.csv"), "--source", "s", "--preset", "usgs-csv", "--db", db}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tc.args, &stdout, &stderr)
			if err == nil {
				t.Fatalf("run(%q) succeeded, want an error", tc.args)
			}
			if isUsage := errors.As(err, new(usageError)); isUsage != tc.usage {
				t.Errorf("run(%q) = %v, usage error %v, want %v", tc.args, err, isUsage, tc.usage)
			}
		})
	}
}

// TestIngestCSVFields imports a CSV file whose columns --field names, with
// no preset or config source, as the README's example does.
func TestIngestCSVFields(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "reports.gpkg")
	file := filepath.Join(dir, "reports.csv")
	writeFile(t, file, "event,when,y,x,what,crew\nr1,2024-05-01 10:00,43.1,131.9,convoy,3\nr2,2024-05-01 11:00,95,131.9,convoy,\n")
	args := []string{"--field", "id=event", "--field", "time=when", "--field", "time_layout=2006-01-02 15:04",
		"--field", "lat=y", "--field", "lon=x", "--field", "kind=what"}
	if got, want := ingestFile(t, file, db, "reports", args), (monitor.IngestResult{Seen: 2, Added: 1, Rejected: 1}); got != want {
		t.Errorf("ingest = %+v, want %+v", got, want)
	}
	var kind, observed, props string
	scanRow(t, db, `SELECT kind, observed_at || '', properties FROM observations WHERE ext_id = 'r1'`, &kind, &observed, &props)
	if kind != "convoy" || observed != "2024-05-01T10:00:00.000Z" || props != `{"crew":"3"}` {
		t.Errorf("r1 stored as %s at %s with %s, want convoy at 2024-05-01T10:00:00.000Z with {\"crew\":\"3\"}", kind, observed, props)
	}
	if rejects := readRejects(t, db); len(rejects) != 1 || rejects[0].field != "y" {
		t.Errorf("rejects %+v, want r2's on column y", rejects)
	}

	// Without the time column's mapping the file cannot be read.
	err := run(t.Context(), []string{"ingest", file, "--source", "reports", "--db", db, "--field", "id=event"}, new(bytes.Buffer), new(bytes.Buffer))
	if !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "fields.time") {
		t.Errorf("ingest with only --field id: %v, want a usage error naming fields.time", err)
	}
}

// TestIngestConfigSource reads a csv file with the options of the config's
// csv source of the same name, stores in properties only the columns no field
// holds (the whole row with keep_row), and lists the run with `geowatch sources`.
func TestIngestConfigSource(t *testing.T) {
	for _, tc := range []struct {
		keepRow bool
		want    string
	}{
		{false, `{"note":"two trucks"}`},
		{true, `{"ref":"1","when":"2024-05-01T10:00:00+03:00","y":"43.1","x":"131.9","note":"two trucks"}`},
	} {
		t.Run(fmt.Sprintf("keep_row=%v", tc.keepRow), func(t *testing.T) {
			testIngestConfigSource(t, tc.keepRow, tc.want)
		})
	}
}

func testIngestConfigSource(t *testing.T, keepRow bool, wantProps string) {
	dir := t.TempDir()
	db := filepath.Join(dir, "geowatch.gpkg")
	file := filepath.Join(dir, "events.tsv")
	writeFile(t, file, "ref\twhen\ty\tx\tnote\n1\t2024-05-01T10:00:00+03:00\t43.1\t131.9\ttwo trucks\n2\t2024-05-01T11:00:00Z\t\t131.9\t\n")
	cfg := filepath.Join(dir, "geowatch.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
database: %s
sources:
  - name: sheet
    type: csv
    url: %s
    schedule: "@every 1h"
    delimiter: "\t"
    header: true
    kind: report
    keep_row: %v
    fields: {id: ref, time: when, lat: y, lon: x}
`, db, file, keepRow))
	if got, want := ingestFile(t, file, db, "sheet", []string{"--config", cfg}), (monitor.IngestResult{Seen: 2, Added: 1, Rejected: 1}); got != want {
		t.Errorf("ingest = %+v, want %+v", got, want)
	}
	var props, observed string
	scanRow(t, db, `SELECT properties, observed_at || '' FROM observations WHERE ext_id = '1'`, &props, &observed)
	if props != wantProps || observed != "2024-05-01T07:00:00.000Z" {
		t.Errorf("row 1 stored properties %s, observed_at %s; want %s, 2024-05-01T07:00:00.000Z", props, observed, wantProps)
	}

	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"sources", "--config", cfg}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	table := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(table) != 2 || !strings.HasPrefix(table[0], "NAME") || strings.Join(strings.Fields(table[1])[:2], " ") != "sheet csv" {
		t.Errorf("sources table = %q, want a header and a row for sheet", table)
	}

	stdout.Reset()
	if err := run(t.Context(), []string{"sources", "--db", db, "--format", "json"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var got []sourceJSON
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("sources --format json: %v\n%s", err, stdout.String())
	}
	assertFixedWidthTimes(t, stdout.Bytes())
	want := countsJSON{Seen: 2, Added: 1, Rejected: 1}
	if len(got) != 1 || got[0].Name != "sheet" || got[0].Last != want || got[0].Total != want ||
		got[0].LastRun == nil || got[0].LastError != nil {
		t.Errorf("sources json = %+v, want sheet with last and total %+v", got, want)
	}
}

// scanRow scans the one row query selects from the SQLite file db, opened
// read-only as an analyst's sqlite3 would.
func scanRow(t *testing.T, db, query string, dest ...any) {
	t.Helper()
	c, err := sql.Open("sqlite3", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.QueryRowContext(t.Context(), query).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}
