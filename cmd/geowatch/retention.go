package main

import (
	"context"
	"sync"
	"time"

	"github.com/geowatch/geowatch/configs"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/daemon"
	"github.com/geowatch/geowatch/store"
	"go.uber.org/zap"
)

// startRetention prunes the store on the plan's retention schedule until ctx is
// done or the returned stop is called; stop waits for a prune in progress (which
// stops after its current batch) to return. Without retention it starts nothing.
// The retention and its schedule are read at start-up: changing them takes a
// restart, like the database. engine, when not nil, forgets what was pruned.
func startRetention(ctx context.Context, plan *configs.Plan, st store.Backend, engine *monitor.Engine, log *zap.Logger) (stop func()) {
	if plan.Retention <= 0 {
		return func() {}
	}
	sched, err := daemon.ParseSchedule(plan.RetentionSchedule)
	if err != nil { // validated by configs: cannot happen
		log.Error("retention not scheduled", zap.String("schedule", plan.RetentionSchedule), zap.Error(err))
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			t := time.NewTimer(time.Until(sched.Next(time.Now())))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
				before := time.Now().Add(-plan.Retention)
				if engine != nil {
					engine.Forget(before)
				}
				prune(ctx, st, before, log)
			}
		}
	})
	log.Info("retention scheduled", zap.Duration("retention", plan.Retention), zap.String("schedule", plan.RetentionSchedule))
	return func() {
		cancel()
		wg.Wait()
	}
}

// prune deletes what is dated before before, in store.Prune's bounded batches,
// and logs what went. A failure is logged; the next run tries again.
func prune(ctx context.Context, st store.Backend, before time.Time, log *zap.Logger) {
	start := time.Now()
	res, err := st.Prune(ctx, before, store.DefaultPruneBatch)
	fields := []zap.Field{
		zap.Time("before", before.UTC()), zap.Int64("observations", res.Observations), zap.Int64("rejects", res.Rejects),
		zap.Int64("alerts", res.Alerts), zap.Int64("transitions", res.Transitions),
		zap.Float64("duration", time.Since(start).Seconds()),
	}
	if err != nil {
		log.Error("retention failed", append(fields, zap.Error(err))...)
		return
	}
	log.Info("retention pruned", fields...)
}
