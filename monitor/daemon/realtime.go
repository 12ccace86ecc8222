package daemon

import (
	"sync"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

// realtime re-evaluates one watch soon after new data lands in its area,
// besides its schedule. Ingest marks it (mark, no I/O, never waits for an
// evaluation); the first mark arms a timer of the watch's debounce; when it
// fires the watch is evaluated once for every mark since. A mark during that
// evaluation arms the timer again once it ends, so data that landed while the
// evaluation read the store is never missed, and evaluations never pile up.
type realtime struct {
	d        *Daemon
	we       *watchEntry
	debounce time.Duration
	area     monitor.Shape
	bounds   []orb.Bound

	mu      sync.Mutex // guards the fields below; never held across an evaluation
	pending bool       // the timer is armed
	running bool       // an evaluation it started is under way
	again   bool       // marked while running
	stopped bool       // the watch left the schedule or the daemon stops
	timer   *time.Timer
}

func newRealtime(d *Daemon, we *watchEntry) *realtime {
	area := we.Watch.QueryArea()
	return &realtime{d: d, we: we, debounce: we.Realtime, area: area, bounds: area.Bounds()}
}

// touches reports whether any of obs is in the area the watch's evaluation reads:
// a bounding-box test first, the exact shape only for what passes it.
func (rt *realtime) touches(obs []monitor.Observation) bool {
	for i := range obs {
		p := obs[i].Point
		for _, b := range rt.bounds {
			if b.Contains(p) && rt.area.Contains(p) {
				return true
			}
		}
	}
	return false
}

// mark asks for an evaluation within the debounce.
func (rt *realtime) mark() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	switch {
	case rt.stopped:
	case rt.running:
		rt.again = true
	case !rt.pending:
		rt.arm()
	}
}

// arm starts the debounce timer; rt.mu held.
func (rt *realtime) arm() {
	rt.pending = true
	rt.timer = time.AfterFunc(rt.debounce, rt.fire)
}

func (rt *realtime) fire() {
	rt.mu.Lock()
	rt.pending = false
	if rt.stopped {
		rt.mu.Unlock()
		return
	}
	rt.running = true
	// Added under rt.mu while not stopped, and stop sets stopped under rt.mu
	// before the daemon waits: every Add happens before that Wait.
	rt.d.rtwg.Add(1)
	rt.mu.Unlock()
	defer rt.d.rtwg.Done()

	rt.d.realtimeRuns.Add(1)
	rt.d.evaluate(rt.d.jobCtx, rt.we)

	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.running = false
	if rt.again && !rt.stopped {
		rt.again = false
		rt.arm()
	}
}

// stop ends the triggers of this watch; an evaluation under way finishes.
func (rt *realtime) stop() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.stopped = true
	if rt.timer != nil {
		rt.timer.Stop()
	}
}

// Ingested marks every real-time watch whose evaluated area holds one of obs. It
// is the engine's ingest hook (monitor.Engine.OnIngest): it reads no store, takes
// no lock that an evaluation, a reload or a status holds for long, and costs
// O(observations × watches) bounding-box tests at most.
func (d *Daemon) Ingested(obs []monitor.Observation) {
	if !d.scheduling.Load() {
		return // before the first pass ends, or stopping: nothing to trigger
	}
	rts := d.rts.Load()
	if rts == nil {
		return
	}
	for _, rt := range *rts {
		if rt.touches(obs) {
			rt.mark()
		}
	}
}

// RealtimeEvaluations is how many evaluations new data has triggered so far.
func (d *Daemon) RealtimeEvaluations() int64 { return d.realtimeRuns.Load() }

// publishRealtime makes the real-time watches among d.watches the ones ingest
// marks; d.mu held.
func (d *Daemon) publishRealtime() {
	rts := make([]*realtime, 0, len(d.watches))
	for _, we := range d.watches {
		if we.rt != nil {
			rts = append(rts, we.rt)
		}
	}
	d.rts.Store(&rts)
}

// stopRealtime stops every trigger for good; Run then waits (rtwg) for the
// evaluations they started.
func (d *Daemon) stopRealtime() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rtStopped = true
	for _, we := range d.watches {
		if we.rt != nil {
			we.rt.stop()
		}
	}
}
