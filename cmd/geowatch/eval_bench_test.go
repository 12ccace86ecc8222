package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store/sqlite"
	"github.com/paulmach/orb"
	"go.uber.org/zap"
)

// BenchmarkEvaluateDefaultWatches evaluates the embedded default config's two
// watches (four rules) with the bundled scenario replayed among 200,000
// background observations over Primorsky Krai and the 30 days before.
func BenchmarkEvaluateDefaultWatches(b *testing.B) {
	_, plan, err := loadConfig("")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.gpkg"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	engine, err := monitor.NewEngine(ctx, st, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	for _, c := range plan.Checks {
		if _, err := engine.RunCheck(ctx, c.Name, c.Type, c.Source, now, nil); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := []string{"police_presence", "rail_activity", "traffic", "news", "weather"}
	for k := range 20 {
		var batch monitor.Batch
		for i := range 10000 {
			batch.Observations = append(batch.Observations, monitor.Observation{
				ID:    fmt.Sprintf("bg-%d-%d", k, i),
				Time:  now.Add(-time.Duration(rng.Int64N(int64(30 * 24 * time.Hour)))),
				Point: orb.Point{130.4 + 8*rng.Float64(), 42.3 + 6*rng.Float64()},
				Kind:  kinds[rng.IntN(len(kinds))],
			})
		}
		if _, err := engine.Ingest(ctx, "background", batch, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		for _, w := range plan.Watches {
			if err := engine.Evaluate(ctx, w.Watch, now); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
}
