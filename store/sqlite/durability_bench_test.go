package sqlite

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/geowatch/geowatch/store"

	"github.com/geowatch/geowatch/monitor"
)

// BenchmarkDurability measures what durability: full costs over normal: one
// Ingest (one transaction, as one push request or one spooled file) after
// another, of 10 records (small pushes, where the per-commit fsync of the WAL
// dominates) and of 10,000 (bulk, where the rows do). It reports records and
// commits per second.
//
// The figures are only as good as the disk under the file: t.TempDir() is
// usually /tmp, which is a tmpfs on some systems, where fsync is free. Set
// GEOWATCH_BENCH_DIR to a directory on the disk the database will live on:
//
//	GEOWATCH_BENCH_DIR=/var/lib/geowatch go test -run '^$' -bench store.Durability -benchtime 5s ./store
func BenchmarkDurability(b *testing.B) {
	for _, batch := range []int{10, 10000} {
		for _, d := range []store.Durability{store.DurabilityNormal, store.DurabilityFull} {
			b.Run(fmt.Sprintf("batch=%d/%s", batch, d), func(b *testing.B) {
				dir := b.TempDir()
				if env := os.Getenv("GEOWATCH_BENCH_DIR"); env != "" {
					var err error
					if dir, err = os.MkdirTemp(env, "geowatch-bench-"); err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { os.RemoveAll(dir) })
				}
				db, err := Open(b.Context(), filepath.Join(dir, "geowatch.gpkg"), store.WithDurability(d))
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				next := 0
				commits, records := 0, 0
				for b.Loop() {
					b.StopTimer()
					obs := durabilityBatch(next, batch)
					next += batch
					b.StartTimer()
					res, err := db.Ingest(b.Context(), "push", monitor.Batch{Observations: obs}, t0.Add(time.Hour))
					if err != nil {
						b.Fatal(err)
					}
					if res.Added != batch {
						b.Fatalf("Ingest added %d of %d", res.Added, batch)
					}
					commits++
					records += batch
				}
				b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "obs/s")
				b.ReportMetric(float64(commits)/b.Elapsed().Seconds(), "commits/s")
			})
		}
	}
}

// durabilityBatch returns n new records, ids from first on, spread over a
// day and a region as a stream of field reports would be.
func durabilityBatch(first, n int) []monitor.Observation {
	out := make([]monitor.Observation, n)
	for i := range out {
		k := first + i
		o := obs(fmt.Sprintf("r%d", k), 120+float64(k%997)*0.02, 30+float64(k%991)*0.02, t0.Add(-time.Duration(k%86400)*time.Second))
		o.Title = fmt.Sprintf("field report %d near the crossing", k)
		out[i] = o
	}
	return out
}
