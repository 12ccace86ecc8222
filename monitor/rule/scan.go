package rule

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

// Defaults for ScanParams' optional fields.
const (
	DefaultScanTimeUnit   = 24 * time.Hour
	DefaultScanReplicates = 999
)

// ScanParams configures a Scan rule. Configuration names are in brackets.
type ScanParams struct {
	// AreaMeters is how far beyond the watch's shape the study area reaches
	// [area]: the scan compares the watch's recent activity with that of its
	// surroundings, so the area should hold a few hundred observations of the
	// period at least. It is the rule's ReachMeters. Default 0 (the study area is
	// the watch itself); must not be negative.
	AreaMeters float64
	// Period is the study period [period], the rule's window: observations of
	// [now-Period, now) are the cases. Required; must be at least two time units.
	Period time.Duration
	// MaxRadiusMeters caps a cylinder's radius [max_radius]. Required, positive.
	// Cylinders are also capped at half the cases, SaTScan's default.
	MaxRadiusMeters float64
	// MaxWindow caps a cylinder's duration [max_window], in whole time units.
	// Required; at least one time unit and at most half the period (SaTScan's
	// default cap).
	MaxWindow time.Duration
	// TimeUnit is the time aggregation [time_unit]: cases are counted per
	// location per unit, counted back from now. Default DefaultScanTimeUnit (a
	// day, as in Kulldorff et al. 2005).
	TimeUnit time.Duration
	// Replicates is the number of Monte Carlo permutations [replicates]. Default
	// DefaultScanReplicates; the smallest p it can give is 1/(Replicates+1).
	Replicates int
	// Seed seeds the permutations [seed]; any value, zero included, gives the
	// same p on every run and any number of cores. Default 0.
	Seed uint64
	// EvalEvery is how often the rule is evaluated [every], such as the watch's
	// schedule: the recurrence interval is EvalEvery/p. Required, positive.
	EvalEvery time.Duration
	// Recurrence is the least recurrence interval that fires [recurrence]: with
	// daily evaluation, 100d means a cluster as unusual as this would arise by
	// chance once in 100 days (p ≤ 0.01). Required, positive, and at most
	// EvalEvery·(Replicates+1), the most the replicates can show.
	Recurrence time.Duration
	// Kinds restricts the rule to observations of these kinds [kinds], matched
	// exactly. Default (empty): every kind.
	Kinds []string
	// Centers says where cylinders are centred [centers]. Default
	// ScanCentersWatch: at the locations inside the watch's own shape, so the
	// scan asks whether activity clusters at the watch, with the study area as
	// its baseline, and a stronger cluster elsewhere in the area does not hide
	// it. ScanCentersArea is the textbook whole-area scan: cylinders centred at
	// every location of the study area, firing only when the area's most likely
	// cluster is centred in the watch.
	Centers ScanCenters
}

// ScanCenters is where a Scan centres its cylinders.
type ScanCenters uint8

// Where a Scan centres its cylinders.
const (
	ScanCentersWatch ScanCenters = iota // locations inside the watch (the default)
	ScanCentersArea                     // every location of the study area
)

// ParseScanCenters reads a centers setting as configs write it: "watch" or "area".
func ParseScanCenters(s string) (ScanCenters, error) {
	switch s {
	case "", "watch":
		return ScanCentersWatch, nil
	case "area":
		return ScanCentersArea, nil
	}
	return 0, &ParamError{"centers", s, ErrOutOfRange}
}

// Scan is the prospective space-time permutation scan statistic (Kulldorff,
// Heffernan, Hartman, Assunção and Mostashari 2005, "A space-time permutation
// scan statistic for disease outbreak detection", PLoS Medicine 2(3):e59), as
// SaTScan computes it. It needs no population at risk: it asks whether some place
// has a larger share of its cases in the last few time units than the whole study
// area has, which background differences in where or when things are reported
// do not produce.
//
// Cylinders are centred on each location (each distinct observation point; reports
// sharing a point, such as city-precision ones, are one location) inside the
// watch, or of the whole study area (Centers), with every
// radius at which a further location joins up to MaxRadiusMeters, and every
// duration from one time unit to MaxWindow, all ending at now. Each observation is
// one case whatever its Weight. A cylinder with c cases where
// μ = (cases at its locations) × (cases in its time units) / (all cases) are
// expected scores the log-likelihood ratio
//
//	c·ln(c/μ) + (C−c)·ln((C−c)/(C−μ))  when c > μ, else 0
//
// and the most likely cluster (MLC) is the cylinder with the largest. Its p is its
// rank among the largest ratios of Replicates random permutations of the cases'
// time units among the cases (locations stay), and its recurrence interval is
// EvalEvery/p: how often, evaluating this often, a cluster this unusual arises by
// chance.
type Scan struct {
	p ScanParams
}

var _ monitor.Rule = (*Scan)(nil)

// NewScan validates p, fills its defaults and returns the rule. A bad parameter
// is reported as a *ParamError naming it.
func NewScan(p ScanParams) (*Scan, error) {
	if p.TimeUnit == 0 {
		p.TimeUnit = DefaultScanTimeUnit
	}
	if p.Replicates == 0 {
		p.Replicates = DefaultScanReplicates
	}
	switch {
	case p.AreaMeters < 0 || math.IsNaN(p.AreaMeters) || math.IsInf(p.AreaMeters, 0):
		return nil, &ParamError{"area", p.AreaMeters, ErrNegative}
	case !positive(p.MaxRadiusMeters):
		return nil, &ParamError{"max_radius", p.MaxRadiusMeters, ErrNotPositive}
	case p.TimeUnit < 0:
		return nil, &ParamError{"time_unit", p.TimeUnit, ErrNotPositive}
	case p.Period <= 0:
		return nil, &ParamError{"period", p.Period, ErrNotPositive}
	case p.Period < 2*p.TimeUnit:
		return nil, &ParamError{"period", p.Period, ErrTooSmall}
	case p.MaxWindow < p.TimeUnit:
		return nil, &ParamError{"max_window", p.MaxWindow, ErrTooSmall}
	case p.MaxWindow > p.Period/2:
		return nil, &ParamError{"max_window", p.MaxWindow, ErrTooLarge}
	case p.Replicates < 0:
		return nil, &ParamError{"replicates", p.Replicates, ErrNotPositive}
	case p.EvalEvery <= 0:
		return nil, &ParamError{"every", p.EvalEvery, ErrNotPositive}
	case p.Recurrence <= 0:
		return nil, &ParamError{"recurrence", p.Recurrence, ErrNotPositive}
	case float64(p.Recurrence) > float64(p.EvalEvery)*float64(p.Replicates+1):
		// Even a cluster that beats every replicate would not reach it.
		return nil, &ParamError{"recurrence", p.Recurrence, recurrenceError(p)}
	}
	if err := checkCommon(p.Period, p.Kinds); err != nil {
		return nil, err
	}
	p.Kinds = slices.Clone(p.Kinds)
	return &Scan{p: p}, nil
}

// Params returns the rule's parameters with defaults filled, so that a reload can
// tell whether a rule changed.
func (s *Scan) Params() ScanParams {
	p := s.p
	p.Kinds = slices.Clone(p.Kinds)
	return p
}

// Window returns the study period.
func (s *Scan) Window() time.Duration { return s.p.Period }

// ReachMeters returns AreaMeters: the study area is the watch's shape grown by it.
func (s *Scan) ReachMeters() float64 { return s.p.AreaMeters }

// Kinds returns the kinds the rule reads; empty means all.
func (s *Scan) Kinds() []string { return slices.Clone(s.p.Kinds) }

// Evaluate scans the study area (the watch's shape grown by AreaMeters) over the
// period and returns one finding when the most likely cluster is centred in the
// watch's shape and its recurrence interval is at least Recurrence. The finding
// describes the cluster's cases; its Stats hold llr, p, recurrence_days,
// observed, expected, radius_m, days (the cylinder's duration), and center_lon
// and center_lat (the cylinder's centre; the finding's Center is its cases'
// centroid).
//
// The replicates stop as soon as enough of them beat the observed cluster that it
// cannot reach Recurrence, so a quiet watch costs a fraction of a full run; a
// firing one runs them all and reports the exact p.
func (s *Scan) Evaluate(input monitor.Input) []monitor.Finding {
	w := input.Watch
	centre := w.Contains
	if s.p.Centers == ScanCentersArea {
		centre = nil
	}
	sc := s.prepare(input.Now, w.Center.Lon(), input.Obs, centre)
	if sc == nil {
		return nil
	}
	mlc := sc.mostLikely()
	if mlc.llr <= 0 || !w.Contains(sc.locPoint[sc.centre[mlc.centre]]) {
		return nil
	}
	exceed := sc.replicates(mlc.llr, s.p.Replicates, s.p.Seed, func(exceed int) bool { return !s.fires(exceed) })
	if !s.fires(exceed) {
		return nil
	}
	return []monitor.Finding{s.finding(sc, mlc, exceed)}
}

// pValue is the Monte Carlo p of a cluster beaten or equalled by exceed replicates.
func (s *Scan) pValue(exceed int) float64 {
	return float64(exceed+1) / float64(s.p.Replicates+1)
}

// fires reports whether a cluster with exceed replicates at least as unusual
// reaches the recurrence threshold. It is monotone in exceed, which lets the
// replicates stop early.
func (s *Scan) fires(exceed int) bool {
	return float64(s.p.EvalEvery)/s.pValue(exceed) >= float64(s.p.Recurrence)
}

func (s *Scan) finding(sc *scanner, mlc cylinder, exceed int) monitor.Finding {
	inCircle := make(map[int32]bool)
	for e := sc.start[mlc.centre]; e <= mlc.entry; e++ {
		inCircle[sc.nb[e]] = true
	}
	var cases []*monitor.Observation
	for i, o := range sc.obs {
		if inCircle[sc.caseLoc[i]] && int(sc.caseUnit[i]) < mlc.d {
			cases = append(cases, o)
		}
	}
	f := finding(cases) // sc.obs is sorted, so cases are
	p := s.pValue(exceed)
	centre := sc.locPoint[sc.centre[mlc.centre]]
	cz := float64(sc.cz[mlc.entry])
	f.Stats = map[string]float64{
		"llr":             mlc.llr,
		"p":               p,
		"recurrence_days": s.p.EvalEvery.Hours() / 24 / p,
		"observed":        float64(len(cases)),
		"expected":        cz * float64(sc.cd[mlc.d]) / float64(sc.total),
		"radius_m":        sc.dist[mlc.entry],
		"days":            (time.Duration(mlc.d) * s.p.TimeUnit).Hours() / 24,
		"center_lon":      centre.Lon(),
		"center_lat":      centre.Lat(),
	}
	return f
}

// scanner holds what every replicate shares: the cases' locations, the circles
// around each location in order of radius with their case totals, and the time
// units' totals. Only the cases' time units change between replicates.
type scanner struct {
	obs      []*monitor.Observation
	total    int         // C, all cases
	maxD     int         // the longest cylinder, in time units
	caseLoc  []int32     // case -> location
	caseUnit []int32     // case -> time unit, 0 the most recent, as observed
	locPoint []orb.Point // location -> point, as observed (not unwrapped)
	cd       []int       // cd[d]: cases in the d most recent units, d = 0…maxD
	// Circles around centre[i], a location, are the prefixes of its neighbours
	// nb[start[i]:start[i+1]], nearest first, up to the radius and
	// half-the-cases caps, that end at a tie group's end (end[e]); cz[e] is a
	// circle's case total, dist[e] its radius.
	centre []int32
	start  []int32
	nb     []int32
	cz     []int32
	dist   []float64
	end    []bool
	ln     []float64 // ln(i), i = 0…C
	xlnx   []float64 // i·ln(i), i = 0…C
}

// prepare builds the scanner for obs, which must be sorted by (Time, FID, ID),
// with cylinders centred at the locations centre accepts (all when nil), or
// returns nil when there is nothing to scan.
func (s *Scan) prepare(now time.Time, ref float64, obs []*monitor.Observation, centre func(orb.Point) bool) *scanner {
	if len(obs) < 2 {
		return nil
	}
	sc := &scanner{obs: obs, total: len(obs), maxD: int(s.p.MaxWindow / s.p.TimeUnit)}
	pts := make([]orb.Point, len(obs))
	sc.caseUnit = make([]int32, len(obs))
	sc.cd = make([]int, sc.maxD+1)
	for i, o := range obs {
		pts[i] = o.Point
		u := int32(now.Sub(o.Time) / s.p.TimeUnit)
		sc.caseUnit[i] = u
		if int(u) < sc.maxD {
			sc.cd[u+1]++
		}
	}
	for d := 1; d <= sc.maxD; d++ {
		sc.cd[d] += sc.cd[d-1]
	}
	ix := newIndex(pts, ref, s.p.MaxRadiusMeters)
	nLoc := len(ix.locs)
	sc.caseLoc = make([]int32, len(obs))
	sc.locPoint = make([]orb.Point, nLoc)
	for i, k := range ix.locOf {
		sc.caseLoc[i] = int32(k)
		sc.locPoint[k] = pts[i]
	}
	type near struct {
		k int
		d float64
	}
	for k := range ix.locs {
		if centre == nil || centre(sc.locPoint[k]) {
			sc.centre = append(sc.centre, int32(k))
		}
	}
	if len(sc.centre) == 0 {
		return nil
	}
	var buf []int
	var ns []near
	sc.start = make([]int32, len(sc.centre)+1)
	for i, k32 := range sc.centre {
		k := int(k32)
		sc.start[i] = int32(len(sc.nb))
		buf = ix.neighbours(buf[:0], k)
		ns = ns[:0]
		for _, m := range buf {
			ns = append(ns, near{m, geo.Distance(ix.locs[k].p, ix.locs[m].p)})
		}
		slices.SortFunc(ns, func(a, b near) int { return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(a.k, b.k)) })
		// Keep whole tie groups while the circle holds at most half the cases.
		kept, cz := 0, 0
		for i := 0; i < len(ns); {
			j, add := i, 0
			for ; j < len(ns) && ns[j].d == ns[i].d; j++ {
				add += ix.locs[ns[j].k].n
			}
			if 2*(cz+add) > sc.total {
				break
			}
			cz += add
			kept = j
			i = j
		}
		cz = 0
		for i, n := range ns[:kept] {
			cz += ix.locs[n.k].n
			sc.nb = append(sc.nb, int32(n.k))
			sc.cz = append(sc.cz, int32(cz))
			sc.dist = append(sc.dist, n.d)
			sc.end = append(sc.end, i+1 == kept || ns[i+1].d != n.d)
		}
	}
	sc.start[len(sc.centre)] = int32(len(sc.nb))
	sc.ln = make([]float64, sc.total+1)
	sc.xlnx = make([]float64, sc.total+1)
	sc.ln[0] = math.Inf(-1)
	for i := 1; i <= sc.total; i++ {
		sc.ln[i] = math.Log(float64(i))
		sc.xlnx[i] = float64(i) * sc.ln[i]
	}
	return sc
}

// cylinder identifies a cylinder: the circle around sc.centre[centre] that ends
// at neighbour entry, over the d most recent time units.
type cylinder struct {
	centre int
	entry  int32
	d      int
	llr    float64
}

// llr is the log-likelihood ratio of c cases where mu are expected, of C in all,
// for c > mu (Kulldorff et al. 2005, eq. in Methods).
func llr(c, mu, total float64) float64 {
	if c <= mu {
		return 0
	}
	r := c * math.Log(c/mu)
	if total > c {
		r += (total - c) * math.Log((total-c)/(total-mu))
	}
	return r
}

// work is one goroutine's scratch for sweeping the cylinders under one assignment
// of time units to cases.
type work struct {
	units   []int32 // case -> time unit
	cum     []int32 // location ℓ, d = 1…maxD: cum[ℓ·maxD+d−1] = its cases in the d most recent units
	minU    []int32 // location -> its most recent unit, or maxD when it has none within maxD
	touched []int32 // locations whose cum and minU are set
	c       []int32 // c[d]: the current circle's cases in the d most recent units
	pcg     *rand.PCG
	rng     *rand.Rand
}

func (sc *scanner) newWork() *work {
	w := &work{
		units: slices.Clone(sc.caseUnit),
		cum:   make([]int32, len(sc.locPoint)*sc.maxD),
		minU:  make([]int32, len(sc.locPoint)),
		c:     make([]int32, sc.maxD+1),
		pcg:   rand.NewPCG(0, 0),
	}
	w.rng = rand.New(w.pcg)
	for i := range w.minU {
		w.minU[i] = int32(sc.maxD)
	}
	return w
}

// load tabulates w.units per location: only cases within maxD units of now can be
// in a cylinder, and they are a small part of the period's.
func (sc *scanner) load(w *work) {
	maxD := int32(sc.maxD)
	for _, l := range w.touched {
		w.minU[l] = maxD
		clear(w.cum[int(l)*sc.maxD : int(l+1)*sc.maxD])
	}
	w.touched = w.touched[:0]
	for i, u := range w.units {
		if u >= maxD {
			continue
		}
		l := sc.caseLoc[i]
		if w.minU[l] == maxD {
			w.touched = append(w.touched, l)
		}
		w.minU[l] = min(w.minU[l], u)
		row := w.cum[int(l)*sc.maxD : int(l+1)*sc.maxD]
		for d := u; d < maxD; d++ {
			row[d]++
		}
	}
}

// sweep scans every cylinder under w's time units for one whose LLR beats best,
// and returns the best it found (best itself, and a zero cylinder, when none
// did). With stop, it returns the first cylinder whose LLR is at least best
// instead: all a replicate needs to know.
//
// Two facts keep it fast. A circle that grows without gaining cases in the last d
// units keeps c and raises μ, so its LLR over d units is no larger than the
// smaller circle's, and only the durations that gained cases are scored. And since
// ln x ≤ x − 1, c·ln(c/μ) − (C−c)(c−μ)/(C−μ) bounds the LLR from above using only
// tabulated logarithms, so the exact LLR, which needs a logarithm, is computed
// only for cylinders that might beat best; a cruder bound, c·ln(c/μ) at the
// largest c and smallest μ of the durations, dismisses most circles at once.
func (sc *scanner) sweep(w *work, best float64, stop bool) (cylinder, bool) {
	var arg cylinder
	C := float64(sc.total)
	invC := 1 / C
	lnC := sc.ln[sc.total]
	maxD := int32(sc.maxD)
	// The bound is exact up to rounding: allow for it, so that no cylinder that
	// beats best is skipped.
	slack := 1e-9 * math.Max(1, math.Abs(best))
	for k := range len(sc.start) - 1 {
		c := w.c
		clear(c)
		dirty := maxD // the most recent unit the tie group added cases in
		for e := sc.start[k]; e < sc.start[k+1]; e++ {
			l := sc.nb[e]
			if m := w.minU[l]; m < maxD {
				row := w.cum[int(l)*sc.maxD : int(l+1)*sc.maxD]
				for d := m; d < maxD; d++ {
					c[d+1] += row[d]
				}
				dirty = min(dirty, m)
			}
			if !sc.end[e] || dirty == maxD {
				continue
			}
			cz := sc.cz[e]
			lnCz := sc.ln[cz]
			// c·ln(c/μ) grows with c and shrinks with μ, and over the durations
			// to score c is at most c[maxD] and μ at least that of the shortest:
			// one bound for them all, which most circles fail.
			if cm := c[maxD]; sc.xlnx[cm]-float64(cm)*(lnCz+sc.ln[sc.cd[dirty+1]]-lnC)+slack < best {
				dirty = maxD
				continue
			}
			for d := dirty + 1; d <= maxD; d++ {
				cc := c[d]
				mu := float64(cz) * float64(sc.cd[d]) * invC
				fc := float64(cc)
				if fc <= mu {
					continue
				}
				lnMu := lnCz + sc.ln[sc.cd[d]] - lnC
				head := sc.xlnx[cc] - fc*lnMu // c·ln(c/μ)
				if head+slack < best || head-(C-fc)*(fc-mu)/(C-mu)+slack < best {
					continue
				}
				r := head + (C-fc)*math.Log1p((mu-fc)/(C-mu))
				if stop && r >= best {
					return cylinder{k, e, int(d), r}, true
				}
				if r > best {
					best, arg = r, cylinder{k, e, int(d), r}
				}
			}
			dirty = maxD
		}
	}
	return arg, false
}

// mostLikely returns the observed most likely cluster; its llr is 0 when no
// cylinder has more cases than expected.
func (sc *scanner) mostLikely() cylinder {
	w := sc.newWork()
	sc.load(w)
	mlc, _ := sc.sweep(w, 0, false)
	return mlc
}

// replicates counts the random permutations whose most likely cluster has an LLR
// of at least observed (up to rounding), over n replicates. Replicate r permutes
// with its own generator seeded from (seed, r), so the count does not depend on
// how many goroutines share the work or in which order they take it. The
// goroutines stop taking replicates once enough(count) holds; enough must be
// monotone, and then the partial count still satisfies it.
func (sc *scanner) replicates(observed float64, n int, seed uint64, enough func(int) bool) int {
	threshold := observed * (1 - 1e-12)
	var next, exceed atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			w := sc.newWork()
			for {
				// One slot per replicate: scans due at the same tick share the
				// cores instead of each taking all of them.
				scanSlots <- struct{}{}
				r := next.Add(1) - 1
				if r >= int64(n) || (enough != nil && enough(int(exceed.Load()))) {
					<-scanSlots
					return
				}
				copy(w.units, sc.caseUnit)
				w.pcg.Seed(seed, splitmix64(uint64(r)))
				w.rng.Shuffle(len(w.units), func(i, j int) { w.units[i], w.units[j] = w.units[j], w.units[i] })
				sc.load(w)
				if _, ok := sc.sweep(w, threshold, true); ok {
					exceed.Add(1)
				}
				<-scanSlots
			}
		})
	}
	wg.Wait()
	return int(exceed.Load())
}

// scanSlots bounds the replicates running at once across every Scan of the
// process to the cores Go may use.
var scanSlots = make(chan struct{}, runtime.GOMAXPROCS(0))

// recurrenceError explains why a recurrence is out of reach: a Monte Carlo p is
// at least 1/(replicates+1), so the longest recurrence interval a scan can show
// is every × (replicates+1). It names the replicates, or the schedule, that
// would allow the one asked for.
func recurrenceError(p ScanParams) error {
	most := time.Duration(float64(p.EvalEvery) * float64(p.Replicates+1))
	needReplicates := int(math.Ceil(float64(p.Recurrence)/float64(p.EvalEvery))) - 1
	needEvery := time.Duration(math.Ceil(float64(p.Recurrence) / float64(p.Replicates+1)))
	return fmt.Errorf("%w: the smallest p %d replicates can give is 1/%d, so evaluated every %s a scan shows recurrences up to %s "+
		"(every × (replicates+1)); use replicates: %d or more, or a schedule whose ticks are at least %s apart",
		ErrTooLarge, p.Replicates, p.Replicates+1, p.EvalEvery, days(most), needReplicates, needEvery)
}

// days writes a duration in days when it is at least one, as recurrences are read.
func days(d time.Duration) string {
	if d >= 24*time.Hour {
		return strconv.FormatFloat(d.Hours()/24, 'f', -1, 64) + "d"
	}
	return d.String()
}

// splitmix64 scrambles a replicate number into a generator stream, so that
// replicates r and r+1 do not start from nearly equal states.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
