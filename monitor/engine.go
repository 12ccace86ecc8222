package monitor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
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
// alerts through their lifecycle and handing every transition to the notifiers.
// Its methods take the instant to act at; it never reads the clock itself.
type Engine struct {
	store   Store
	log     *zap.Logger
	metrics Metrics
	// maxFuture bounds how far ahead of ingest an observation may be dated.
	maxFuture time.Duration

	mu        sync.Mutex // guards the fields below, up to silMu
	notifiers []Notifier
	open      map[alertKey][]*Alert // pending and firing alerts by (watch, rule)
	// delivered remembers, for transitions some notifier failed to take, which
	// notifiers did take them, so a retry does not repeat them there.
	delivered map[int64]map[string]bool
	// redeliver is set while persisted transitions may be unnotified: at start-up,
	// in case the last process died between persisting and notifying, and after a
	// notifier failed.
	redeliver bool

	silMu sync.Mutex
	// silenced remembers the silences active at the last evaluation, to log
	// the ones that expire.
	silenced map[int64]Silence
}

type alertKey struct{ watch, rule string }

// NewEngine returns an engine on st, resuming the alerts that were open when the
// process last stopped: they are not announced again.
func NewEngine(ctx context.Context, st Store, log *zap.Logger) (*Engine, error) {
	alerts, err := st.OpenAlerts(ctx)
	if err != nil {
		return nil, fmt.Errorf("monitor: load open alerts: %w", err)
	}
	e := &Engine{store: st, log: log, metrics: NopMetrics{}, maxFuture: DefaultMaxFuture, open: make(map[alertKey][]*Alert),
		delivered: make(map[int64]map[string]bool), redeliver: true, silenced: map[int64]Silence{}}
	for i := range alerts {
		a := alerts[i]
		k := alertKey{a.Watch, a.Rule}
		e.open[k] = append(e.open[k], &a)
	}
	return e, nil
}

// SetNotifiers replaces the subscribers transitions are delivered to.
func (e *Engine) SetNotifiers(ns []Notifier) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.notifiers = slices.Clone(ns)
}

// SetMetrics makes m receive the engine's ingests, evaluations, transitions and
// deliveries. Call it before the engine is used; nil restores NopMetrics.
func (e *Engine) SetMetrics(m Metrics) {
	if m == nil {
		m = NopMetrics{}
	}
	e.metrics = m
}

// OpenAlerts returns a copy of the alerts currently pending or firing.
func (e *Engine) OpenAlerts() []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Alert
	for _, as := range e.open {
		for _, a := range as {
			out = append(out, *a)
		}
	}
	slices.SortFunc(out, func(a, b Alert) int { return int(a.ID - b.ID) })
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

// Ingest stores one batch for source in one transaction and logs its rejected
// records. It is how pushed batches (the HTTP ingest endpoint) enter the store;
// pulled ones come through RunCheck.
func (e *Engine) Ingest(ctx context.Context, source string, b Batch, now time.Time) (IngestResult, error) {
	b = validated(b, now, e.maxFuture)
	b, superseded := lastPerID(b)
	res, err := e.store.Ingest(ctx, source, b, now)
	if err != nil {
		return IngestResult{}, err
	}
	res.Seen += superseded
	res.Unchanged += superseded
	e.logRejects(source, b)
	e.metrics.Ingested(source, res)
	return res, nil
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
			b.Rejects = append(b.Rejects, Reject{Record: "id " + EchoID(o.ID), Field: field, Err: err, Raw: RawRecord([]byte(raw))})
			bad = append(bad, i)
		}
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

// deliverLocked hands ev to every notifier and marks it notified when all took
// it. A notifier that fails gets it again from Redeliver; the others do not.
func (e *Engine) deliverLocked(ctx context.Context, ev Event, silences []Silence) {
	id := ev.Transition.ID
	done := e.delivered[id]
	ok := true
	notifiers := e.notifiers
	if !announced(ev.Transition) {
		notifiers = nil
	} else if s, ok := silencedBy(silences, ev); ok {
		e.log.Info("alert silenced", zap.Int64("alert_id", ev.Alert.ID), zap.String("watch", ev.Alert.Watch),
			zap.String("rule", ev.Alert.Rule), zap.String("state", ev.Transition.To.String()), zap.Int64("silence_id", s.ID))
		notifiers = nil
	}
	for _, n := range notifiers {
		if done[n.Name()] {
			continue
		}
		err := n.Notify(ctx, ev)
		e.metrics.Notified(n.Name(), err)
		if err != nil {
			ok = false
			e.log.Error("alert notification failed", zap.String("subscriber", n.Name()),
				zap.Int64("alert_id", ev.Alert.ID), zap.Int64("transition_id", id), zap.Error(err))
			continue
		}
		if done == nil {
			done = make(map[string]bool)
			e.delivered[id] = done
		}
		done[n.Name()] = true
	}
	if !ok {
		e.redeliver = true
		return
	}
	delete(e.delivered, id)
	if err := e.store.MarkNotified(ctx, id, ev.Transition.At); err != nil {
		// Not fatal: the transition is delivered; after a restart it would be
		// delivered again, which at-least-once allows.
		e.log.Error("mark transition notified", zap.Int64("transition_id", id), zap.Error(err))
	}
}

// Redeliver hands every persisted transition not yet marked notified to the
// notifiers that have not taken it: after a crash between persisting and
// notifying, or after a notifier failed. Delivery is at-least-once.
func (e *Engine) Redeliver(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.redeliver {
		return nil
	}
	// Listed under the lock, so a transition being delivered right now by another
	// evaluation is either already marked or not yet persisted.
	evs, err := e.store.UnnotifiedTransitions(ctx)
	if err != nil {
		return fmt.Errorf("monitor: list unnotified transitions: %w", err)
	}
	e.redeliver = false
	var silences []Silence
	if len(evs) > 0 {
		silences = e.silences(ctx, evs[0].Transition.At)
	}
	for _, ev := range evs {
		e.deliverLocked(ctx, ev, silences)
	}
	return nil
}
