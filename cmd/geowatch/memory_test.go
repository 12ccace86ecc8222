package main

import (
	"bytes"
	"path/filepath"
	"testing"
)

// TestIngestWhileDaemonRuns runs the daemon on a watch evaluated every second
// and imports records into its database with geowatch ingest, another
// process's write as far as the daemon can tell: the alert fires from them,
// with the recent observations in memory (noticing the foreign write and
// loading again) and with memory_observations: 0 (from the database alone).
func TestIngestWhileDaemonRuns(t *testing.T) {
	for _, tc := range []struct {
		name, setting string
		memory        bool
	}{
		{"memory", "", true},
		{"database", "memory_observations: 0\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "geowatch.yaml")
			writeFile(t, cfg, "database: "+filepath.Join(dir, "geowatch.gpkg")+"\n"+tc.setting+`sources: []
watches:
  - {name: vlad, lat: 43.11, lon: 131.88, radius: 5km, schedule: "@every 1s", rules: [{name: reports, type: count, min: 3, window: 1h}]}
`)
			feed := writeFeed(t, dir)
			imported := false
			out := runFor(t, cfg, func(b *syncBuffer) bool {
				if !imported && len(b.find(t, "scheduler started")) > 0 {
					imported = true
					var stdout, stderr bytes.Buffer
					if err := run(t.Context(), []string{"ingest", "--config", cfg, "--source", "field", "--format", "geojson", feed}, &stdout, &stderr); err != nil {
						t.Fatalf("ingest: %v\n%s", err, stderr.String())
					}
				}
				return len(b.find(t, "alert firing")) > 0
			})
			loaded := out.find(t, "recent observations loaded")
			reloads := out.find(t, "observations written elsewhere; loading the recent ones again")
			if tc.memory && (len(loaded) == 0 || len(reloads) == 0) {
				t.Errorf("with memory: %d loads and %d reloads logged, want both", len(loaded), len(reloads))
			}
			if !tc.memory && len(loaded)+len(reloads) > 0 {
				t.Errorf("memory_observations: 0 loaded into memory:\n%s", out.buf.String())
			}
			if got := out.find(t, "alert firing")[0]["count"]; got != 3.0 {
				t.Errorf("alert firing with count %v, want 3", got)
			}
		})
	}
}
