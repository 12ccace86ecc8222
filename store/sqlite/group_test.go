package sqlite

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/geowatch/geowatch/monitor"
)

// TestIngestConcurrent stores batches from 8 goroutines at once, as
// concurrent pushers: each caller's batch repeats ids another stored, and
// holds a record that fails validation. Every call's counts add up to what it
// sent, the totals to what is stored, and each stored row is the one record
// all callers sent for its id.
func TestIngestConcurrent(t *testing.T) {
	db := openTestDB(t, "")
	const callers, calls, ids = 8, 25, 300
	var mu sync.Mutex
	var total monitor.IngestResult
	var wg sync.WaitGroup
	for g := range callers {
		wg.Go(func() {
			for k := range calls {
				var b monitor.Batch
				for i := range 12 {
					id := (g*calls*12 + k*12 + i*7) % ids // ids shared between callers
					b.Observations = append(b.Observations, obs(fmt.Sprintf("c%d", id), 131+float64(id)*0.001, 43, t0.Add(time.Duration(id)*time.Minute)))
				}
				b.Observations = append(b.Observations, obs("bad", 131, 95, t0)) // latitude out of range
				res, err := db.Ingest(t.Context(), "push", b, t0.Add(time.Hour))
				if err != nil {
					t.Error(err)
					return
				}
				if res.Seen != 13 || res.Rejected != 1 || res.Added+res.Updated+res.Unchanged != 12 || res.Updated != 0 {
					t.Errorf("caller %d call %d: %+v; want 13 seen, 1 rejected, 12 added or unchanged", g, k, res)
				}
				mu.Lock()
				total.Added += res.Added
				total.Unchanged += res.Unchanged
				total.Rejected += res.Rejected
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	stored := queryInt(t, db, `SELECT count(*) FROM observations`)
	if int64(total.Added) != stored || total.Added+total.Unchanged != callers*calls*12 {
		t.Errorf("calls added %d and left %d unchanged; %d rows stored, %d records sent", total.Added, total.Unchanged, stored, callers*calls*12)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM rejects`); n != int64(total.Rejected) || n != callers*calls {
		t.Errorf("%d rejects rows, calls counted %d; want %d", n, total.Rejected, callers*calls)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM rtree_observations_geom`); n != stored {
		t.Errorf("%d R*Tree rows for %d observations", n, stored)
	}
}

// TestWriteGroupSavepoints writes one group of three calls whose second fails
// in SQLite (a trigger refuses its record): the first and third are stored
// and counted, the second gets the error and none of its rows stay, its rows
// written before the refused one included.
func TestWriteGroupSavepoints(t *testing.T) {
	db := openTestDB(t, "")
	if _, err := db.w.Exec(`CREATE TEMP TRIGGER poison BEFORE INSERT ON main.observations
		WHEN NEW.ext_id = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned record'); END`); err != nil {
		t.Fatal(err)
	}
	batch := func(ids ...string) monitor.Batch {
		var b monitor.Batch
		for i, id := range ids {
			b.Observations = append(b.Observations, obs(id, 131+float64(i)*0.01, 43, t0))
		}
		return b
	}
	stamp := formatTime(t0)
	a := newIngestCall(t.Context(), "push", batch("a1", "a2"), stamp)
	// one row a statement (a repeated id), so b1 is written before poison fails
	b := newIngestCall(t.Context(), "push", batch("b1", "poison", "b1"), stamp)
	c := newIngestCall(t.Context(), "push", batch("c1"), stamp)
	db.writeGroup(t.Context(), []*ingestCall{a, b, c})
	if a.err != nil || c.err != nil || a.res.Added != 2 || c.res.Added != 1 {
		t.Errorf("a: %+v, %v; c: %+v, %v; want 2 and 1 added", a.res, a.err, c.res, c.err)
	}
	if b.err == nil || b.written != nil || b.res.Added+b.res.Updated != 0 {
		t.Errorf("b: %+v, %v, written %v; want the trigger's error and nothing written", b.res, b.err, b.written)
	}
	var ids []string
	rows, err := db.r.Query(`SELECT ext_id FROM observations ORDER BY ext_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if want := []string{"a1", "a2", "c1"}; !slices.Equal(ids, want) {
		t.Errorf("stored %v, want %v", ids, want)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM rtree_observations_geom`); n != 3 {
		t.Errorf("%d R*Tree rows, want 3", n)
	}
}

// TestCommitGroup drives the queue with a write function the test holds: the
// calls that queue while a group is written go in the next group together; a
// queued call whose context ends leaves without being written; a call taken
// into a group waits for the group's outcome even after its context ends; the
// groups take at most groupRows rows beyond their first call's.
func TestCommitGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g commitGroup
		var groups [][]string
		release := make(chan struct{}, 8)
		write := func(_ context.Context, calls []*ingestCall) {
			var names []string
			for _, c := range calls {
				names = append(names, c.source)
			}
			groups = append(groups, names)
			<-release
			for _, c := range calls {
				if c.err = c.ctx.Err(); c.err == nil {
					c.res.Added = len(c.ok)
				}
			}
		}
		call := func(ctx context.Context, name string, rows int) *ingestCall {
			return &ingestCall{ctx: ctx, source: name, ok: make([]int32, rows)}
		}
		errs := map[string]error{}
		var mu sync.Mutex
		start := func(c *ingestCall) {
			go func() {
				err := g.run(c, write)
				mu.Lock()
				errs[c.source] = err
				mu.Unlock()
			}()
			synctest.Wait()
		}

		start(call(t.Context(), "a", 1)) // leads, and waits in write
		cctx, cancelC := context.WithCancel(t.Context())
		start(call(t.Context(), "b", groupRows-10))
		start(call(cctx, "c", 5))
		start(call(t.Context(), "d", 20)) // b's rows and d's are more than groupRows
		cancelC()
		synctest.Wait()
		if err, ok := errs["c"]; !ok || err != context.Canceled {
			t.Errorf("c, queued and cancelled: returned %v (returned: %v)", err, ok)
		}
		release <- struct{}{} // a's group
		synctest.Wait()
		release <- struct{}{} // b's
		synctest.Wait()
		release <- struct{}{} // d's
		synctest.Wait()
		want := [][]string{{"a"}, {"b"}, {"d"}}
		if !slices.EqualFunc(groups, want, slices.Equal) {
			t.Errorf("groups %v, want %v", groups, want)
		}
		for _, n := range []string{"a", "b", "d"} {
			if err, ok := errs[n]; !ok || err != nil {
				t.Errorf("%s: returned %v (returned: %v)", n, err, ok)
			}
		}

		// A call taken into a group, whose context then ends, still gets
		// the group's outcome (here the write sees its context ended).
		groups = nil
		start(call(t.Context(), "e", 1))
		fctx, cancelF := context.WithCancel(t.Context())
		start(call(fctx, "f", 1))
		start(call(t.Context(), "g", 1))
		release <- struct{}{} // e's group; f, promoted, takes itself and g
		synctest.Wait()
		cancelF() // f is in the group being written
		synctest.Wait()
		release <- struct{}{}
		synctest.Wait()
		if want := [][]string{{"e"}, {"f", "g"}}; !slices.EqualFunc(groups, want, slices.Equal) {
			t.Errorf("groups %v, want %v", groups, want)
		}
		if errs["f"] != context.Canceled || errs["g"] != nil || errs["e"] != nil {
			t.Errorf("e: %v, f: %v, g: %v; want f cancelled, the others stored", errs["e"], errs["f"], errs["g"])
		}
		if g.leading || len(g.queue) > 0 {
			t.Errorf("after the last group: leading %v, queue %d", g.leading, len(g.queue))
		}
	})
}
