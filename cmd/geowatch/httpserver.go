package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/geowatch/geowatch/configs"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/daemon"
	"github.com/geowatch/geowatch/monitor/httpapi"
	"github.com/geowatch/geowatch/monitor/metrics"
	"github.com/geowatch/geowatch/monitor/source/push"
	"github.com/geowatch/geowatch/store"
	"go.uber.org/zap"
)

// httpAPI is the running HTTP listener of a config with an http block, and
// what a reload needs to swap its push endpoint.
type httpAPI struct {
	srv    *httpapi.Server
	read   *mapAPI // the map and the /v1 reads
	rec    *metrics.Recorder
	engine *monitor.Engine
	log    *zap.Logger
	wg     sync.WaitGroup
}

// readyChecks are /readyz's: the store takes writes, its WAL (SQLite) is
// under wal_max, and the scheduler runs.
func readyChecks(st store.Backend, d *daemon.Daemon) []httpapi.ReadyCheck {
	checks := []httpapi.ReadyCheck{{Name: "store", Check: st.Ping}}
	if w, ok := st.(walStatuser); ok {
		checks = append(checks, httpapi.ReadyCheck{Name: "wal", Check: func(context.Context) error { _, err := w.WALStatus(); return err }})
	}
	return append(checks, httpapi.ReadyCheck{Name: "scheduler", Check: func(context.Context) error {
		if !d.Scheduling() {
			return errors.New("scheduler not running")
		}
		return nil
	}})
}

// openHTTP binds plan's http block, if it has one, so that a port in use stops
// the start-up; serve starts serving. It returns nil without an http block.
func openHTTP(plan *configs.Plan, st store.Backend, engine *monitor.Engine, d *daemon.Daemon, rec *metrics.Recorder, log *zap.Logger) (*httpAPI, error) {
	if plan.HTTP == nil {
		return nil, nil
	}
	a := &httpAPI{rec: rec, engine: engine, log: log.Named("http")}
	ph, err := a.pushHandler(plan)
	if err != nil {
		return nil, err
	}
	a.read = newMapAPI(plan, st, engine, a.log)
	a.srv, err = httpapi.Listen(httpapi.Options{
		Addr:        plan.HTTP.Listen,
		Metrics:     rec.Handler(),
		Push:        ph,
		Read:        a.read.handler(),
		Ready:       readyChecks(st, d),
		StatusToken: statusToken(plan.HTTP),
		Log:         a.log,
	})
	if err != nil {
		return nil, err
	}
	a.log.Info("http listening", zap.String("address", a.srv.Addr().String()),
		zap.Bool("push", ph != nil), zap.Bool("token", plan.HTTP.Token != ""), zap.Bool("status_token", plan.HTTP.MetricsToken))
	return a, nil
}

// statusToken is the token /metrics and /readyz need under h, or "".
func statusToken(h *configs.HTTP) string {
	if h.MetricsToken {
		return h.Token
	}
	return ""
}

// serve serves until ctx is done, then shuts down gracefully; wait waits for it.
func (a *httpAPI) serve(ctx context.Context) {
	a.wg.Go(func() {
		if err := a.srv.Run(ctx); err != nil {
			a.log.Error("http server failed", zap.Error(err))
		}
	})
}

func (a *httpAPI) wait() {
	if a != nil {
		a.wg.Wait()
	}
}

// pushHandler builds the push endpoint of plan, counted in the metrics; nil when
// plan has no push source.
func (a *httpAPI) pushHandler(plan *configs.Plan) (http.Handler, error) {
	if plan.Push == nil {
		return nil, nil
	}
	h, err := push.New(push.Options{
		Ingest:       a.engine.IngestRecords,
		Source:       plan.Push.Source,
		GeoJSON:      plan.Push.GeoJSON,
		MaxBodyBytes: plan.HTTP.MaxBodyBytes,
		Token:        plan.HTTP.Token,
		Rate:         plan.HTTP.Rate,
		Burst:        plan.HTTP.Burst,
		MaxInFlight:  plan.HTTP.MaxInFlight,
		BodyTimeout:  plan.HTTP.BodyTimeout,
		WriteWait:    plan.HTTP.WriteWait,
		Log:          a.log,
	})
	if err != nil {
		return nil, err
	}
	return a.rec.InstrumentPush(h), nil
}

// reloadable checks that next can be applied to the running listener: the
// listener itself is only opened at start.
func (a *httpAPI) reloadable(old, next *configs.Plan) error {
	switch {
	case (old.HTTP == nil) != (next.HTTP == nil):
		return errors.New("the http block cannot be added or removed on reload (restart instead)")
	case old.HTTP != nil && old.HTTP.Listen != next.HTTP.Listen:
		return fmt.Errorf("http.listen cannot change on reload (restart instead): %s → %s", old.HTTP.Listen, next.HTTP.Listen)
	}
	return nil
}

// newMetrics returns the recorder of a config with an http block, or nil (the
// engine and scheduler then report to nothing).
func newMetrics(plan *configs.Plan, engine *monitor.Engine) *metrics.Recorder {
	if plan.HTTP == nil {
		return nil
	}
	opt := metrics.Options{OpenAlerts: engine.OpenAlerts}
	if store.KindOf(plan.Database) == store.SQLite {
		// A file's size; PostgreSQL's is its own exporter's to report.
		opt.DatabasePath = plan.Database
	}
	return metrics.New(opt)
}
