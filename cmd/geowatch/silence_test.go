package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/sqlite"
)

// silenceConfig writes a config with one watch (vlad, rule fires) on a database
// in a temp dir, and returns the config's and the database's paths.
func silenceConfig(t *testing.T) (cfg, db string) {
	t.Helper()
	dir := t.TempDir()
	db = filepath.Join(dir, "geowatch.gpkg")
	cfg = filepath.Join(dir, "geowatch.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
database: %s
watches:
  - name: vlad
    lat: 43.1
    lon: 131.9
    radius: 50km
    rules:
      - name: fires
        type: count
        min: 3
        window: 6h
`, db))
	return cfg, db
}

// logLine decodes the one JSON log line on stderr with msg.
func logLine(t *testing.T, stderr string, msg string) map[string]any {
	t.Helper()
	for line := range strings.Lines(stderr) {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			return m
		}
	}
	t.Fatalf("no %q line in %q", msg, stderr)
	return nil
}

func TestSilenceCommands(t *testing.T) {
	cfg, db := silenceConfig(t)
	var stdout, stderr bytes.Buffer
	args := []string{"silence", "add", "--config", cfg, "--watch", "vlad", "--rule", "fires", "--for", "2h",
		"--comment", "planned burn", "--by", "ana"}
	if err := run(t.Context(), args, &stdout, &stderr); err != nil {
		t.Fatalf("silence add: %v\n%s", err, stderr.String())
	}
	id, err := strconv.ParseInt(strings.TrimSpace(stdout.String()), 10, 64)
	if err != nil {
		t.Fatalf("silence add printed %q, want an id", stdout.String())
	}
	created := logLine(t, stderr.String(), "silence created")
	if created["silence_id"] != float64(id) || created["watch"] != "vlad" || created["rule"] != "fires" ||
		created["comment"] != "planned burn" || created["ends_at"] == "" {
		t.Errorf("silence created line = %v", created)
	}

	// A second, by --db alone and for a whole watch, starting in an hour.
	// Without --config the names are checked against the embedded default
	// config, which has no watch vlad: refused, unless --force says planned.
	stdout.Reset()
	start := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	add2 := []string{"silence", "add", "--db", db, "--watch", "vlad", "--for", "1d", "--start", start, "--comment", "later"}
	if err := run(t.Context(), add2, &stdout, &stderr); !errors.Is(err, errNoSuch) || !strings.Contains(err.Error(), "--force") || stdout.Len() > 0 {
		t.Fatalf("silence add --db --watch vlad = %v, printed %q; want refused: not in the embedded default config", err, stdout.String())
	}
	if err := run(t.Context(), append(add2, "--force"), &stdout, &stderr); err != nil {
		t.Fatalf("silence add --db: %v\n%s", err, stderr.String())
	}
	id2, _ := strconv.ParseInt(strings.TrimSpace(stdout.String()), 10, 64)

	stdout.Reset()
	if err := run(t.Context(), []string{"silence", "list", "--config", cfg}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	table := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(table) != 3 || !strings.HasPrefix(table[0], "ID") {
		t.Fatalf("silence list = %q, want a header and 2 rows", table)
	}
	if f := strings.Fields(table[1]); f[0] != strconv.FormatInt(id, 10) || f[1] != "active" || f[2] != "vlad" || f[3] != "fires" || f[6] != "ana" {
		t.Errorf("row 1 = %q", table[1])
	}
	if f := strings.Fields(table[2]); f[1] != "pending" || f[3] != "*" {
		t.Errorf("row 2 = %q, want pending with any rule", table[2])
	}

	stderr.Reset()
	stdout.Reset()
	if err := run(t.Context(), []string{"silence", "expire", strconv.FormatInt(id, 10), "--db", db}, &stdout, &stderr); err != nil {
		t.Fatalf("silence expire: %v\n%s", err, stderr.String())
	}
	if expired := logLine(t, stderr.String(), "silence expired"); expired["silence_id"] != float64(id) || expired["watch"] != "vlad" {
		t.Errorf("silence expired line = %v", expired)
	}

	stdout.Reset()
	if err := run(t.Context(), []string{"silence", "list", "--db", db, "--format", "json"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var open []silenceJSON
	if err := json.Unmarshal(stdout.Bytes(), &open); err != nil {
		t.Fatalf("silence list --format json: %v\n%s", err, stdout.String())
	}
	if len(open) != 1 || open[0].ID != id2 || open[0].Rule != nil || *open[0].Watch != "vlad" {
		t.Errorf("silences not ended = %+v, want only %d", open, id2)
	}

	stdout.Reset()
	if err := run(t.Context(), []string{"silence", "list", "--db", db, "--all", "--format", "json"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var all []silenceJSON
	if err := json.Unmarshal(stdout.Bytes(), &all); err != nil {
		t.Fatal(err)
	}
	assertFixedWidthTimes(t, stdout.Bytes())
	if len(all) != 2 || all[0].State != "expired" || all[0].ExpiredAt == nil || all[0].CreatedBy != "ana" {
		t.Errorf("all silences = %+v, want the expired one first", all)
	}

	// The daemon's view: the store's Silences at now has only the pending one.
	st, err := sqlite.Open(t.Context(), db, store.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ss, err := st.Silences(t.Context(), time.Now())
	if err != nil || len(ss) != 1 || ss[0].ID != id2 {
		t.Errorf("Silences(now) = %+v, %v; want only %d", ss, err, id2)
	}
}

func TestSilenceErrors(t *testing.T) {
	cfg, db := silenceConfig(t)
	tests := []struct {
		name  string
		args  []string
		usage bool // a usage error (exit 2)
		want  string
	}{
		{"no subcommand", []string{"silence"}, true, "want add, list or expire"},
		{"unknown subcommand", []string{"silence", "mute"}, true, "unknown subcommand"},
		{"neither watch nor rule", []string{"silence", "add", "--db", db, "--for", "1h", "--comment", "x"}, true, "--watch, --rule"},
		{"no duration", []string{"silence", "add", "--db", db, "--watch", "vlad", "--comment", "x"}, true, "--for"},
		{"bad duration", []string{"silence", "add", "--db", db, "--watch", "vlad", "--for", "soon", "--comment", "x"}, true, "--for"},
		{"no comment", []string{"silence", "add", "--db", db, "--watch", "vlad", "--for", "1h"}, true, "--comment"},
		{"bad start", []string{"silence", "add", "--db", db, "--watch", "vlad", "--for", "1h", "--comment", "x", "--start", "tomorrow"}, true, "--start"},
		{"in the past", []string{"silence", "add", "--db", db, "--watch", "vlad", "--for", "1h", "--comment", "x", "--start", "2020-01-01T00:00:00Z"}, true, "in the past"},
		{"unknown watch", []string{"silence", "add", "--config", cfg, "--watch", "vladivostok", "--for", "1h", "--comment", "x"}, false, `watch "vladivostok"`},
		{"unknown rule", []string{"silence", "add", "--config", cfg, "--rule", "quakes", "--for", "1h", "--comment", "x"}, false, `rule "quakes"`},
		{"rule of another watch", []string{"silence", "add", "--config", cfg, "--watch", "vlad", "--rule", "count", "--for", "1h", "--comment", "x"}, false, "on watch vlad"},
		{"expire without id", []string{"silence", "expire", "--db", db}, true, "one ID"},
		{"expire bad id", []string{"silence", "expire", "--db", db, "x"}, true, "ID"},
		{"expire unknown id", []string{"silence", "expire", "--db", db, "999"}, false, "no silence 999"},
		{"list bad format", []string{"silence", "list", "--db", db, "--format", "csv"}, true, "--format"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tc.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run(%q) = %v, want an error with %q", tc.args, err, tc.want)
			}
			if got := errors.As(err, new(usageError)); got != tc.usage {
				t.Errorf("usage error %v, want %v (%v)", got, tc.usage, err)
			}
			if stdout.Len() != 0 {
				t.Errorf("printed %q on an error", stdout.String())
			}
		})
	}
	// None of them made a silence.
	var stdout bytes.Buffer
	if err := run(t.Context(), []string{"silence", "list", "--db", db, "--all"}, &stdout, new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(stdout.String()), "\n"); len(lines) != 1 {
		t.Errorf("silences after failed commands: %q", lines)
	}
}
