package monitor_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/rule"
	"github.com/paulmach/orb"
	"go.uber.org/zap"
)

// sliceStore answers every query with a fresh copy of the same observations, as
// a database does, so that a benchmark measures the engine and its rules.
type sliceStore struct{ obs []monitor.Observation }

func (s sliceStore) Ingest(context.Context, string, monitor.Batch, time.Time) (monitor.IngestResult, error) {
	return monitor.IngestResult{}, nil
}

func (s sliceStore) Observations(context.Context, monitor.Query) ([]monitor.Observation, error) {
	return slices.Clone(s.obs), nil
}

func (s sliceStore) RecordCheck(context.Context, monitor.CheckRun) error { return nil }

// BenchmarkEvaluate100k evaluates one watch with three rules (count, cluster,
// surge) over 100,000 observations within its 50 km: the engine's own cost
// (one read, one sort, a view per rule) and the rules'.
func BenchmarkEvaluate100k(b *testing.B) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(1, 2))
	obs := make([]monitor.Observation, 100_000)
	for i := range obs {
		obs[i] = monitor.Observation{FID: int64(i + 1), Source: "bench", ID: fmt.Sprint(i), Kind: "report", Weight: 1,
			Time:  now.Add(-time.Duration(r.Int64N(int64(7 * 24 * time.Hour)))),
			Point: orb.Point{vladivostok[0] + (r.Float64()-0.5)*0.8, vladivostok[1] + (r.Float64()-0.5)*0.6}}
	}
	// In time order, as the store returns them.
	slices.SortFunc(obs, func(a, b monitor.Observation) int { return a.Time.Compare(b.Time) })
	count, _ := rule.NewCount(rule.CountParams{Min: 10, Window: 6 * time.Hour})
	cluster, _ := rule.NewCluster(rule.ClusterParams{EpsMeters: 300, MinPoints: 5, Window: 6 * time.Hour})
	surge, _ := rule.NewSurge(rule.SurgeParams{Window: 6 * time.Hour, Baseline: 6 * 24 * time.Hour, Alpha: 0.01, Min: 10})
	w := &monitor.Watch{Name: "vlad", Center: vladivostok, RadiusMeters: 50e3, Rules: []monitor.NamedRule{
		{Name: "count", Type: "count", Rule: count}, {Name: "cluster", Type: "cluster", Rule: cluster}, {Name: "surge", Type: "surge", Rule: surge}}}
	e, err := monitor.NewEngine(b.Context(), struct {
		sliceStore
		*monitor.MemoryAlerts
	}{sliceStore{obs}, monitor.NewMemoryAlerts()}, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Evaluate(b.Context(), w, now); err != nil {
			b.Fatal(err)
		}
	}
}
