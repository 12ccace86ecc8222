package monitor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/geowatch/geowatch/geo"
	"go.uber.org/zap"
)

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

	mu        sync.Mutex
	notifiers []Notifier
	open      map[alertKey]*Alert
	// delivered remembers, for transitions some notifier failed to take, which
	// notifiers did take them, so a retry does not repeat them there.
	delivered map[int64]map[string]bool
	// redeliver is set while persisted transitions may be unnotified: at start-up,
	// in case the last process died between persisting and notifying, and after a
	// notifier failed.
	redeliver bool
}

type alertKey struct{ watch, rule string }

// NewEngine returns an engine on st, resuming the alerts that were open when the
// process last stopped: they are not announced again.
func NewEngine(ctx context.Context, st Store, log *zap.Logger) (*Engine, error) {
	alerts, err := st.OpenAlerts(ctx)
	if err != nil {
		return nil, fmt.Errorf("monitor: load open alerts: %w", err)
	}
	e := &Engine{store: st, log: log, metrics: NopMetrics{}, open: make(map[alertKey]*Alert), delivered: make(map[int64]map[string]bool), redeliver: true}
	for i := range alerts {
		a := alerts[i]
		e.open[alertKey{a.Watch, a.Rule}] = &a
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

// OpenAlerts returns a copy of the alerts currently firing.
func (e *Engine) OpenAlerts() []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Alert, 0, len(e.open))
	for _, a := range e.open {
		out = append(out, *a)
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
	b = validated(b)
	res, err := e.store.Ingest(ctx, source, b, now)
	if err != nil {
		return IngestResult{}, err
	}
	e.logRejects(source, b)
	e.metrics.Ingested(source, res)
	return res, nil
}

// validated normalises b's observations in place and moves every one that fails
// Validate to the rejects, so that whatever a source let through is logged and
// kept with the field at fault.
func validated(b Batch) Batch {
	var bad []int
	b.Rejects = slices.Clip(b.Rejects) // appends below must not write into the source's array
	for i := range b.Observations {
		o := &b.Observations[i]
		o.Normalize()
		if err := o.Validate(); err != nil {
			field := ""
			var fe *FieldError
			if errors.As(err, &fe) {
				field, err = fe.Field, fe.Err
			}
			raw := fmt.Sprintf("id=%q time=%s lat=%v lon=%v", o.ID, o.Time.Format(time.RFC3339Nano), o.Point.Lat(), o.Point.Lon())
			b.Rejects = append(b.Rejects, Reject{Record: "id " + o.ID, Field: field, Err: err, Raw: RawRecord([]byte(raw))})
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

// Evaluate runs every rule of w at now and moves its alerts: a rule that starts
// holding opens a firing alert, one that goes on holding updates it, and one that
// stops holding resolves it. Transitions are persisted before they are announced.
func (e *Engine) Evaluate(ctx context.Context, w *Watch, now time.Time) error {
	obs, err := e.observationsFor(ctx, w, now)
	if err != nil {
		return err
	}
	var errs []error
	for _, nr := range w.Rules {
		done := e.metrics.RuleEvaluation(w.Name, nr.Name)
		in := rulesInput(w, nr.Rule, obs, now)
		findings := nr.Rule.Evaluate(now, w, in)
		err := e.step(ctx, w, nr, findings, now)
		done()
		if err != nil {
			errs = append(errs, fmt.Errorf("watch %s rule %s: %w", w.Name, nr.Name, err))
		}
	}
	if err := e.Redeliver(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// observationsFor reads, in one query, what every rule of w needs: the longest
// window, the farthest reach, and the union of kinds.
func (e *Engine) observationsFor(ctx context.Context, w *Watch, now time.Time) ([]Observation, error) {
	var window time.Duration
	var reach float64
	var kinds []string
	allKinds := false
	for _, nr := range w.Rules {
		window = max(window, nr.Rule.Window())
		reach = max(reach, nr.Rule.ReachMeters())
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
	q := Query{
		Area:  geo.Circle{Center: w.Center, RadiusMeters: w.RadiusMeters + reach},
		Since: now.Add(-window),
		Until: now,
		Kinds: slices.Compact(kinds),
	}
	obs, err := e.store.Observations(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("monitor: watch %s: query observations: %w", w.Name, err)
	}
	return obs, nil
}

// rulesInput narrows the watch's observations to what r reads: its window, its
// kinds and its reach.
func rulesInput(w *Watch, r Rule, obs []Observation, now time.Time) []Observation {
	since := now.Add(-r.Window())
	reach := w.RadiusMeters + r.ReachMeters()
	kinds := r.Kinds()
	out := make([]Observation, 0, len(obs))
	for _, o := range obs {
		if o.Time.Before(since) || !o.Time.Before(now) {
			continue
		}
		if len(kinds) > 0 && !slices.Contains(kinds, o.Kind) {
			continue
		}
		if geo.Distance(w.Center, o.Point) > reach {
			continue
		}
		out = append(out, o)
	}
	return out
}

// step applies one rule's findings to its alert.
func (e *Engine) step(ctx context.Context, w *Watch, nr NamedRule, findings []Finding, now time.Time) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := alertKey{w.Name, nr.Name}
	a, open := e.open[key]
	switch {
	case len(findings) > 0 && !open:
		na := &Alert{
			Watch: w.Name, Rule: nr.Name, RuleType: nr.Type, Severity: nr.Severity,
			State: StateFiring, RadiusMeters: w.RadiusMeters, Window: nr.Rule.Window(),
			StartsAt: now, UpdatedAt: now, Finding: findings[0],
		}
		t := &Transition{At: now, To: StateFiring}
		if err := e.store.SaveTransition(ctx, na, t); err != nil {
			return fmt.Errorf("save firing alert: %w", err)
		}
		e.open[key] = na
		e.metrics.Transitioned(*na, *t)
		e.deliverLocked(ctx, Event{Alert: *na, Transition: *t})
	case len(findings) > 0 && open:
		if sameFinding(a.Finding, findings[0]) {
			return nil
		}
		upd := *a
		upd.Finding, upd.UpdatedAt = findings[0], now
		upd.Severity, upd.RadiusMeters, upd.Window = nr.Severity, w.RadiusMeters, nr.Rule.Window()
		if err := e.store.UpdateAlert(ctx, &upd); err != nil {
			return fmt.Errorf("update alert %d: %w", a.ID, err)
		}
		*a = upd
	case len(findings) == 0 && open:
		return e.resolveLocked(ctx, key, a, now)
	}
	return nil
}

func (e *Engine) resolveLocked(ctx context.Context, key alertKey, a *Alert, now time.Time) error {
	res := *a
	res.State, res.EndsAt, res.UpdatedAt = StateResolved, now, now
	t := &Transition{AlertID: a.ID, At: now, From: StateFiring, To: StateResolved}
	if err := e.store.SaveTransition(ctx, &res, t); err != nil {
		return fmt.Errorf("save resolved alert %d: %w", a.ID, err)
	}
	delete(e.open, key)
	e.metrics.Transitioned(res, *t)
	e.deliverLocked(ctx, Event{Alert: res, Transition: *t})
	return nil
}

// Retire resolves the open alerts of watches and rules that are no longer
// configured, so that a reload which removes a rule does not leave its alert
// firing forever. keep holds the (watch, rule) pairs still configured.
func (e *Engine) Retire(ctx context.Context, watches []*Watch, now time.Time) error {
	keep := map[alertKey]bool{}
	for _, w := range watches {
		for _, nr := range w.Rules {
			keep[alertKey{w.Name, nr.Name}] = true
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for k, a := range e.open {
		if !keep[k] {
			errs = append(errs, e.resolveLocked(ctx, k, a, now))
		}
	}
	return errors.Join(errs...)
}

// sameFinding reports whether a finding reports the same activity as before, so
// that an unchanged alert is not rewritten on every evaluation.
func sameFinding(a, b Finding) bool {
	return a.Count == b.Count && a.Weight == b.Weight && a.LastSeen.Equal(b.LastSeen) &&
		a.FirstSeen.Equal(b.FirstSeen) && slices.Equal(a.FIDs, b.FIDs)
}

// deliverLocked hands ev to every notifier and marks it notified when all took
// it. A notifier that fails gets it again from Redeliver; the others do not.
func (e *Engine) deliverLocked(ctx context.Context, ev Event) {
	id := ev.Transition.ID
	done := e.delivered[id]
	ok := true
	for _, n := range e.notifiers {
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
	for _, ev := range evs {
		e.deliverLocked(ctx, ev)
	}
	return nil
}
