package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/daemon"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/systemd"
	"go.uber.org/zap"
)

// statusEvery is how often the status line is refreshed when systemd's
// watchdog is off; with it on, the status goes with every ping.
const statusEvery = 30 * time.Second

// service reports the daemon's life to systemd: READY=1 once the schedule
// runs, a STATUS= line kept current, WATCHDOG=1 from the scheduler's heartbeat
// while the store answers, RELOADING=1 around reloads and STOPPING=1 as soon
// as a stop begins. Outside systemd ($NOTIFY_SOCKET unset) it does nothing.
type service struct {
	sd       *systemd.Notifier
	watchdog bool          // $WATCHDOG_USEC asks for pings
	every    time.Duration // heartbeat period: half the watchdog timeout, or statusEvery
	st       store.Backend
	engine   *monitor.Engine
	log      *zap.Logger
	d        *daemon.Daemon // set before the daemon runs

	mu      sync.Mutex // orders messages: nothing follows STOPPING=1
	stopped bool
	note    string // what the last reload did, shown after the counts
}

func newService(st store.Backend, engine *monitor.Engine, log *zap.Logger) *service {
	s := &service{sd: systemd.NewNotifier(), st: st, engine: engine, log: log, every: statusEvery}
	if iv := systemd.WatchdogInterval(); iv > 0 {
		s.watchdog, s.every = true, iv
	}
	return s
}

// options sets the daemon's heartbeat to the service's when there is a
// service manager to tell.
func (s *service) options(o *daemon.Options) {
	if s.sd.Enabled() {
		o.Heartbeat, o.HeartbeatEvery = s.heartbeat, s.every
	}
}

// send sends one message, given the current status line, unless the stop was
// announced. The status is read first: it waits on the engine, a stop must not.
func (s *service) send(f func(status string) error) {
	if !s.sd.Enabled() {
		return
	}
	status := s.status()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	if s.note != "" {
		status += "; " + s.note
	}
	if err := f(status); err != nil {
		s.log.Warn("sd_notify failed", zap.Error(err))
	}
}

// ready is the daemon's ready callback: the store is open and the first
// pass is done, the schedule runs.
func (s *service) ready() {
	s.send(s.sd.Ready)
}

// heartbeat runs on the scheduler: it pings the watchdog only while the
// schedule runs and the store answers, and refreshes the status either way.
func (s *service) heartbeat(ctx context.Context) {
	if !s.sd.Enabled() {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, s.every)
	err := s.st.Ping(pctx)
	cancel()
	if !s.d.Scheduling() {
		return // a stop began: no more pings
	}
	if err != nil {
		if s.watchdog {
			s.log.Error("health check failed; not pinging the watchdog", zap.Error(err))
		}
		s.send(func(status string) error { return s.sd.Status("store not answering: " + err.Error() + "; " + status) })
		return
	}
	s.send(func(status string) error {
		if s.watchdog {
			return s.sd.Send("WATCHDOG=1", "STATUS="+status)
		}
		return s.sd.Status(status)
	})
}

// reloading and reloaded bracket a reload; err is the reload's failure.
func (s *service) reloading() {
	s.send(func(status string) error { return s.sd.Reloading("reloading: " + status) })
}

func (s *service) reloaded(err error) {
	s.mu.Lock()
	if err != nil {
		s.note = "reload failed " + time.Now().UTC().Format(time.RFC3339) + ", kept previous config"
	} else {
		s.note = "reloaded " + time.Now().UTC().Format(time.RFC3339)
	}
	s.mu.Unlock()
	s.send(s.sd.Ready)
}

// stopping announces the stop; later messages are dropped.
func (s *service) stopping() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped {
		s.stopped = true
		s.sd.Stopping() //nolint:errcheck // best effort: systemd sees the exit anyway
	}
}

// status is the one-line summary: "3 sources (1 failing), 2 watches,
// 1 alert firing, last check usgs-hour 2026-11-27T07:22:32Z".
func (s *service) status() string {
	st := s.d.Status()
	firing := 0
	for _, a := range s.engine.OpenAlerts() {
		if a.State == monitor.StateFiring {
			firing++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s", plural(st.Checks, "source"))
	if st.Failing > 0 {
		fmt.Fprintf(&b, " (%d failing)", st.Failing)
	}
	fmt.Fprintf(&b, ", %s, %s firing, last check ", plural(st.Watches, "watch"), plural(firing, "alert"))
	if st.Last.At.IsZero() {
		b.WriteString("none")
	} else {
		fmt.Fprintf(&b, "%s %s", st.Last.Source, st.Last.At.UTC().Format(time.RFC3339))
		if st.Last.Err != nil {
			b.WriteString(" failed")
		}
	}
	if w, ok := s.st.(walStatuser); ok {
		if size, err := w.WALStatus(); err != nil {
			fmt.Fprintf(&b, "; WAL %d MiB: a reader holds an old snapshot", size>>20)
		}
	}
	return b.String()
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "ch") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
