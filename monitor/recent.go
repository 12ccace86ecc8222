package monitor

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paulmach/orb"
)

// recentCellDegrees is the side of a cell of the recent index's grid: a 50 km
// circle at 60° N covers about 4 × 4 of them.
const (
	recentCellDegrees = 0.5
	recentRows        = int(180 / recentCellDegrees)
	recentCols        = int(360 / recentCellDegrees)
)

// recent is the engine's copy in memory of the stored observations dated at or
// after its horizon, with the fields rules read: it answers the rules' radius
// and window questions without the store, which stays the record.
//
// It is loaded from the store once (load) and then kept equal to it by what the
// engine itself writes: the rows each committed batch added or updated (apply),
// and what retention deletes (forget). Until it is loaded, and for a question
// reaching before its horizon, query says so and the engine asks the store.
type recent struct {
	mu sync.RWMutex
	// limit caps the rows held; past it the index gives up (off) and every
	// evaluation queries the store. Zero: no index.
	limit int
	off   bool
	// ready: cells hold every stored observation dated at or after horizon
	// (Unix ms). While a load runs, the writes committed meanwhile wait in
	// pending, applied in order once the loaded rows are in.
	ready   bool
	loading bool
	discard bool // invalidated while loading: the load ends unready
	horizon int64
	pending []recentOp

	cells    [][]recentObs       // by cell, sorted by (ms, fid)
	byFID    map[int64]recentKey // where each row is
	interned map[string]string   // sources and kinds, shared by their rows
}

// recentObs is one observation as the store holds it, with what rules read.
type recentObs struct {
	fid              int64
	ms               int64 // observed_at, Unix ms
	lon, lat, weight float64
	source, id, kind string
	precision        Precision
}

// toRecent is what the index keeps of o: the fields rules read, the time
// as the store keeps it.
func toRecent(o *Observation) recentObs {
	return recentObs{fid: o.FID, ms: o.Time.UnixMilli(), lon: o.Point.Lon(), lat: o.Point.Lat(),
		weight: o.Weight, source: o.Source, id: o.ID, kind: o.Kind, precision: o.Precision}
}

type recentKey struct {
	cell int32
	ms   int64
}

// recentOp is a write that committed while a load ran: rows written, or a
// horizon raised.
type recentOp struct {
	rows   []recentObs
	forget int64
}

// DefaultRecentLimit is how many observations the engine keeps in memory by
// default, about 160 bytes each: the longest window of a busy deployment.
const DefaultRecentLimit = 2_000_000

func newRecent() *recent {
	return &recent{limit: DefaultRecentLimit, cells: make([][]recentObs, recentRows*recentCols), byFID: map[int64]recentKey{},
		interned: map[string]string{}}
}

func recentCell(lon, lat float64) int32 {
	r := min(max(int((lat+90)/recentCellDegrees), 0), recentRows-1)
	c := min(max(int((lon+180)/recentCellDegrees), 0), recentCols-1)
	return int32(r*recentCols + c)
}

func compareRecent(a, b recentObs) int {
	return cmp.Or(cmp.Compare(a.ms, b.ms), cmp.Compare(a.fid, b.fid))
}

// covers reports whether the index can answer for observations since t.
func (r *recent) covers(t time.Time) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.ready && ceilMilli(t) >= r.horizon
}

// query answers q from memory, with what the store's Observations would return
// (in time order, the fields rules read), or reports false when it cannot:
// not loaded yet, q reaches before the horizon, or q asks for every field.
func (r *recent) query(q Query) ([]Observation, bool) {
	if q.Detail || q.Area == nil {
		return nil, false
	}
	since, until := ceilMilli(q.Since), int64(math.MaxInt64)
	if !q.Until.IsZero() {
		until = ceilMilli(q.Until)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if !r.ready || since < r.horizon {
		return nil, false
	}
	// The matches are gathered as pointers and sorted so, then copied out at
	// their number: an Observation is large to move.
	var hits []*recentObs
	bounds := q.Area.Bounds()
	for _, c := range boundCells(bounds) {
		rows := r.cells[c]
		lo, _ := slices.BinarySearchFunc(rows, since, func(o recentObs, t int64) int { return cmp.Compare(o.ms, t) })
		for i := lo; i < len(rows) && rows[i].ms < until; i++ {
			o := &rows[i]
			if len(q.Kinds) > 0 && !slices.Contains(q.Kinds, o.kind) {
				continue
			}
			p := orb.Point{o.lon, o.lat}
			// The boxes first: cheaper than a geodesic distance or a
			// point-in-polygon test.
			if !slices.ContainsFunc(bounds, func(b orb.Bound) bool { return b.Contains(p) }) || !q.Area.Contains(p) {
				continue
			}
			hits = append(hits, o)
		}
	}
	slices.SortFunc(hits, func(a, b *recentObs) int { return compareRecent(*a, *b) })
	out := make([]Observation, len(hits))
	for i, o := range hits {
		out[i] = Observation{FID: o.fid, Source: o.source, ID: o.id, Time: time.UnixMilli(o.ms).UTC(),
			Point: orb.Point{o.lon, o.lat}, Kind: o.kind, Weight: o.weight, Precision: o.precision}
	}
	return out, true
}

// boundCells lists, once each, the grid cells the bounds touch.
func boundCells(bounds []orb.Bound) []int32 {
	var cells []int32
	for _, b := range bounds {
		lo, hi := recentCell(b.Min.Lon(), b.Min.Lat()), recentCell(b.Max.Lon(), b.Max.Lat())
		r0, c0, r1, c1 := int(lo)/recentCols, int(lo)%recentCols, int(hi)/recentCols, int(hi)%recentCols
		for row := r0; row <= r1; row++ {
			for col := c0; col <= c1; col++ {
				cells = append(cells, int32(row*recentCols+col))
			}
		}
	}
	if len(bounds) > 1 {
		slices.Sort(cells)
		cells = slices.Compact(cells)
	}
	return cells
}

// apply records the rows a committed batch wrote: the observations of obs the
// store gave a FID (ObservationStore.Ingest). It returns an error when they
// take the index past its limit, which turns it off.
func (r *recent) apply(obs []Observation) error {
	var rows []recentObs
	for i := range obs {
		if o := &obs[i]; o.FID != 0 {
			r := toRecent(o)
			r.id = strings.Clone(o.ID) // not the parser's buffer, which it may share
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.do(recentOp{rows: rows}) && r.off {
		return fmt.Errorf("more than the %d observations kept in memory", r.limit)
	}
	return nil
}

// do applies op now when the index is loaded, or after the load that runs,
// and reports whether it applied it now; otherwise the next load reads what
// op did from the store. r.mu is held.
func (r *recent) do(op recentOp) bool {
	switch {
	case r.loading:
		r.pending = append(r.pending, op)
	case r.ready:
		r.run(op)
		return true
	}
	return false
}

// run applies op to the index.
func (r *recent) run(op recentOp) {
	if op.rows != nil {
		r.put(op.rows)
	} else {
		r.raise(op.forget)
	}
}

// put stores rows, each replacing the row of its fid; rows dated before the
// horizon only remove theirs.
func (r *recent) put(rows []recentObs) {
	for _, o := range rows {
		if k, ok := r.byFID[o.fid]; ok {
			cell := r.cells[k.cell]
			if i, found := slices.BinarySearchFunc(cell, recentObs{fid: o.fid, ms: k.ms}, compareRecent); found {
				r.cells[k.cell] = slices.Delete(cell, i, i+1)
			}
			delete(r.byFID, o.fid)
		}
		if o.ms < r.horizon {
			continue
		}
		o.source, o.kind = r.intern(o.source), r.intern(o.kind)
		c := recentCell(o.lon, o.lat)
		cell := r.cells[c]
		i, _ := slices.BinarySearchFunc(cell, o, compareRecent)
		r.cells[c] = slices.Insert(cell, i, o)
		r.byFID[o.fid] = recentKey{cell: c, ms: o.ms}
	}
	if len(r.byFID) > r.limit {
		r.drop()
	}
}

// drop empties the index for good: it grew past its limit.
func (r *recent) drop() {
	r.off, r.ready = true, false
	clear(r.cells)
	r.byFID = map[int64]recentKey{}
}

func (r *recent) intern(s string) string {
	if v, ok := r.interned[s]; ok {
		return v
	}
	s = strings.Clone(s)
	r.interned[s] = s
	return s
}

// forget raises the horizon to before, dropping the rows dated earlier: what
// retention deleted from the store, or what no rule reads any more.
func (r *recent) forget(before time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.do(recentOp{forget: ceilMilli(before)})
}

func (r *recent) raise(ms int64) {
	if ms <= r.horizon {
		return
	}
	r.horizon = ms
	for c, cell := range r.cells {
		n, _ := slices.BinarySearchFunc(cell, ms, func(o recentObs, t int64) int { return cmp.Compare(o.ms, t) })
		for _, o := range cell[:n] {
			delete(r.byFID, o.fid)
		}
		if n == len(cell) {
			r.cells[c] = nil
		} else if n > 0 {
			r.cells[c] = slices.Delete(cell, 0, n)
		}
	}
}

// startLoad claims the load of the index from since on, unless one runs.
func (r *recent) startLoad() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.loading || r.off || r.limit == 0 {
		return false
	}
	r.loading, r.ready, r.discard, r.pending = true, false, false, nil
	return true
}

// invalidate stops the index answering until a load fills it again.
func (r *recent) invalidate() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ready, r.discard = false, r.loading
}

// abandon gives up a load claimed by startLoad that will not run.
func (r *recent) abandon() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.loading, r.pending = false, nil
}

// load fills the index with what st stores dated at or after since, then
// applies the writes committed meanwhile, and returns how many rows it read. On
// error the index stays unloaded.
func (r *recent) load(ctx context.Context, st ObservationStore, since time.Time) (int, error) {
	obs, err := st.Observations(ctx, Query{Area: World{}, Since: since})
	return len(obs), r.finish(obs, since, err)
}

// finish ends a load: the rows the store held from since on (or the error that
// read them), then the writes committed since the load started.
func (r *recent) finish(obs []Observation, since time.Time, err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.loading = false
	pending := r.pending
	r.pending = nil
	if err != nil {
		return err
	}
	clear(r.cells)
	clear(r.byFID)
	r.horizon = ceilMilli(since)
	rows := make([]recentObs, len(obs))
	for i := range obs {
		rows[i] = toRecent(&obs[i])
	}
	if len(rows) > r.limit {
		r.drop()
		return fmt.Errorf("%d observations since %s, more than the %d kept in memory", len(rows),
			since.UTC().Format(time.RFC3339), r.limit)
	}
	r.put(rows)
	for _, op := range pending {
		r.run(op)
	}
	r.ready = !r.off && !r.discard
	r.discard = false
	return nil
}

// ceilMilli is t in Unix milliseconds, rounded up: the store keeps whole
// milliseconds, so "at or after t" is "at or after ceilMilli(t)".
func ceilMilli(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	ms := t.UnixMilli()
	if t.Sub(time.UnixMilli(ms)) > 0 {
		ms++
	}
	return ms
}

// World is the Shape of the whole earth: every valid point is in it.
type World struct{}

// Bounds is the whole lon/lat range.
func (World) Bounds() []orb.Bound {
	return []orb.Bound{{Min: orb.Point{-180, -90}, Max: orb.Point{180, 90}}}
}

// Contains reports true for every point.
func (World) Contains(orb.Point) bool { return true }

// loader runs background loads, one at a time, and stops them on close.
type loader struct {
	mu     sync.Mutex
	wg     sync.WaitGroup
	cancel context.CancelFunc
	closed bool
}

// run runs f on its own goroutine with a context that stop cancels, and
// reports whether it did: after stop it runs nothing.
func (l *loader) run(f func(ctx context.Context)) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.wg.Go(func() {
		defer cancel()
		f(ctx)
	})
	return true
}

// stop cancels the load in progress and waits for it.
func (l *loader) stop() {
	l.mu.Lock()
	l.closed = true
	if l.cancel != nil {
		l.cancel()
	}
	l.mu.Unlock()
	l.wg.Wait()
}
