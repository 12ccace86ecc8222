package main

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/geowatch/geowatch/monitor"
)

// benchSlice writes the first n observations of the shared bench workload
// (../shared/bench/gen_workload.py) in format into dir, skipping the test
// without the generator or python3.
func benchSlice(t *testing.T, dir, format string, n int) string {
	t.Helper()
	gen := filepath.Join("..", "..", "..", "shared", "bench", "gen_workload.py")
	if _, err := os.Stat(gen); err != nil {
		t.Skipf("no %s: %v", gen, err)
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3")
	}
	out := filepath.Join(dir, "obs."+format)
	if b, err := exec.Command("python3", gen, "-n", strconv.Itoa(n), "--format", format, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", gen, err, b)
	}
	return out
}

// objectRows lists a database's observations as (ext_id, observed_at, lat,
// lon, kind) text, in ext_id order.
func objectRows(t *testing.T, db string) []string {
	t.Helper()
	c, err := sql.Open("sqlite3", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rows, err := c.Query(`SELECT ext_id || ' ' || observed_at || ' ' || lat || ' ' || lon || ' ' || coalesce(kind, '-')
		FROM observations ORDER BY ext_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestIngestBenchNDJSON imports the shared workload's NDJSON (flat objects:
// id, source, kind, time, lat, lon) as the README says, with no mapping, and
// checks that it stores exactly what the same rows as CSV store through the
// config's csv source; a second import changes nothing.
func TestIngestBenchNDJSON(t *testing.T) {
	defer func(n int) { ingestChunk = n }(ingestChunk)
	ingestChunk = 700 // several batches
	const n = 3000
	dir := t.TempDir()
	nd := benchSlice(t, dir, "ndjson", n)
	cv := benchSlice(t, dir, "csv", n)

	dbN := filepath.Join(dir, "ndjson.gpkg")
	cmds := readmeIngests(t)
	if got := runIngest(t, cmds[0], map[string]string{"obs.ndjson": nd, "bench.gpkg": dbN}); got.Seen != n || got.Added != n || got.Rejected != 0 {
		t.Fatalf("ndjson ingest = %+v, want %d added", got, n)
	}
	if got := ingestFile(t, nd, dbN, "bench", []string{"--format", "ndjson"}); got.Unchanged != n {
		t.Errorf("second ndjson ingest = %+v, want %d unchanged", got, n)
	}

	cfg := filepath.Join(dir, "geowatch.yaml")
	writeFile(t, cfg, `
sources:
  - name: bench
    type: csv
    url: `+cv+`
    schedule: "@hourly"
    header: true
    fields: {id: id, time: time, lat: lat, lon: lon, kind: kind}
`)
	dbC := filepath.Join(dir, "csv.gpkg")
	if got := ingestFile(t, cv, dbC, "bench", []string{"--config", cfg}); got.Added != n {
		t.Fatalf("csv ingest = %+v, want %d added", got, n)
	}
	rn, rc := objectRows(t, dbN), objectRows(t, dbC)
	if len(rn) != n || !slices.Equal(rn, rc) {
		t.Errorf("ndjson stored %d rows, csv %d; first differing: %v", len(rn), len(rc), firstDiff(rn, rc))
	}
}

// readmeIngests returns the argument lists of the geowatch commands in the
// README's Flat NDJSON block, a trailing backslash joining lines.
func readmeIngests(t *testing.T) [][]string {
	t.Helper()
	block := strings.ReplaceAll(readmeBlock(t, "\n#### Flat NDJSON", "sh"), "\\\n", " ")
	var cmds [][]string
	for line := range strings.Lines(block) {
		var args []string
		var cur strings.Builder
		quoted, inArg := false, false
		for _, r := range line {
			switch {
			case r == '"':
				quoted, inArg = !quoted, true
			case (r == ' ' || r == '\n') && !quoted:
				if inArg {
					args, inArg = append(args, cur.String()), false
					cur.Reset()
				}
			default:
				cur.WriteRune(r)
				inArg = true
			}
		}
		if len(args) > 1 && args[0] == "geowatch" {
			cmds = append(cmds, args[1:])
		}
	}
	if len(cmds) != 2 {
		t.Fatalf("README's Flat NDJSON block has %d geowatch commands, want 2: %q", len(cmds), block)
	}
	return cmds
}

// runIngest runs a README ingest with its file names replaced, and reads
// its summary.
func runIngest(t *testing.T, args []string, files map[string]string) monitor.IngestResult {
	t.Helper()
	args = slices.Clone(args)
	for i, a := range args {
		if f, ok := files[a]; ok {
			args[i] = f
		}
	}
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), args, &stdout, &stderr); err != nil {
		t.Fatalf("geowatch %q: %v\n%s", args, err, stderr.String())
	}
	var r monitor.IngestResult
	if _, err := fmt.Sscanf(stdout.String(), "seen %d, added %d, updated %d, unchanged %d, rejected %d\n",
		&r.Seen, &r.Added, &r.Updated, &r.Unchanged, &r.Rejected); err != nil {
		t.Fatalf("summary %q: %v", stdout.String(), err)
	}
	return r
}

func firstDiff(a, b []string) []string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return []string{a[i], b[i]}
		}
	}
	return nil
}

// TestIngestNDJSONFields maps an export's own member names with --field, and
// rejects the lines that are not objects or lack a position, naming the line
// and the member.
func TestIngestNDJSONFields(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "reports.jsonl")
	writeFile(t, file, strings.Join([]string{
		`{"event":"r1","when":"2026-11-26 10:00","y":43.1,"x":131.9,"what":"protest","note":"crowd at the square"}`,
		``,
		`{"event":"r2","when":"2026-11-26 11:00","y":null,"x":131.9,"what":"protest"}`,
		`[1,2]`,
		`{"event":"r3","when":"yesterday","y":43.2,"x":131.8}`,
		`{"event":4,"when":"2026-11-26 12:30","y":"43.3","x":131.7,"w":2.5}`,
	}, "\n")+"\n")
	db := filepath.Join(dir, "geowatch.gpkg")
	got := runIngest(t, readmeIngests(t)[1], map[string]string{"reports.jsonl": file, "reports.gpkg": db})
	if got.Seen != 5 || got.Added != 2 || got.Rejected != 3 {
		t.Errorf("ingest = %+v, want seen 5, added 2, rejected 3", got)
	}
	if rows, want := objectRows(t, db), []string{
		"4 2026-11-26T12:30:00.000Z 43.3 131.7 -",
		"r1 2026-11-26T10:00:00.000Z 43.1 131.9 protest",
	}; !slices.Equal(rows, want) {
		t.Errorf("stored %q, want %q", rows, want)
	}
	var records []string
	for _, r := range readRejects(t, db) {
		records = append(records, r.record+" "+r.field)
	}
	if want := []string{"line 3 (id r2) y", "line 4 row", "line 5 (id r3) when"}; !slices.Equal(records, want) {
		t.Errorf("rejects = %q, want %q", records, want)
	}
	if err := run(t.Context(), []string{"ingest", file, "--source", "reports", "--db", db, "--format", "geojson", "--field", "id=event"},
		new(strings.Builder), new(strings.Builder)); err == nil || !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "--field is for csv and ndjson") {
		t.Errorf("--field with --format geojson: %v, want a usage error", err)
	}
}
