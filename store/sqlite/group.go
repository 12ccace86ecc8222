package sqlite

import (
	"context"
	"sync"
	"time"

	"github.com/geowatch/geowatch/monitor"
)

// groupRows bounds the valid rows of the calls one group transaction takes
// beyond its first: a group of bulk batches would hold the writer, and the
// memory of their parameters, for as long as all of them take.
const groupRows = 20000

// ingestCall is one Ingest waiting for, or in, a group transaction.
type ingestCall struct {
	ctx     context.Context
	source  string
	b       monitor.Batch
	stamp   string  // ingested_at and rejected_at
	ok      []int32 // indexes of the valid observations in b
	rejects []monitor.Reject

	// Set by the group's writer before done is closed.
	res     monitor.IngestResult
	written []writtenRow
	err     error

	state callState // guarded by commitGroup.mu
	lead  chan struct{}
	done  chan struct{}
}

type callState uint8

const (
	callQueued   callState = iota
	callPromoted           // told to lead the next group
	callTaken              // in a group: its outcome is coming
)

// commitGroup is group commit for Ingest. The first caller to find the writer
// free leads: it takes every call queued meanwhile (up to groupRows rows) into
// one transaction, writes each batch in a savepoint of its own, commits once
// and wakes them; then it hands the lead to the oldest call that queued while
// it wrote. So concurrent pushers share the per-transaction costs (the commit,
// with durability full its fsync, and the statements that bracket a batch)
// instead of queueing for the one writer connection one by one.
//
// A queued call whose context ends leaves the queue and is not written. A call
// taken into a group waits for the group's commit whatever its context says,
// so that what it returns is what happened; the group's transaction runs
// until the latest deadline among its calls.
type commitGroup struct {
	mu      sync.Mutex
	queue   []*ingestCall
	leading bool
}

// run queues c and returns c's error once c's group has committed (or failed,
// or c left the queue with its context's error). write stores a group.
func (g *commitGroup) run(c *ingestCall, write func(context.Context, []*ingestCall)) error {
	c.lead, c.done = make(chan struct{}), make(chan struct{})
	g.mu.Lock()
	g.queue = append(g.queue, c)
	if !g.leading {
		g.leading = true
		c.state = callPromoted
		close(c.lead)
	}
	g.mu.Unlock()
	select {
	case <-c.lead:
		g.leadGroup(write)
	case <-c.done:
	case <-c.ctx.Done():
		g.mu.Lock()
		state := c.state
		if state == callQueued {
			g.remove(c)
		}
		g.mu.Unlock()
		switch state {
		case callQueued:
			return c.ctx.Err()
		case callPromoted:
			g.leadGroup(write) // it leads a group that writes the others; its own batch is skipped
		}
	}
	<-c.done
	return c.err
}

// leadGroup writes one group, wakes its calls and passes the lead on.
func (g *commitGroup) leadGroup(write func(context.Context, []*ingestCall)) {
	g.mu.Lock()
	n, rows := 0, 0
	for n < len(g.queue) && (n == 0 || rows+len(g.queue[n].ok) <= groupRows) {
		rows += len(g.queue[n].ok)
		g.queue[n].state = callTaken
		n++
	}
	calls := g.queue[:n:n]
	g.queue = append([]*ingestCall(nil), g.queue[n:]...)
	g.mu.Unlock()

	ctx, cancel := groupContext(calls)
	write(ctx, calls)
	cancel()
	for _, c := range calls {
		close(c.done)
	}

	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].state = callPromoted
		close(g.queue[0].lead)
	} else {
		g.leading = false
	}
	g.mu.Unlock()
}

// remove takes c out of the queue; g.mu is held.
func (g *commitGroup) remove(c *ingestCall) {
	for i, q := range g.queue {
		if q == c {
			g.queue = append(g.queue[:i], g.queue[i+1:]...)
			return
		}
	}
}

// groupContext is the context of a group's transaction: no call's
// cancellation ends it (the others' batches are in it too), and its deadline
// is the latest of theirs; none when one of them has none.
func groupContext(calls []*ingestCall) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, c := range calls {
		d, ok := c.ctx.Deadline()
		if !ok {
			return context.WithCancel(context.WithoutCancel(calls[0].ctx))
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.WithoutCancel(calls[0].ctx), latest)
}
