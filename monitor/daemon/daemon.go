// Package daemon runs geowatch's checks and watch evaluations on cron schedules:
// the scheduler loop, backoff of failing checks, reloads that swap the schedule,
// and a graceful stop.
//
// It imports monitor, cron and zap. Only this package (and cmd) reads the wall
// clock, through Options.Now.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/robfig/cron/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Check is a source pulled on a schedule.
type Check struct {
	Name     string
	Type     string
	Schedule string        // cron spec, optional seconds field, or a descriptor such as "@every 1m"
	Timeout  time.Duration // bounds one run
	Source   monitor.Source
	// Fingerprint identifies the check's configuration; a reload keeps the running
	// check (and its source's state, such as HTTP validators) when it is unchanged.
	Fingerprint string
}

// WatchJob is a watch evaluated on a schedule.
type WatchJob struct {
	Watch       *monitor.Watch
	Schedule    string
	Fingerprint string
	// Realtime, when positive, also evaluates the watch this long after the
	// first ingest since its last such evaluation that added or updated an
	// observation in the area its rules read (Watch.QueryArea): a debounce, so
	// a burst of pushes costs one evaluation. Zero: the schedule only.
	Realtime time.Duration
}

// Options tune the daemon. The zero value is usable.
type Options struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Grace bounds how long a stop waits for running jobs; default 30 s.
	Grace time.Duration
	// BackoffBase and BackoffMax bound the pause after consecutive failures of a
	// check: base·2^(n-1), jittered by ±20 %, at most max. Defaults 30 s and 30 min.
	BackoffBase, BackoffMax time.Duration
	// Metrics receives each check run; default monitor.NopMetrics.
	Metrics monitor.Metrics
	// Heartbeat, if set, is called by the scheduler every HeartbeatEvery (default
	// 30 s, at least 1 s) while the schedule runs, under the jobs' context. It is
	// a cron job like the checks, so it stops when the scheduler is wedged: a
	// service watchdog pings from it.
	Heartbeat      func(ctx context.Context)
	HeartbeatEvery time.Duration
}

// ParseSchedule parses a schedule as the daemon does: five cron fields, or six
// with leading seconds, or a descriptor (@hourly, @every 30s); CRON_TZ= prefixes
// select a time zone.
func ParseSchedule(spec string) (cron.Schedule, error) {
	return parser.Parse(spec)
}

var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Daemon schedules checks and evaluations against an engine.
type Daemon struct {
	engine *monitor.Engine
	log    *zap.Logger
	opt    Options
	cron   *cron.Cron

	// jobCtx is the context every job runs under. It outlives the Run context by
	// the grace period, so a stop lets running checks finish.
	jobCtx    context.Context
	cancelJob context.CancelFunc
	wg        sync.WaitGroup // jobs started outside cron: first runs and reload runs

	mu      sync.Mutex
	checks  map[string]*checkEntry
	watches map[string]*watchEntry
	running bool

	// scheduling is true from the start of the schedule to the start of a stop,
	// for readiness probes.
	scheduling atomic.Bool

	lastMu    sync.Mutex // guards lastCheck
	lastCheck LastCheck

	// rts are the real-time watches ingest marks, replaced by Apply, read by
	// Ingested without a lock.
	rts          atomic.Pointer[[]*realtime]
	rtStopped    bool           // guarded by mu: the stop has begun, no new triggers
	rtwg         sync.WaitGroup // evaluations real-time triggers started
	realtimeRuns atomic.Int64
}

// LastCheck is the most recent check run to finish.
type LastCheck struct {
	Source string
	At     time.Time // when it ended; zero before the first
	Err    error     // nil on success
}

// Status is what the daemon schedules and how its checks fare, for a service
// manager's status line.
type Status struct {
	Checks, Watches int
	Failing         int // checks whose last run failed
	Last            LastCheck
}

type checkEntry struct {
	Check
	id cron.EntryID

	mu       sync.Mutex // guards the fields below; runs of one check never overlap
	failures int
	nextTry  time.Time
	done     bool // a run succeeded since the check was scheduled

	failing atomic.Bool // failures > 0, readable without waiting for a run
}

type watchEntry struct {
	WatchJob
	id cron.EntryID
	rt *realtime // nil unless Realtime > 0
}

// New returns a daemon on engine with nothing scheduled; Apply schedules.
func New(engine *monitor.Engine, log *zap.Logger, opt Options) *Daemon {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Grace <= 0 {
		opt.Grace = 30 * time.Second
	}
	if opt.BackoffBase <= 0 {
		opt.BackoffBase = 30 * time.Second
	}
	if opt.BackoffMax <= 0 {
		opt.BackoffMax = 30 * time.Minute
	}
	if opt.Metrics == nil {
		opt.Metrics = monitor.NopMetrics{}
	}
	if opt.HeartbeatEvery <= 0 {
		opt.HeartbeatEvery = 30 * time.Second
	}
	cl := cronLogger{log.Named("cron")}
	jobCtx, cancel := context.WithCancel(context.Background())
	return &Daemon{
		engine:    engine,
		log:       log,
		opt:       opt,
		cron:      cron.New(cron.WithParser(parser), cron.WithLogger(cl), cron.WithChain(cron.Recover(cl), cron.SkipIfStillRunning(cl))),
		jobCtx:    jobCtx,
		cancelJob: cancel,
		checks:    map[string]*checkEntry{},
		watches:   map[string]*watchEntry{},
	}
}

// Changes summarises what Apply did, for the reload log line.
type Changes struct {
	Added, Removed, Changed, Unchanged []string // "source usgs", "watch vladivostok"
}

// Apply makes checks and watches the daemon's schedule. Unchanged entries (same
// name and fingerprint) keep running untouched; changed and new ones replace or
// join them and, once the daemon runs, run right away; removed ones stop. Alerts of
// removed rules are resolved.
func (d *Daemon) Apply(checks []Check, watches []WatchJob) (Changes, error) {
	var ch Changes
	// Parse every schedule first, so a bad one changes nothing.
	for _, c := range checks {
		if _, err := ParseSchedule(c.Schedule); err != nil {
			return ch, fmt.Errorf("daemon: check %s: schedule %q: %w", c.Name, c.Schedule, err)
		}
	}
	for _, w := range watches {
		if _, err := ParseSchedule(w.Schedule); err != nil {
			return ch, fmt.Errorf("daemon: watch %s: schedule %q: %w", w.Watch.Name, w.Schedule, err)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()

	keepC := map[string]bool{}
	for _, c := range checks {
		keepC[c.Name] = true
		old, ok := d.checks[c.Name]
		if ok && old.Fingerprint == c.Fingerprint {
			ch.Unchanged = append(ch.Unchanged, "source "+c.Name)
			continue
		}
		if ok {
			d.cron.Remove(old.id)
			ch.Changed = append(ch.Changed, "source "+c.Name)
		} else {
			ch.Added = append(ch.Added, "source "+c.Name)
		}
		ce := &checkEntry{Check: c}
		ce.id, _ = d.cron.AddFunc(c.Schedule, func() { d.runCheck(d.jobCtx, ce) }) // parsed above
		d.checks[c.Name] = ce
		if d.running {
			d.goJob(func() { d.runCheck(d.jobCtx, ce) })
		}
	}
	for name, ce := range d.checks {
		if !keepC[name] {
			d.cron.Remove(ce.id)
			delete(d.checks, name)
			ch.Removed = append(ch.Removed, "source "+name)
		}
	}

	keepW := map[string]bool{}
	ws := make([]*monitor.Watch, 0, len(watches))
	for _, w := range watches {
		keepW[w.Watch.Name] = true
		ws = append(ws, w.Watch)
		old, ok := d.watches[w.Watch.Name]
		if ok && old.Fingerprint == w.Fingerprint {
			ch.Unchanged = append(ch.Unchanged, "watch "+w.Watch.Name)
			continue
		}
		if ok {
			d.cron.Remove(old.id)
			if old.rt != nil {
				old.rt.stop()
			}
			ch.Changed = append(ch.Changed, "watch "+w.Watch.Name)
		} else {
			ch.Added = append(ch.Added, "watch "+w.Watch.Name)
		}
		we := &watchEntry{WatchJob: w}
		if w.Realtime > 0 && !d.rtStopped {
			we.rt = newRealtime(d, we)
		}
		we.id, _ = d.cron.AddFunc(w.Schedule, func() { d.evaluate(d.jobCtx, we) })
		d.watches[w.Watch.Name] = we
		if d.running {
			d.goJob(func() { d.evaluate(d.jobCtx, we) })
		}
	}
	for name, we := range d.watches {
		if !keepW[name] {
			d.cron.Remove(we.id)
			if we.rt != nil {
				we.rt.stop()
			}
			delete(d.watches, name)
			ch.Removed = append(ch.Removed, "watch "+name)
		}
	}
	d.publishRealtime()
	if err := d.engine.Retire(d.jobCtx, ws, d.opt.Now()); err != nil {
		return ch, fmt.Errorf("daemon: resolve alerts of removed rules: %w", err)
	}
	return ch, nil
}

// Run runs every check once, then evaluates every watch once, then runs both on
// their schedules until ctx is done. It then stops scheduling, waits up to the
// grace period for running jobs, cancels what is left and returns nil. ready, if
// not nil, is called once the schedule is running.
func (d *Daemon) Run(ctx context.Context, ready func()) error {
	d.mu.Lock()
	if d.running {
		d.mu.Unlock()
		return errors.New("daemon: already running")
	}
	d.running = true
	checks := make([]*checkEntry, 0, len(d.checks))
	for _, c := range d.checks {
		checks = append(checks, c)
	}
	d.mu.Unlock()

	// The first pass: fill the store, then evaluate, so a fresh start alerts on
	// what the feeds hold now instead of after the first tick.
	var first sync.WaitGroup
	for _, c := range checks {
		first.Go(func() { d.runCheck(d.jobCtx, c) })
	}
	waitOrDone(ctx, &first)
	if ctx.Err() == nil {
		d.evaluateAll(d.jobCtx)
	}
	if hb := d.opt.Heartbeat; hb != nil {
		d.cron.Schedule(cron.Every(d.opt.HeartbeatEvery), cron.FuncJob(func() {
			if d.scheduling.Load() {
				hb(d.jobCtx)
			}
		}))
	}
	d.cron.Start()
	d.scheduling.Store(true)
	if ready != nil {
		ready()
	}
	d.mu.Lock()
	nw := len(d.watches)
	d.mu.Unlock()
	d.log.Info("scheduler started", zap.Int("checks", len(checks)), zap.Int("watches", nw))

	<-ctx.Done()
	d.scheduling.Store(false)
	d.stopRealtime()
	d.log.Info("stopping", zap.Duration("grace", d.opt.Grace))
	stopped := d.cron.Stop()
	grace := time.NewTimer(d.opt.Grace)
	defer grace.Stop()
	select {
	case <-stopped.Done():
	case <-grace.C:
		d.log.Warn("jobs still running after the grace period; cancelling them")
	}
	d.cancelJob()
	first.Wait()
	d.wg.Wait()
	d.rtwg.Wait()
	<-stopped.Done()
	return nil
}

// Scheduling reports whether the schedule is running: true once Run has made its
// first pass and started the scheduler, false again as soon as a stop begins.
func (d *Daemon) Scheduling() bool { return d.scheduling.Load() }

// Status returns what is scheduled, how many checks are failing and the last
// check run to finish.
func (d *Daemon) Status() Status {
	d.mu.Lock()
	s := Status{Checks: len(d.checks), Watches: len(d.watches)}
	ces := make([]*checkEntry, 0, len(d.checks))
	for _, ce := range d.checks {
		ces = append(ces, ce)
	}
	d.mu.Unlock()
	for _, ce := range ces {
		if ce.failing.Load() {
			s.Failing++
		}
	}
	d.lastMu.Lock()
	s.Last = d.lastCheck
	d.lastMu.Unlock()
	return s
}

func waitOrDone(ctx context.Context, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func (d *Daemon) goJob(f func()) {
	d.wg.Go(f)
}

func (d *Daemon) evaluateAll(ctx context.Context) {
	d.mu.Lock()
	ws := make([]*watchEntry, 0, len(d.watches))
	for _, w := range d.watches {
		ws = append(ws, w)
	}
	d.mu.Unlock()
	for _, w := range ws {
		d.evaluate(ctx, w)
	}
}

// runCheck runs one check unless it is backing off after failures.
func (d *Daemon) runCheck(ctx context.Context, ce *checkEntry) {
	ce.mu.Lock()
	defer ce.mu.Unlock()
	now := d.opt.Now()
	if now.Before(ce.nextTry) {
		d.log.Debug("check backing off", zap.String("source", ce.Name), zap.Time("next_try", ce.nextTry))
		return
	}
	if ctx.Err() != nil {
		return
	}
	runCtx, cancel := context.WithTimeout(ctx, ce.Timeout)
	defer cancel()
	res, err := d.engine.RunCheck(runCtx, ce.Name, ce.Type, ce.Source, now, d.opt.Now)
	dur := d.opt.Now().Sub(now)
	d.opt.Metrics.CheckDone(ce.Name, now, dur, err)
	ce.failing.Store(err != nil)
	d.lastMu.Lock()
	d.lastCheck = LastCheck{Source: ce.Name, At: now.Add(dur), Err: err}
	d.lastMu.Unlock()
	if err != nil {
		ce.failures++
		wait := d.backoff(ce.failures)
		// A server that says when to come back (Retry-After) is obeyed, up to
		// the longest backoff.
		var ra interface {
			RetryDelay(now time.Time) (time.Duration, bool)
		}
		if errors.As(err, &ra) {
			if after, ok := ra.RetryDelay(now); ok && after > wait {
				wait = min(after, d.opt.BackoffMax)
			}
		}
		ce.nextTry = now.Add(wait)
		fields := []zap.Field{zap.String("source", ce.Name), zap.String("type", ce.Type), zap.Error(err),
			zap.Int("failures", ce.failures), zap.Duration("backoff", wait), zap.Int("stored", res.Added+res.Updated)}
		// One line per failure streak at error level; repeats go to debug so a
		// feed that is down for a day does not flood the journal.
		if ce.failures == 1 {
			d.log.Error("check failed", fields...)
		} else {
			d.log.Debug("check failed", fields...)
		}
		return
	}
	if ce.failures > 0 {
		d.log.Info("check recovered", zap.String("source", ce.Name), zap.Int("failures", ce.failures))
	}
	// The first success, and a run that changed or rejected something, are
	// news at info; a routine run that found nothing new is debug, or a feed
	// polled every 15 s would bury the alerts.
	level := zapcore.DebugLevel
	if !ce.done || ce.failures > 0 || res.Added+res.Updated+res.Rejected > 0 {
		level = zapcore.InfoLevel
	}
	ce.failures, ce.nextTry, ce.done = 0, time.Time{}, true
	d.log.Log(level, "check done", zap.String("source", ce.Name), zap.String("type", ce.Type),
		zap.Int("seen", res.Seen), zap.Int("added", res.Added), zap.Int("updated", res.Updated),
		zap.Int("unchanged", res.Unchanged), zap.Int("rejected", res.Rejected), zap.Duration("duration", dur))
}

func (d *Daemon) backoff(failures int) time.Duration {
	b := d.opt.BackoffBase
	for i := 1; i < failures && b < d.opt.BackoffMax; i++ {
		b *= 2
	}
	b = min(b, d.opt.BackoffMax)
	jitter := 0.8 + 0.4*rand.Float64() // desynchronises checks that failed together
	return time.Duration(float64(b) * jitter)
}

func (d *Daemon) evaluate(ctx context.Context, we *watchEntry) {
	if ctx.Err() != nil {
		return
	}
	now := d.opt.Now()
	if err := d.engine.Evaluate(ctx, we.Watch, now); err != nil {
		d.log.Error("evaluation failed", zap.String("watch", we.Watch.Name), zap.Error(err))
		return
	}
	d.log.Debug("evaluated", zap.String("watch", we.Watch.Name), zap.Duration("duration", d.opt.Now().Sub(now)))
}

// cronLogger adapts zap to cron's logger, keeping cron's chatter at debug.
type cronLogger struct{ l *zap.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Sugar().Debugw(msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Sugar().Errorw(msg, append(kv, "error", err)...)
}
