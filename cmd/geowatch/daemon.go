package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/geowatch/geowatch/configs"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/daemon"
	"github.com/geowatch/geowatch/monitor/sink"
	"github.com/geowatch/geowatch/monitor/source/replay"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/systemd"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/term"
)

// loadConfig reads the config at path, or the embedded default when path is "".
func loadConfig(path string) (*configs.Config, *configs.Plan, error) {
	var (
		c   *configs.Config
		err error
	)
	if path == "" {
		c, err = configs.Parse(configs.DefaultYAML)
		if err != nil {
			return nil, nil, fmt.Errorf("embedded default config: %w", err)
		}
	} else if c, err = configs.Load(path); err != nil {
		return nil, nil, err
	}
	plan, err := c.Build()
	if err != nil {
		return nil, nil, err
	}
	return c, plan, nil
}

func cmdCheckConfig(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check-config", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"check-config takes one FILE"}
	}
	if data, err := os.ReadFile(fs.Arg(0)); err == nil && isEmptyYAML(data) {
		return fmt.Errorf("%s: empty: no sources, watches or subscribers (the embedded default is what geowatch run uses without --config)", fs.Arg(0))
	}
	_, plan, err := loadConfig(fs.Arg(0))
	if err != nil {
		var j interface{ Unwrap() []error }
		if errors.As(err, &j) {
			for _, e := range j.Unwrap() {
				fmt.Fprintln(stderr, e)
			}
			if n := len(j.Unwrap()); n != 1 {
				return fmt.Errorf("%s: %d errors", fs.Arg(0), n)
			}
			return fmt.Errorf("%s: 1 error", fs.Arg(0))
		}
		return err
	}
	if len(plan.Watches) == 0 {
		fmt.Fprintf(stderr, "%s: warning: no watches: observations are stored, but nothing can alert\n", fs.Arg(0))
	}
	_, err = fmt.Fprintf(stdout, "%s: ok (%d sources, %d watches, %d subscribers)\n",
		fs.Arg(0), len(plan.Checks), len(plan.Watches), len(plan.Subscribers))
	return err
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// logFormat resolves a log format: auto is console on a terminal and JSON
// anywhere else (journald, files, pipes).
func logFormat(w io.Writer, format string) (string, error) {
	switch format {
	case "", "auto":
		if isTerminal(w) {
			return "console", nil
		}
		return "json", nil
	case "json", "console":
		return format, nil
	}
	return "", usageError{fmt.Sprintf("log format %q: want json, console or auto", format)}
}

// isEmptyYAML reports whether data holds nothing but blank lines and comments.
func isEmptyYAML(data []byte) bool {
	for line := range strings.Lines(string(data)) {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") && l != "---" {
			return false
		}
	}
	return true
}

// newLogger builds the process log on w at level: JSON, console (colour only
// on a terminal, never escapes in files and pipes) or auto.
func newLogger(w io.Writer, level, format string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	if format, err = logFormat(w, format); err != nil {
		return nil, err
	}
	ec := zap.NewProductionEncoderConfig()
	ec.TimeKey = "ts"
	ec.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	var enc zapcore.Encoder
	if format == "console" {
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
		if isTerminal(w) {
			ec.EncodeLevel = zapcore.CapitalColorLevelEncoder
		}
		ec.EncodeTime = zapcore.TimeEncoderOfLayout("2006-01-02T15:04:05.000Z07:00")
		ec.EncodeDuration = zapcore.StringDurationEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	} else {
		enc = zapcore.NewJSONEncoder(ec)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), lvl)), nil
}

// openLog builds the daemon's log: newLogger's on w, or, under systemd (w is
// the journal stream $JOURNAL_STREAM names) or with sink journal, the journal
// with structured fields (systemd.JournalCore), falling back to w for any
// entry the journal does not take.
func openLog(w io.Writer, level, format, sink string) (*zap.Logger, error) {
	log, err := newLogger(w, level, format)
	if err != nil || sink == "stdout" {
		return log, err
	}
	f, _ := w.(*os.File)
	if sink != "journal" && !systemd.IsJournalStream(f) {
		return log, nil
	}
	if !systemd.JournalAvailable() {
		if sink == "journal" {
			log.Warn("the journal's socket is unreachable; logging to stdout")
		}
		return log, nil
	}
	lvl, _ := zapcore.ParseLevel(level) // newLogger checked it
	return zap.New(systemd.NewJournalCore(lvl, nil, log.Core())), nil
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	cfgPath := fs.String("config", "", "config `FILE` (default: the embedded default config)")
	logLevel := fs.String("log-level", "", "log `LEVEL`: debug, info, warn, error (overrides the config)")
	logFmt := fs.String("log-format", "", "log `FORMAT`: json, console, or auto (console on a terminal, else JSON; overrides the config)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *logFmt != "" {
		if _, err := logFormat(stdout, *logFmt); err != nil {
			return err
		}
	}
	_, plan, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *logLevel != "" {
		plan.LogLevel = *logLevel
	}
	if *logFmt != "" {
		plan.LogFormat = *logFmt
	}
	log, err := openLog(stdout, plan.LogLevel, plan.LogFormat, plan.LogSink)
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // stdout sync fails on pipes; nothing to do
	return runDaemon(ctx, *cfgPath, plan, log)
}

// runDaemon opens the store, schedules the plan and runs until ctx is done,
// reloading the config at cfgPath on SIGHUP.
func runDaemon(ctx context.Context, cfgPath string, plan *configs.Plan, log *zap.Logger) error {
	if os.Geteuid() == 0 && os.Getenv("INVOCATION_ID") == "" {
		log.Warn("running as root outside systemd; prefer the unit's geowatch user")
	}
	st, err := openWritable(ctx, plan.Database, plan, log)
	if err != nil {
		return err
	}
	defer st.Close()
	log.Info("store open", zap.String("database", st.String()))

	engine, err := monitor.NewEngine(ctx, st, log.Named("engine"))
	if err != nil {
		return err
	}
	watches := make([]*monitor.Watch, len(plan.Watches))
	for i, w := range plan.Watches {
		watches[i] = w.Watch
	}
	engine.SetRecentLimit(plan.MemoryObservations)
	if err := engine.Preload(ctx, watches, time.Now()); err != nil {
		log.Warn("evaluations query the store until the recent observations load", zap.Error(err))
	}
	resumeReplays(ctx, plan, st, log)
	engine.SetMaxFuture(plan.MaxFuture)
	subs, err := openSubscribers(plan.Subscribers, log)
	if err != nil {
		return err
	}
	defer func() { subs.Close() }()
	subs.seed(ctx, st, log)
	engine.SetNotifiers(subs.notifiers)

	dopt := daemon.Options{}
	svc := newService(st, engine, log)
	svc.options(&dopt)
	rec := newMetrics(plan, engine)
	if rec != nil {
		engine.SetMetrics(rec)
		dopt.Metrics = rec
	}
	d := daemon.New(engine, log, dopt)
	svc.d = d
	engine.OnIngest(d.Ingested) // watches with realtime: evaluated soon after new data in their area
	if _, err := d.Apply(plan.Checks, plan.Watches); err != nil {
		return err
	}
	api, err := openHTTP(plan, st, engine, d, rec, log)
	if err != nil {
		return err
	}
	if api != nil {
		// Stopped by ctx like the scheduler, and waited for before the store closes,
		// so a push in flight either commits or is refused.
		api.serve(ctx)
		defer api.wait()
	}
	defer startRetention(ctx, plan, st, engine, log)() // stopped before the store closes

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reloadDone := make(chan struct{})
	reloadCtx, stopReload := context.WithCancel(ctx)
	go func() {
		defer close(reloadDone)
		for {
			select {
			case <-reloadCtx.Done():
				return
			case <-hup:
				svc.reloading()
				next, err := reload(ctx, cfgPath, plan, st, d, engine, subs, api, log)
				if err != nil {
					log.Error("reload failed, keeping previous config", zap.Error(err))
				} else {
					plan, subs = next.plan, next.subs
				}
				svc.reloaded(err)
			}
		}
	}()
	// STOPPING=1 goes out as the stop begins, not after the grace period.
	stopNotify := context.AfterFunc(ctx, svc.stopping)
	defer stopNotify()
	err = d.Run(ctx, svc.ready)
	svc.stopping()
	stopReload()
	<-reloadDone
	// The subscribers get a moment to take what is queued; the rest stays in
	// the store and is delivered after the next start.
	drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), subscriberDrain)
	if err := engine.Close(drain); err != nil {
		log.Warn("subscribers still had alerts to deliver at stop; they get them after the next start", zap.Error(err))
	}
	cancel()
	log.Info("stopped")
	return err
}

// subscriberDrain bounds how long a stop waits for subscribers to take the
// alerts queued for them.
const subscriberDrain = 5 * time.Second

type reloaded struct {
	plan *configs.Plan
	subs *subscribers
}

// reload builds the whole new config and swaps it in only if every part of it
// is valid; the running config is untouched otherwise.
func reload(ctx context.Context, cfgPath string, old *configs.Plan, st store.Backend, d *daemon.Daemon, engine *monitor.Engine, oldSubs *subscribers, api *httpAPI, log *zap.Logger) (reloaded, error) {
	start := time.Now()
	_, plan, err := loadConfig(cfgPath)
	if err != nil {
		return reloaded{}, err
	}
	if plan.Database != old.Database || plan.FullSync != old.FullSync || plan.SpatialIndex != old.SpatialIndex ||
		plan.MemoryObservations != old.MemoryObservations {
		return reloaded{}, fmt.Errorf("database, durability, spatial_index and memory_observations cannot change on reload (restart instead)")
	}
	var push http.Handler // the new push endpoint, with the token read again
	if api != nil {
		if err := api.reloadable(old, plan); err != nil {
			return reloaded{}, err
		}
		if push, err = api.pushHandler(plan); err != nil {
			return reloaded{}, err
		}
	} else if plan.HTTP != nil {
		return reloaded{}, errors.New("the http block cannot be added on reload (restart instead)")
	}
	subs, err := openSubscribers(plan.Subscribers, log)
	if err != nil {
		return reloaded{}, err
	}
	subs.seed(ctx, st, log)
	resumeReplays(ctx, plan, st, log)
	ch, err := d.Apply(plan.Checks, plan.Watches)
	if err != nil {
		subs.Close()
		return reloaded{}, err
	}
	// Subscribers the new config removed first deliver what they are owed,
	// such as the resolved events of alerts the reload ended; their files are
	// closed after that.
	retired := engine.SetNotifiers(subs.notifiers)
	go func() {
		<-retired
		oldSubs.Close()
	}()
	warnRemovals(log, old, plan, ch)
	if api != nil {
		api.srv.SetPush(push)
		api.read.setPlan(plan)
	}
	log.Info("config reloaded", zap.String("config", cfgPath), zap.Strings("added", ch.Added),
		zap.Strings("removed", ch.Removed), zap.Strings("changed", ch.Changed),
		zap.Int("unchanged", len(ch.Unchanged)), zap.Duration("duration", time.Since(start)))
	return reloaded{plan: plan, subs: subs}, nil
}

// resumeReplays makes each replay source resume the timeline of the run that
// stored its recording, found from the stored time of the recording's earliest
// event: a restarted demo leaves its rows as they were instead of moving every
// one (and opening its alerts again at the new times).
func resumeReplays(ctx context.Context, plan *configs.Plan, st store.Backend, log *zap.Logger) {
	for _, c := range plan.Checks {
		src := c.Source
		if n, ok := src.(configs.Namespaced); ok {
			src = n.Source
		}
		r, ok := src.(*replay.Source)
		if !ok {
			continue
		}
		id, recorded, ok := r.First()
		if !ok {
			continue
		}
		stored, found, err := st.ObservedAt(ctx, c.Name, id)
		if err != nil {
			log.Warn("replay starts a new timeline: the stored one cannot be read", zap.String("source", c.Name), zap.Error(err))
			continue
		}
		if found {
			r.Resume(stored.Sub(recorded))
			log.Debug("replay resumes its stored timeline", zap.String("source", c.Name), zap.Time("first_event", stored))
		}
	}
}

// warnRemovals warns when a reload removed every watch or most of them: a
// config cut short by an editor or a failed copy is still valid YAML, and the
// alerts of every watch it lost are resolved.
func warnRemovals(log *zap.Logger, old, plan *configs.Plan, ch daemon.Changes) {
	var removed []string
	for _, r := range ch.Removed {
		if name, ok := strings.CutPrefix(r, "watch "); ok {
			removed = append(removed, name)
		}
	}
	if n := len(old.Watches); n > 0 && 2*len(removed) > n {
		log.Warn("reload removed most watches; their alerts are resolved", zap.Strings("removed_watches", removed),
			zap.Int("watches_before", n), zap.Int("watches_after", len(plan.Watches)))
	}
}

// subscribers are the opened sinks of a config, with what must be closed.
type subscribers struct {
	notifiers []monitor.Notifier
	closers   []io.Closer
	// alertmanagers re-send the firing alerts their filter matches.
	alertmanagers []seeded
}

type seeded struct {
	sink   *sink.Alertmanager
	filter monitor.Filter
}

// seed hands each Alertmanager subscriber the alerts firing now that were
// announced (a silence did not mute every firing transition of theirs), which
// it re-sends from the start: a restarted or reloaded daemon would otherwise go
// quiet about them until their next transition, and Alertmanager would
// resolve them meanwhile.
func (s *subscribers) seed(ctx context.Context, st store.Backend, log *zap.Logger) {
	if len(s.alertmanagers) == 0 {
		return
	}
	open, err := st.OpenAlerts(ctx)
	var ids []int64
	for _, a := range open {
		if a.State == monitor.StateFiring {
			ids = append(ids, a.ID)
		}
	}
	announced := map[int64]bool{}
	if err == nil && len(ids) > 0 {
		var ts []store.TransitionRecord
		ts, err = st.Transitions(ctx, store.TransitionFilter{AlertIDs: ids})
		for _, t := range ts {
			if t.To == monitor.StateFiring && monitor.Deliverable(t.Transition) {
				announced[t.AlertID] = true
			}
		}
	}
	if err != nil {
		log.Error("alertmanager subscribers: read the firing alerts; they are sent at their next transition", zap.Error(err))
		return
	}
	for _, am := range s.alertmanagers {
		var firing []monitor.Alert
		for _, a := range open {
			if a.State == monitor.StateFiring && announced[a.ID] && am.filter.Match(monitor.Event{Alert: a, Transition: monitor.Transition{AlertID: a.ID, To: monitor.StateFiring}}) {
				firing = append(firing, a)
			}
		}
		am.sink.Seed(firing)
	}
}

func openSubscribers(cfg []configs.Subscriber, log *zap.Logger) (*subscribers, error) {
	s := &subscribers{}
	for _, c := range cfg {
		var n monitor.Notifier
		switch c.Sink {
		case "log":
			n = sink.NewLog(log.Named(systemd.AlertsLogger))
		case "file":
			f, err := sink.OpenRotatingFile(c.Path, c.Rotation)
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("subscriber %s: %w", c.Name, err)
			}
			s.closers = append(s.closers, f)
			n = f
		case "webhook":
			w, err := sink.NewWebhook(c.URL, c.Webhook)
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("subscriber %s: %w", c.Name, err)
			}
			n = w
		case "alertmanager":
			opt := c.Alertmanager
			opt.Log = log.Named("alertmanager").With(zap.String("subscriber", c.Name))
			am, err := sink.NewAlertmanager(c.URLs, opt)
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("subscriber %s: %w", c.Name, err)
			}
			s.closers = append(s.closers, am)
			s.alertmanagers = append(s.alertmanagers, seeded{am, c.Filter})
			n = am
		}
		s.notifiers = append(s.notifiers, monitor.Subscription{Subscriber: c.Name, Sink: n, Filter: c.Filter})
	}
	return s, nil
}

// Close closes the subscribers' files.
func (s *subscribers) Close() {
	for _, c := range s.closers {
		c.Close()
	}
}
