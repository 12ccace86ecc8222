package monitor

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Delivery bounds.
const (
	// DeliveryTimeout bounds one Notify call; a sink's own timeout may be shorter.
	DeliveryTimeout = time.Minute
	// RetireTimeout bounds how long a subscriber removed by a reload goes on
	// delivering what was persisted while it was configured (the resolved events
	// of the alerts the reload ended, among them) before it is closed.
	RetireTimeout = 10 * time.Second

	outboxBatch        = 256 // transitions read per query
	deliveryBackoffMin = time.Second
	deliveryBackoffMax = 5 * time.Minute
)

// outbox delivers persisted transitions: the store's transitions are the queue,
// and each subscriber has a courier goroutine that drains it in order from its
// own cursor, retrying with its own backoff. A slow or dead subscriber delays
// only itself; the engine only wakes the couriers after it persists.
type outbox struct {
	store   AlertStore
	log     *zap.Logger
	metrics Metrics
	now     func() time.Time

	ctx    context.Context // ends every courier
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex // guards the fields below and every courier's state fields
	couriers map[string]*courier
	retiring map[*courier]bool
	// committed is the last transition this process persisted, and marked the
	// last one recorded as notified everywhere.
	committed, marked int64
	// progress is closed and replaced whenever a courier advances or goes idle,
	// for Flush.
	progress chan struct{}
}

// courier is one subscriber's delivery goroutine.
type courier struct {
	name   string
	wake   chan struct{} // capacity 1: a pending wake-up
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine ends

	sinkMu sync.Mutex
	sink   Notifier // swapped by a reload that keeps the subscriber

	// Under outbox.mu.
	cursor   int64 // the last transition it has
	idle     bool  // waiting, with nothing after cursor at its last read
	retireAt int64 // when retiring: stop once cursor reaches it
}

func newOutbox(st AlertStore, log *zap.Logger) *outbox {
	ctx, cancel := context.WithCancel(context.Background())
	return &outbox{store: st, log: log, metrics: NopMetrics{}, now: time.Now, ctx: ctx, cancel: cancel,
		couriers: map[string]*courier{}, retiring: map[*courier]bool{}, progress: make(chan struct{})}
}

// setNotifiers starts a courier for each new subscriber, hands the kept ones
// their new sink, and retires the removed ones: they deliver what was persisted
// so far, for up to RetireTimeout, then stop. The channel is closed when every
// retired courier has stopped, after which its sink may be closed.
func (o *outbox) setNotifiers(ns []Notifier) <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	keep := map[string]bool{}
	for _, n := range ns {
		name := n.Name()
		keep[name] = true
		if c, ok := o.couriers[name]; ok {
			c.sinkMu.Lock()
			c.sink = n
			c.sinkMu.Unlock()
			continue
		}
		ctx, cancel := context.WithCancel(o.ctx)
		c := &courier{name: name, sink: n, wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel, done: make(chan struct{})}
		o.couriers[name] = c
		o.wg.Add(1)
		go o.run(c)
	}
	var done []chan struct{}
	for name, c := range o.couriers {
		if keep[name] {
			continue
		}
		delete(o.couriers, name)
		o.retiring[c] = true
		c.retireAt = o.committed
		time.AfterFunc(RetireTimeout, c.cancel)
		poke(c)
		done = append(done, c.done)
	}
	all := make(chan struct{})
	go func() {
		for _, d := range done {
			<-d
		}
		close(all)
	}()
	return all
}

// persisted tells the couriers that transitions up to id are stored. With no
// subscriber at all nobody is owed them: they are marked notified at once.
func (o *outbox) persisted(ctx context.Context, id int64, now time.Time) {
	o.mu.Lock()
	o.committed = max(o.committed, id)
	none := len(o.couriers) == 0 && len(o.retiring) == 0
	for _, c := range o.couriers {
		poke(c)
	}
	o.mu.Unlock()
	if none {
		o.mark(ctx, id, now)
	}
}

func poke(c *courier) {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run is a courier's loop: read the transitions after its cursor, deliver the
// deliverable ones in order, advance, and wait for more.
func (o *outbox) run(c *courier) {
	defer o.wg.Done()
	defer close(c.done)
	defer o.leave(c)
	ctx := c.ctx
	var cursor int64
	for attempt := 1; ; attempt++ {
		var err error
		if cursor, err = o.store.Cursor(ctx, c.name); err == nil {
			break
		}
		o.log.Error("read subscriber cursor", zap.String("subscriber", c.name), zap.Error(err))
		if !pause(ctx, attempt) {
			return
		}
	}
	o.mu.Lock()
	c.cursor = cursor
	o.mu.Unlock()
	for failures := 0; ; {
		evs, err := o.store.TransitionsAfter(ctx, cursor, outboxBatch)
		if err != nil {
			failures++
			o.log.Error("read alert outbox", zap.String("subscriber", c.name), zap.Error(err))
			if !pause(ctx, failures) {
				return
			}
			continue
		}
		failures = 0
		if len(evs) == 0 {
			if o.wait(c) {
				continue
			}
			return
		}
		for _, ev := range evs {
			if Deliverable(ev.Transition) && !o.deliver(ctx, c, ev) {
				return
			}
			cursor = ev.Transition.ID
			if err := o.store.SetCursor(ctx, c.name, cursor, o.now()); err != nil {
				// Not fatal: the courier keeps its place in memory; after a
				// restart it delivers again, which at-least-once allows.
				o.log.Error("save subscriber cursor", zap.String("subscriber", c.name), zap.Int64("transition_id", cursor), zap.Error(err))
			}
			if !o.advance(c, cursor) {
				return
			}
		}
	}
}

// wait blocks a courier with nothing to deliver until it is woken; false means
// it is to stop.
func (o *outbox) wait(c *courier) bool {
	o.mu.Lock()
	if o.retiring[c] && c.cursor >= c.retireAt {
		o.mu.Unlock()
		return false
	}
	c.idle = true
	o.broadcast()
	o.mu.Unlock()
	select {
	case <-c.wake:
	case <-c.ctx.Done():
	}
	o.mu.Lock()
	c.idle = false
	o.mu.Unlock()
	return c.ctx.Err() == nil
}

// deliver hands ev to c's sink until it takes it, backing off between tries;
// false means the courier is to stop first.
func (o *outbox) deliver(ctx context.Context, c *courier, ev Event) bool {
	for attempt := 1; ; attempt++ {
		c.sinkMu.Lock()
		sink := c.sink
		c.sinkMu.Unlock()
		dctx, cancel := context.WithTimeout(ctx, DeliveryTimeout)
		err := sink.Notify(dctx, ev)
		cancel()
		o.metrics.Notified(c.name, err)
		if err == nil {
			if attempt > 1 {
				o.log.Info("alert notification recovered", zap.String("subscriber", c.name),
					zap.Int64("alert_id", ev.Alert.ID), zap.Int64("transition_id", ev.Transition.ID), zap.Int("attempts", attempt))
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		fields := []zap.Field{zap.String("subscriber", c.name), zap.Int64("alert_id", ev.Alert.ID),
			zap.Int64("transition_id", ev.Transition.ID), zap.Int("attempts", attempt), zap.Error(err)}
		// One line per failure streak at error level; the retries go to debug.
		if attempt == 1 {
			o.log.Error("alert notification failed; retrying", fields...)
		} else {
			o.log.Debug("alert notification failed; retrying", fields...)
		}
		if !pause(ctx, attempt) {
			return false
		}
	}
}

// pause waits the backoff after the attempt-th consecutive failure; false means
// ctx ended first.
func pause(ctx context.Context, attempt int) bool {
	d := deliveryBackoffMin
	for i := 1; i < attempt && d < deliveryBackoffMax; i++ {
		d *= 2
	}
	t := time.NewTimer(min(d, deliveryBackoffMax))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// advance records c's new cursor and marks notified what every subscriber has;
// false means a retiring courier has delivered what it owed.
func (o *outbox) advance(c *courier, cursor int64) bool {
	o.mu.Lock()
	c.cursor = cursor
	upTo := o.lowest()
	mark := upTo > o.marked
	if mark {
		o.marked = upTo
	}
	o.broadcast()
	stop := o.retiring[c] && cursor >= c.retireAt
	o.mu.Unlock()
	if mark {
		o.mark(c.ctx, upTo, o.now())
	}
	return !stop
}

// lowest is the cursor every courier has passed. Called with o.mu held.
func (o *outbox) lowest() int64 {
	low := int64(-1)
	for _, c := range o.couriers {
		if low < 0 || c.cursor < low {
			low = c.cursor
		}
	}
	for c := range o.retiring {
		if low < 0 || c.cursor < low {
			low = c.cursor
		}
	}
	return low
}

func (o *outbox) mark(ctx context.Context, upTo int64, now time.Time) {
	if upTo <= 0 {
		return
	}
	if err := o.store.MarkNotified(ctx, upTo, now); err != nil && ctx.Err() == nil {
		o.log.Error("mark transitions notified", zap.Int64("up_to", upTo), zap.Error(err))
	}
}

// leave forgets a courier that stopped.
func (o *outbox) leave(c *courier) {
	o.mu.Lock()
	delete(o.retiring, c)
	if o.couriers[c.name] == c {
		delete(o.couriers, c.name)
	}
	o.broadcast()
	o.mu.Unlock()
}

// broadcast wakes Flush. Called with o.mu held.
func (o *outbox) broadcast() {
	close(o.progress)
	o.progress = make(chan struct{})
}

// flush waits until every subscriber has every transition persisted so far,
// and every older one it was owed, or ctx ends.
func (o *outbox) flush(ctx context.Context) error {
	for {
		o.mu.Lock()
		done := true
		for _, c := range o.couriers {
			if !c.idle || c.cursor < o.committed || len(c.wake) > 0 {
				done = false
			}
		}
		if len(o.retiring) > 0 {
			done = false
		}
		progress := o.progress
		o.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-progress:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// close lets the couriers deliver until ctx ends, then stops them; what they
// did not deliver stays in the store for the next start.
func (o *outbox) close(ctx context.Context) error {
	err := o.flush(ctx)
	o.cancel()
	o.wg.Wait()
	return err
}
