package sqlite

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/geowatch/geowatch/store"

	"github.com/geowatch/geowatch/monitor"
)

// BenchmarkDurability measures what durability: full costs over normal: one
// Ingest (one transaction, as one push request or one spooled file) after
// another, of 10 records (small pushes, where the per-commit fsync of the WAL
// dominates) and of 10,000 (bulk, where the rows do), and 10-record Ingests from
// 8 goroutines at once (concurrent pushers, whose batches share commits). It
// reports records and calls of Ingest per second.
//
// The figures are only as good as the disk under the file: t.TempDir() is
// usually /tmp, which is a tmpfs on some systems, where fsync is free. Set
// GEOWATCH_BENCH_DIR to a directory on the disk the database will live on:
//
//	GEOWATCH_BENCH_DIR=/var/lib/geowatch go test -run '^$' -bench store.Durability -benchtime 5s ./store
func BenchmarkDurability(b *testing.B) {
	for _, c := range []struct{ batch, callers int }{{10, 1}, {10000, 1}, {10, 8}} {
		for _, d := range []store.Durability{store.DurabilityNormal, store.DurabilityFull} {
			b.Run(fmt.Sprintf("batch=%d/callers=%d/%s", c.batch, c.callers, d), func(b *testing.B) {
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
				var next atomic.Int64
				var calls, records atomic.Int64
				b.SetParallelism(c.callers) // callers × GOMAXPROCS goroutines: set -cpu 1 for exactly c.callers
				body := func() {
					obs := durabilityBatch(int(next.Add(int64(c.batch)))-c.batch, c.batch)
					res, err := db.Ingest(b.Context(), "push", monitor.Batch{Observations: obs}, t0.Add(time.Hour))
					if err != nil {
						b.Error(err)
						return
					}
					if res.Added != c.batch {
						b.Errorf("Ingest added %d of %d", res.Added, c.batch)
					}
					calls.Add(1)
					records.Add(int64(c.batch))
				}
				if c.callers == 1 {
					for b.Loop() {
						body()
					}
				} else {
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							body()
						}
					})
				}
				b.ReportMetric(float64(records.Load())/b.Elapsed().Seconds(), "obs/s")
				b.ReportMetric(float64(calls.Load())/b.Elapsed().Seconds(), "calls/s")
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
