package monitor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// DefaultMaxFuture is how far after ingest an observation may be dated before it
// is rejected: a day covers clock skew and time zones mistaken for UTC, and
// keeps a feed's typo (a year 2062) out of every future window.
const DefaultMaxFuture = 24 * time.Hour

// maxRejectLogs caps the "record rejected" lines logged per batch; the rest are
// counted in one summary line and all of them are kept in the rejects table.
const maxRejectLogs = 20

// Engine stores what checks pull and evaluates watches against the store, moving
// alerts through their lifecycle (Step) and persisting every change before its
// outbox delivers it to the subscribers. Its methods take the instant to act at;
// only the outbox reads the clock, for its backoffs and to stamp deliveries.
//
// No lock is held across a sink: evaluations of one watch are serialised by the
// watch's own lock, the engine-wide lock guards only in-memory maps, and each
// subscriber drains the persisted transitions on its own goroutine.
type Engine struct {
	store   Store
	log     *zap.Logger
	metrics Metrics
	// maxFuture bounds how far ahead of ingest an observation may be dated.
	maxFuture time.Duration
	out       *outbox

	mu      sync.Mutex // guards watches and every watchState's shown
	watches map[string]*watchState

	// ingested, when set, is told of every batch that added or updated rows.
	ingested atomic.Pointer[func([]Observation)]

	silMu sync.Mutex
	// silenced remembers the silences active at the last evaluation, to log
	// the ones that expire.
	silenced map[int64]Silence

	// recent answers evaluations' queries from memory once loaded: the
	// store's observations dated within the longest window evaluated.
	recent *recent
	// loads runs the recent index's loads; loadMu guards keep and lastLoad.
	loads    loader
	loadMu   sync.Mutex
	keep     time.Duration // the longest window evaluated
	lastLoad time.Time     // when the last load started, by evaluation time
	// foreign is the store's count of others' writes the index was loaded
	// after (ForeignWriter), checked at most every foreignCheck.
	foreign   int64
	lastCheck time.Time
}

// watchState is one watch's alerts.
type watchState struct {
	// eval is held for a whole evaluation (query, rules, step, persist), so a
	// watch is never evaluated twice at once; it guards open.
	eval sync.Mutex
	open map[string][]*Alert // pending and firing alerts by rule
	// shown is a copy of open for OpenAlerts, replaced after each persist;
	// guarded by Engine.mu.
	shown []Alert
}

// NewEngine returns an engine on st, resuming the alerts that were open when the
// process last stopped: they are not announced again.
func NewEngine(ctx context.Context, st Store, log *zap.Logger) (*Engine, error) {
	alerts, err := st.OpenAlerts(ctx)
	if err != nil {
		return nil, fmt.Errorf("monitor: load open alerts: %w", err)
	}
	e := &Engine{store: st, log: log, metrics: NopMetrics{}, maxFuture: DefaultMaxFuture,
		out: newOutbox(st, log), watches: map[string]*watchState{}, silenced: map[int64]Silence{}, recent: newRecent()}
	for i := range alerts {
		a := &alerts[i]
		ws := e.state(a.Watch)
		ws.open[a.Rule] = append(ws.open[a.Rule], a)
	}
	for _, ws := range e.watches {
		ws.shown = flatten(ws.open)
	}
	return e, nil
}

// state returns the watch's state, creating it on first use.
func (e *Engine) state(watch string) *watchState {
	e.mu.Lock()
	defer e.mu.Unlock()
	ws, ok := e.watches[watch]
	if !ok {
		ws = &watchState{open: map[string][]*Alert{}}
		e.watches[watch] = ws
	}
	return ws
}

func flatten(open map[string][]*Alert) []Alert {
	var out []Alert
	for _, as := range open {
		for _, a := range as {
			out = append(out, *a)
		}
	}
	return out
}

// SetNotifiers replaces the subscribers transitions are delivered to: each gets
// a courier that delivers from where it left off (a new one from the oldest
// transition not yet notified). Subscribers no longer listed deliver what was
// persisted while they were, for up to RetireTimeout; the channel is closed
// once they stopped and their sinks may be closed.
func (e *Engine) SetNotifiers(ns []Notifier) <-chan struct{} {
	return e.out.setNotifiers(ns)
}

// SetMetrics makes m receive the engine's ingests, evaluations, transitions and
// deliveries. Call it before the engine is used; nil restores NopMetrics.
func (e *Engine) SetMetrics(m Metrics) {
	if m == nil {
		m = NopMetrics{}
	}
	e.metrics = m
	e.out.metrics = m
}

// Flush waits until every subscriber has every transition persisted so far, or
// ctx ends.
func (e *Engine) Flush(ctx context.Context) error { return e.out.flush(ctx) }

// Close lets the subscribers deliver until ctx ends, then stops them. What they
// did not deliver stays persisted and is delivered after the next start. A
// load of the recent index in progress is cancelled.
func (e *Engine) Close(ctx context.Context) error {
	e.loads.stop()
	return e.out.close(ctx)
}

// OpenAlerts returns a copy of the alerts currently pending or firing. It never
// waits for an evaluation, the store or a subscriber.
func (e *Engine) OpenAlerts() []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Alert
	for _, ws := range e.watches {
		out = append(out, ws.shown...)
	}
	slices.SortFunc(out, func(a, b Alert) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// RunCheck pulls src once, stores every batch it emits, logs rejected records and
// records the run in the store's sources table. It returns the counts over all
// batches; a batch the store refuses ends the run with an error, and what was
// committed before stays committed. done is when the run ended, by the caller's
// clock, for its duration; nil means now.
func (e *Engine) RunCheck(ctx context.Context, name, typ string, src Source, now time.Time, done func() time.Time) (IngestResult, error) {
	var total IngestResult
	err := src.Pull(ctx, now, func(ctx context.Context, b Batch) error {
		res, err := e.Ingest(ctx, name, b, now)
		total.Add(res)
		return err
	})
	end := now
	if done != nil {
		end = done()
	}
	run := CheckRun{Source: name, Type: typ, Started: now, Duration: end.Sub(now), Result: total, Err: err}
	// A store that cannot record the run has already failed the ingest or will
	// fail the next one; the run's own error matters more.
	if rerr := e.store.RecordCheck(context.WithoutCancel(ctx), run); rerr != nil && err == nil {
		err = fmt.Errorf("record check run: %w", rerr)
	}
	return total, err
}

// Ingest validates one batch for source, stores it in one transaction and logs
// its rejected records. It is the one place records are checked (sources
// only parse); pulled batches come through RunCheck.
func (e *Engine) Ingest(ctx context.Context, source string, b Batch, now time.Time) (IngestResult, error) {
	res, _, err := e.IngestRecords(ctx, source, b, now)
	return res, err
}

// IngestRecords is Ingest that also returns every record refused, the source's
// and its own, in input order: what a push reply lists, so that stored plus
// refused is what was sent.
func (e *Engine) IngestRecords(ctx context.Context, source string, b Batch, now time.Time) (IngestResult, []Reject, error) {
	b = validated(b, now, e.maxFuture)
	for i := range b.Observations {
		b.Observations[i].FID = 0 // the store sets it on the rows it writes
	}
	b, superseded := lastPerID(b)
	res, err := e.store.Ingest(ctx, source, b, now)
	if err != nil {
		return IngestResult{}, nil, err
	}
	res.Seen += superseded
	res.Unchanged += superseded
	if err := e.recent.apply(b.Observations); err != nil {
		e.log.Warn("recent observations dropped from memory; evaluations query the store", zap.Error(err))
	}
	e.logRejects(source, b)
	e.metrics.Ingested(source, res)
	if f := e.ingested.Load(); f != nil && res.Added+res.Updated > 0 {
		(*f)(b.Observations)
	}
	return res, b.Rejects, nil
}

// OnIngest makes f hear of every committed batch that added or updated rows,
// with the batch's valid observations (a superset of those that changed: the
// store counts, it does not say which). f runs on the ingest path after the
// commit, so it must not block or do I/O, and must not keep the slice. nil
// removes it.
func (e *Engine) OnIngest(f func(obs []Observation)) {
	if f == nil {
		e.ingested.Store(nil)
		return
	}
	e.ingested.Store(&f)
}

// lastPerID keeps, of records sharing an id within one batch, the last: a feed
// that lists a revised record twice stores its latest version once, instead of
// rewriting the row twice on every run. It returns how many it dropped, which
// count as unchanged.
func lastPerID(b Batch) (Batch, int) {
	last := make(map[string]int, len(b.Observations))
	for i := range b.Observations {
		last[b.Observations[i].ID] = i
	}
	if len(last) == len(b.Observations) {
		return b, 0
	}
	keep := make([]Observation, 0, len(last))
	for i, o := range b.Observations {
		if last[o.ID] == i {
			keep = append(keep, o)
		}
	}
	dropped := len(b.Observations) - len(keep)
	b.Observations = keep
	return b, dropped
}

// SetMaxFuture sets how far after the time of ingest an observation's time may
// be; later ones are rejected on their time field. Zero turns the check off.
// Call it before the engine is used.
func (e *Engine) SetMaxFuture(d time.Duration) { e.maxFuture = d }

// validated normalises b's observations in place and moves every one that fails
// Validate, or is dated more than maxFuture after now, to the rejects, so that
// whatever a source let through is logged and kept with the field at fault.
func validated(b Batch, now time.Time, maxFuture time.Duration) Batch {
	var bad []int
	b.Rejects = slices.Clip(b.Rejects) // appends below must not write into the source's array
	for i := range b.Observations {
		o := &b.Observations[i]
		o.Normalize()
		err := o.Validate()
		if err == nil && maxFuture > 0 && o.Time.After(now.Add(maxFuture)) {
			err = &FieldError{"time", fmt.Errorf("%w: %s is more than %s after ingest", ErrFuture, o.Time.Format(time.RFC3339), maxFuture)}
		}
		if err != nil {
			field := ""
			var fe *FieldError
			if errors.As(err, &fe) {
				field, err = fe.Field, fe.Err
			}
			raw := fmt.Sprintf("id=%q time=%s lat=%v lon=%v", o.ID, o.Time.Format(time.RFC3339Nano), o.Point.Lat(), o.Point.Lon())
			b.Rejects = append(b.Rejects, Reject{Record: locator(o), Pos: o.Pos, Field: field, Err: err, Raw: RawRecord([]byte(raw))})
			bad = append(bad, i)
		}
	}
	if len(bad) > 0 {
		// In input order: the source's rejects and these interleave.
		slices.SortStableFunc(b.Rejects, func(x, y Reject) int { return cmp.Compare(x.Pos.Index, y.Pos.Index) })
	}
	if len(bad) > 0 {
		keep := make([]Observation, 0, len(b.Observations)-len(bad))
		for i, o := range b.Observations {
			if _, found := slices.BinarySearch(bad, i); !found {
				keep = append(keep, o)
			}
		}
		b.Observations = keep
	}
	return b
}

// locator names an observation for a reject: where the parser found it, and
// its id.
func locator(o *Observation) string {
	switch p := o.Pos.String(); {
	case p == "":
		return "id " + EchoID(o.ID)
	case o.ID == "":
		return p
	default:
		return p + " (" + EchoID(o.ID) + ")"
	}
}

func (e *Engine) logRejects(source string, b Batch) {
	for i, r := range b.Rejects {
		if i == maxRejectLogs {
			e.log.Warn("records rejected", zap.String("source", source), zap.String("origin", b.Origin),
				zap.Int("count", len(b.Rejects)-maxRejectLogs), zap.String("detail", "not logged one by one; see the rejects table"))
			return
		}
		e.log.Warn("record rejected", zap.String("source", source), zap.String("origin", b.Origin),
			zap.String("record", r.Record), zap.String("field", r.Field), zap.Error(r.Err))
	}
}

// Evaluate runs every rule of w at now and moves its alerts through their
// lifecycle (Step). One query reads what all its rules need; the changes of all
// its rules are persisted in one store call, and only then delivered, by the
// outbox. When the store refuses them nothing advances: the next evaluation
// computes them again.
func (e *Engine) Evaluate(ctx context.Context, w *Watch, now time.Time) error {
	ws := e.state(w.Name)
	ws.eval.Lock()
	defer ws.eval.Unlock()
	obs, err := e.observationsFor(ctx, w, now)
	if err != nil {
		return err
	}
	v := newViews(w, obs, now)
	next := make(map[string][]*Alert, len(w.Rules))
	var changes []Change
	for _, nr := range w.Rules {
		done := e.metrics.RuleEvaluation(w.Name, nr.Name)
		findings := nr.Rule.Evaluate(v.input(nr))
		placeAlong(w, findings)
		open, ch := Step(ws.open[nr.Name], w, nr, findings, now)
		done()
		if len(open) > 0 {
			next[nr.Name] = open
		}
		changes = append(changes, ch...)
	}
	// Alerts of rules w no longer has stay open until Retire ends them.
	for rule, as := range ws.open {
		if !slices.ContainsFunc(w.Rules, func(nr NamedRule) bool { return nr.Name == rule }) {
			next[rule] = as
		}
	}
	if err := e.commit(ctx, ws, next, changes, now); err != nil {
		return fmt.Errorf("monitor: watch %s: %w", w.Name, err)
	}
	return nil
}

// placeAlong gives every finding of a corridor watch the position of its centre
// along the corridor, in km from its start, as the stat along_km, for every
// rule: where on the route the activity is. A rule's own along_km stays.
func placeAlong(w *Watch, findings []Finding) {
	for i := range findings {
		f := &findings[i]
		along, _, ok := w.Along(f.Center)
		if !ok {
			return
		}
		if _, set := f.Stats["along_km"]; set {
			continue
		}
		if f.Stats == nil {
			f.Stats = map[string]float64{}
		}
		f.Stats["along_km"] = along / 1000
	}
}

// observationsFor reads, in one query, what every rule of w needs: the longest
// window, the farthest reach, and the union of kinds.
func (e *Engine) observationsFor(ctx context.Context, w *Watch, now time.Time) ([]Observation, error) {
	var window time.Duration
	var kinds []string
	allKinds := false
	for _, nr := range w.Rules {
		window = max(window, nr.Rule.Window())
		if k := nr.Rule.Kinds(); len(k) == 0 {
			allKinds = true
		} else {
			kinds = append(kinds, k...)
		}
	}
	if allKinds {
		kinds = nil
	}
	slices.Sort(kinds)
	q := Query{Area: w.QueryArea(), Since: now.Add(-window), Until: now, Kinds: slices.Compact(kinds)}
	if e.unchangedElsewhere(ctx, now) {
		if obs, ok := e.recent.query(q); ok {
			e.trim(window, now)
			return obs, nil
		}
	}
	e.remember(window, now)
	obs, err := e.store.Observations(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("monitor: watch %s: query observations: %w", w.Name, err)
	}
	return obs, nil
}

// recentRetry is how long, in evaluation time, the engine waits before it
// loads the recent index again after a load that did not cover a question
// (it failed, or a longer window came since).
const recentRetry = 10 * time.Second

// recentSlack is how far the recent index's horizon may trail the longest
// window before trim raises it: rows kept a little longer, trimmed in few
// sweeps.
const recentSlack = 10 * time.Minute

// foreignCheck is how often, in evaluation time, the engine asks a
// ForeignWriter store whether someone else wrote observations: the rows another
// process writes reach evaluations within about that long.
const foreignCheck = time.Second

// unchangedElsewhere reports whether the recent index may answer at now: no
// one but the engine wrote observations since it was loaded, as far as the
// last check (at most foreignCheck ago) saw. When someone did, it drops the
// index, for remember to load again.
func (e *Engine) unchangedElsewhere(ctx context.Context, now time.Time) bool {
	fw, ok := e.store.(ForeignWriter)
	if !ok {
		return true
	}
	e.loadMu.Lock()
	due := e.lastCheck.IsZero() || now.Sub(e.lastCheck) >= foreignCheck || now.Before(e.lastCheck)
	if due {
		e.lastCheck = now
	}
	loaded := e.foreign
	e.loadMu.Unlock()
	if !due {
		return true
	}
	n, err := fw.ForeignWrites(ctx)
	if err != nil {
		return false
	}
	if n > loaded {
		e.log.Info("observations written elsewhere; loading the recent ones again", zap.Int64("foreign_writes", n-loaded))
		e.recent.invalidate()
		e.loadMu.Lock()
		e.lastLoad = time.Time{} // load again now, not after recentRetry
		e.loadMu.Unlock()
		return false
	}
	return true
}

// foreignWrites is the store's count of others' writes before a load, zero
// for a store that does not count them.
func (e *Engine) foreignWrites(ctx context.Context) (int64, error) {
	if fw, ok := e.store.(ForeignWriter); ok {
		return fw.ForeignWrites(ctx)
	}
	return 0, nil
}

// loadRecent loads the recent index from since and records the count of
// others' writes it is current with.
func (e *Engine) loadRecent(ctx context.Context, since time.Time) (int, error) {
	n, err := e.foreignWrites(ctx)
	if err != nil {
		e.recent.abandon()
		return 0, err
	}
	rows, err := e.recent.load(ctx, e.store, since)
	if err == nil {
		e.loadMu.Lock()
		e.foreign = n
		e.loadMu.Unlock()
	}
	return rows, err
}

// remember starts a load of the recent index covering window before now, so
// that later evaluations are answered from memory: at most one load at a time,
// and a new one no sooner than recentRetry after the last.
func (e *Engine) remember(window time.Duration, now time.Time) {
	since, ok := e.claimLoad(window, now, true)
	if !ok {
		return
	}
	started := e.loads.run(func(ctx context.Context) {
		if _, err := e.loadRecent(ctx, since); err != nil && ctx.Err() == nil {
			e.log.Warn("recent observations not loaded; evaluations query the store", zap.Error(err))
		}
	})
	if !started {
		e.recent.abandon()
	}
}

// claimLoad records window as evaluated and claims a load of the recent
// index, covering the longest window evaluated before now, unless one runs
// or (with retry) the last started under recentRetry ago.
func (e *Engine) claimLoad(window time.Duration, now time.Time, retry bool) (since time.Time, ok bool) {
	e.loadMu.Lock()
	defer e.loadMu.Unlock()
	e.keep = max(e.keep, window)
	if ago := now.Sub(e.lastLoad); retry && !e.lastLoad.IsZero() && ago >= 0 && ago < recentRetry {
		return time.Time{}, false
	}
	if !e.recent.startLoad() {
		return time.Time{}, false
	}
	e.lastLoad = now
	return now.Add(-e.keep - recentSlack), true
}

// trim drops from the recent index what no window evaluated reaches any more.
func (e *Engine) trim(window time.Duration, now time.Time) {
	e.loadMu.Lock()
	e.keep = max(e.keep, window)
	keep := e.keep
	e.loadMu.Unlock()
	if !e.recent.covers(now.Add(-keep - 2*recentSlack)) {
		return
	}
	e.recent.forget(now.Add(-keep - recentSlack))
}

// Preload loads into memory what the watches' rules read at now (the
// observations dated within their longest window), so that evaluations from
// then on are answered without the store's query; it logs how many and how
// long. Without it the engine loads on its first evaluation, in the background.
func (e *Engine) Preload(ctx context.Context, watches []*Watch, now time.Time) error {
	var window time.Duration
	for _, w := range watches {
		for _, nr := range w.Rules {
			window = max(window, nr.Rule.Window())
		}
	}
	if window == 0 {
		return nil
	}
	since, ok := e.claimLoad(window, now, false)
	if !ok {
		return nil
	}
	start := time.Now()
	n, err := e.loadRecent(ctx, since)
	if err != nil {
		return fmt.Errorf("monitor: load recent observations: %w", err)
	}
	e.log.Info("recent observations loaded", zap.Int("observations", n), zap.Time("since", since.UTC()),
		zap.Float64("duration", time.Since(start).Seconds()))
	return nil
}

// SetRecentLimit caps how many observations the engine keeps in memory
// (DefaultRecentLimit unless set); past it the engine logs why and queries the
// store for every evaluation. Zero keeps none. Call it before the engine is
// used.
func (e *Engine) SetRecentLimit(n int) { e.recent.limit = n }

// Observations answers q as an evaluation would: from the observations the
// engine keeps in memory when they cover it (the fields rules read, Detail
// unset), from the store otherwise.
func (e *Engine) Observations(ctx context.Context, q Query) ([]Observation, error) {
	if obs, ok := e.recent.query(q); ok {
		return obs, nil
	}
	return e.store.Observations(ctx, q)
}

// Forget tells the engine that the store no longer holds the observations dated
// before t (retention pruned them): evaluations stop answering them from memory.
func (e *Engine) Forget(t time.Time) { e.recent.forget(t) }

// commit persists one step of a watch (ws.eval held), then makes next its open
// alerts and wakes the outbox. Deliverable transitions that a silence mutes are
// marked with it, so no subscriber receives them.
func (e *Engine) commit(ctx context.Context, ws *watchState, next map[string][]*Alert, changes []Change, now time.Time) error {
	if len(changes) > 0 {
		e.silence(ctx, changes, now)
		if err := e.store.SaveAlerts(ctx, changes); err != nil {
			return err
		}
	}
	ws.open = next
	shown := flatten(next)
	e.mu.Lock()
	ws.shown = shown
	e.mu.Unlock()
	var last int64
	for _, c := range changes {
		t := c.Transition
		if t == nil {
			continue
		}
		last = max(last, t.ID)
		e.metrics.Transitioned(*c.Alert, *t)
		if !announced(*t) {
			e.log.Info("alert "+t.To.String(), zap.Int64("alert_id", c.Alert.ID), zap.String("watch", c.Alert.Watch),
				zap.String("rule", c.Alert.Rule), zap.String("state", t.To.String()), zap.Int("count", c.Alert.Finding.Count),
				zap.Int64("transition_id", t.ID))
		} else if t.SilenceID != 0 {
			e.log.Info("alert silenced", zap.Int64("alert_id", c.Alert.ID), zap.String("watch", c.Alert.Watch),
				zap.String("rule", c.Alert.Rule), zap.String("state", t.To.String()), zap.Int64("silence_id", t.SilenceID),
				zap.Int64("transition_id", t.ID))
		}
	}
	if last > 0 {
		e.out.persisted(ctx, last, now)
	}
	return nil
}

// silence marks the announced transitions among changes that a silence in force
// at now mutes.
func (e *Engine) silence(ctx context.Context, changes []Change, now time.Time) {
	if !slices.ContainsFunc(changes, func(c Change) bool { return c.Transition != nil && announced(*c.Transition) }) {
		return
	}
	silences := e.silences(ctx, now)
	for _, c := range changes {
		if c.Transition != nil && announced(*c.Transition) {
			if s, ok := silencedBy(silences, Event{Alert: *c.Alert, Transition: *c.Transition}); ok {
				c.Transition.SilenceID = s.ID
			}
		}
	}
}

// Retire resolves the open alerts of watches and rules that are no longer
// configured, so that a reload which removes a rule does not leave its alert
// firing forever. Their resolved events reach the subscribers configured now.
func (e *Engine) Retire(ctx context.Context, watches []*Watch, now time.Time) error {
	keep := map[string]map[string]bool{}
	for _, w := range watches {
		keep[w.Name] = map[string]bool{}
		for _, nr := range w.Rules {
			keep[w.Name][nr.Name] = true
		}
	}
	e.mu.Lock()
	states := maps.Clone(e.watches)
	e.mu.Unlock()
	var errs []error
	for name, ws := range states {
		ws.eval.Lock()
		next := map[string][]*Alert{}
		var changes []Change
		for rule, as := range ws.open {
			if keep[name][rule] {
				next[rule] = as
				continue
			}
			for _, a := range as {
				a := ptrTo(*a)
				changes = append(changes, Change{a, transition(NamedRule{}, a, StateResolved, now)})
			}
		}
		if len(changes) > 0 {
			if err := e.commit(ctx, ws, next, changes, now); err != nil {
				errs = append(errs, fmt.Errorf("monitor: resolve alerts of watch %s: %w", name, err))
			}
		}
		ws.eval.Unlock()
	}
	return errors.Join(errs...)
}

// silences returns the silences in force at now, when the store keeps
// silences, and logs the ones that ended since the last call.
func (e *Engine) silences(ctx context.Context, now time.Time) []Silence {
	ss, ok := e.store.(SilenceStore)
	if !ok {
		return nil
	}
	list, err := ss.Silences(ctx, now)
	if err != nil {
		e.log.Error("list silences; notifying as if none", zap.Error(err))
		return nil
	}
	e.silMu.Lock()
	defer e.silMu.Unlock()
	active := make(map[int64]Silence, len(list))
	for _, s := range list {
		active[s.ID] = s
	}
	for id, s := range e.silenced {
		if _, still := active[id]; !still {
			e.log.Info("silence expired", zap.Int64("silence_id", id), zap.String("watch", s.Watch),
				zap.String("rule", s.Rule), zap.String("comment", s.Comment))
		}
	}
	e.silenced = active
	return list
}

// silencedBy returns the silence that mutes ev, if any.
func silencedBy(silences []Silence, ev Event) (Silence, bool) {
	for _, s := range silences {
		if s.Matches(ev.Alert, ev.Transition.At) {
			return s, true
		}
	}
	return Silence{}, false
}
