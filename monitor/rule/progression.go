package rule

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

// Directions a progression may run along its corridor.
const (
	DirectionForward  = "forward"  // positions increase: from the line's start towards its end
	DirectionBackward = "backward" // positions decrease
	DirectionEither   = "either"   // one or the other, whichever the steps follow
)

// Defaults of a progression's optional parameters.
const (
	DefaultMinSteps  = 3
	DefaultStepPoint = 2
	DefaultStepTime  = 2 * time.Hour
	// PlaceNearMeters is how near a gazetteer place must be to a step (or a
	// predicted step) to name it.
	PlaceNearMeters = 10_000
)

// ErrNotCorridor means a progression rule is on a watch that is not a corridor.
var ErrNotCorridor = errors.New("a progression rule needs a corridor watch")

// Place is a named point a progression names its steps by: a gazetteer place
// near the corridor.
type Place struct {
	Name  string
	Point orb.Point
}

// ProgressionParams configures a Progression rule. Configuration names are in
// brackets.
type ProgressionParams struct {
	// Window is how far back from now observations are read [window]. Required;
	// must be positive. A progression's steps all lie within it.
	Window time.Duration
	// Kinds restricts the rule to observations of these kinds [kinds].
	Kinds []string
	// MinSteps is how many steps, in order along the corridor, the rule needs
	// [min_steps]. Default DefaultMinSteps; at least 2.
	MinSteps int
	// MinGapMeters is the least distance along the corridor between consecutive
	// steps [min_gap]. Required; must be positive.
	MinGapMeters float64
	// MinSpeed and MaxSpeed bound the speed, in metres per second along the
	// corridor, between consecutive steps [speed: 20-120km/h]. Required;
	// 0 < MinSpeed < MaxSpeed.
	MinSpeed, MaxSpeed float64
	// Direction is DirectionForward (default), DirectionBackward or
	// DirectionEither [direction].
	Direction string
	// StepMeters is how far apart along the corridor reports of one step may be
	// [eps]: reports are linked into a step when the next along the line is at
	// most this far on. Default MinGapMeters/2; must be positive and at most
	// MinGapMeters.
	StepMeters float64
	// StepTime splits a step's reports where consecutive ones are more than this
	// apart in time [time_eps], so that a place busy all day is several steps.
	// Default DefaultStepTime.
	StepTime time.Duration
	// MinPoints is how many reports a step needs [min_points]. Default
	// DefaultStepPoint; at least 1.
	MinPoints int
	// Places name steps and the next expected step; configs give the
	// gazetteer's places near the corridor. Optional.
	Places []Place
}

// Progression holds when clusters of activity appear one after another at
// advancing positions along a corridor watch, at a plausible speed: activity
// that moves along the route, such as a train's journey seen as police,
// closures and crowds at each station in turn.
//
// Each observation is placed along the corridor (geo.Corridor.Project). Reports
// within StepMeters of each other along the line, and within StepTime of each
// other in time, form a candidate step of at least MinPoints reports; its
// position is their median position and its time that of its first report. The
// rule finds the longest chain of steps whose times increase and whose
// positions advance in the rule's direction by at least MinGapMeters each, at a
// speed between MinSpeed and MaxSpeed from each step to the next. A chain of
// MinSteps or more is the rule's one finding; its Progression lists the steps,
// the speed (a least-squares fit of position on time) and the next step
// expected at that speed.
type Progression struct {
	p ProgressionParams
}

var _ monitor.Rule = (*Progression)(nil)

// NewProgression validates p, fills its defaults and returns the rule. A bad
// parameter is reported as a *ParamError naming it.
func NewProgression(p ProgressionParams) (*Progression, error) {
	if err := checkCommon(p.Window, p.Kinds); err != nil {
		return nil, err
	}
	if p.MinSteps == 0 {
		p.MinSteps = DefaultMinSteps
	}
	if p.MinSteps < 2 {
		return nil, &ParamError{"min_steps", p.MinSteps, ErrTooSmall}
	}
	if !positive(p.MinGapMeters) {
		return nil, &ParamError{"min_gap", p.MinGapMeters, ErrNotPositive}
	}
	if !positive(p.MinSpeed) || !positive(p.MaxSpeed) || p.MinSpeed >= p.MaxSpeed {
		return nil, &ParamError{"speed", fmt.Sprintf("%.4g-%.4gkm/h", p.MinSpeed*3.6, p.MaxSpeed*3.6), errors.New("want a range such as 20-120km/h, lower below upper, both positive")}
	}
	switch p.Direction {
	case "":
		p.Direction = DirectionForward
	case DirectionForward, DirectionBackward, DirectionEither:
	default:
		return nil, &ParamError{"direction", p.Direction, fmt.Errorf("%w: want forward, backward or either", ErrOutOfRange)}
	}
	if p.StepMeters == 0 {
		p.StepMeters = p.MinGapMeters / 2
	}
	if !positive(p.StepMeters) || p.StepMeters > p.MinGapMeters {
		return nil, &ParamError{"eps", p.StepMeters, errors.New("must be positive and at most min_gap")}
	}
	if p.StepTime == 0 {
		p.StepTime = DefaultStepTime
	}
	if p.StepTime < 0 {
		return nil, &ParamError{"time_eps", p.StepTime, ErrNegative}
	}
	if p.MinPoints == 0 {
		p.MinPoints = DefaultStepPoint
	}
	if p.MinPoints < 1 {
		return nil, &ParamError{"min_points", p.MinPoints, ErrTooSmall}
	}
	p.Kinds = slices.Clone(p.Kinds)
	p.Places = slices.Clone(p.Places)
	return &Progression{p: p}, nil
}

// Params returns the rule's parameters with their defaults filled.
func (r *Progression) Params() ProgressionParams {
	p := r.p
	p.Kinds, p.Places = slices.Clone(p.Kinds), slices.Clone(p.Places)
	return p
}

// Window returns the rule's window.
func (r *Progression) Window() time.Duration { return r.p.Window }

// ReachMeters returns 0: the rule reads the corridor only.
func (r *Progression) ReachMeters() float64 { return 0 }

// Kinds returns the kinds the rule reads; empty means all.
func (r *Progression) Kinds() []string { return slices.Clone(r.p.Kinds) }

// placed is an observation with its position along the corridor.
type placed struct {
	o     *monitor.Observation
	along float64
}

// step is a candidate step: reports close along the line and in time.
type step struct {
	obs   []*monitor.Observation // sorted by compareObs
	along float64                // median position, metres
	at    time.Time              // first report
}

// Evaluate returns the longest progression along the watch's corridor when it
// has at least MinSteps steps, and nothing otherwise (also on a watch that is
// not a corridor, which configs refuse).
func (r *Progression) Evaluate(input monitor.Input) []monitor.Finding {
	c, ok := input.Watch.Shape.(geo.Corridor)
	if !ok || len(input.Obs) < r.p.MinSteps*r.p.MinPoints {
		return nil
	}
	steps := r.steps(c, input.Obs)
	if len(steps) < r.p.MinSteps {
		return nil
	}
	var chain []int
	dir := 1.0
	switch r.p.Direction {
	case DirectionForward:
		chain = r.chain(steps, 1)
	case DirectionBackward:
		chain, dir = r.chain(steps, -1), -1
	default:
		fwd, back := r.chain(steps, 1), r.chain(steps, -1)
		chain = fwd
		if better(steps, back, fwd) {
			chain, dir = back, -1
		}
	}
	if len(chain) < r.p.MinSteps {
		return nil
	}
	return []monitor.Finding{r.finding(c, steps, chain, dir)}
}

// steps groups the observations into candidate steps, ordered by time.
func (r *Progression) steps(c geo.Corridor, obs []*monitor.Observation) []step {
	ps := make([]placed, 0, len(obs))
	w := c.WidthMeters()
	for _, o := range obs {
		along, off := c.Project(o.Point)
		if off <= w { // the engine's area already holds only these; a NaN point is not
			ps = append(ps, placed{o, along})
		}
	}
	slices.SortStableFunc(ps, func(a, b placed) int { return cmp.Compare(a.along, b.along) })
	var out []step
	for lo := 0; lo < len(ps); {
		hi := lo + 1
		for hi < len(ps) && ps[hi].along-ps[hi-1].along <= r.p.StepMeters {
			hi++
		}
		group := slices.Clone(ps[lo:hi])
		slices.SortStableFunc(group, func(a, b placed) int { return compareObs(a.o, b.o) })
		for i := 0; i < len(group); {
			j := i + 1
			for j < len(group) && group[j].o.Time.Sub(group[j-1].o.Time) <= r.p.StepTime {
				j++
			}
			if j-i >= r.p.MinPoints {
				out = append(out, newStep(group[i:j]))
			}
			i = j
		}
		lo = hi
	}
	slices.SortStableFunc(out, func(a, b step) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.along, b.along))
	})
	return out
}

func newStep(g []placed) step {
	s := step{obs: make([]*monitor.Observation, len(g)), at: g[0].o.Time}
	pos := make([]float64, len(g))
	for i, p := range g {
		s.obs[i], pos[i] = p.o, p.along
	}
	slices.Sort(pos)
	s.along = pos[len(pos)/2]
	if len(pos)%2 == 0 {
		s.along = (pos[len(pos)/2-1] + pos[len(pos)/2]) / 2
	}
	return s
}

// chain returns the indexes of the longest chain of steps advancing in
// direction dir (+1 or -1) at a plausible speed; among equally long chains, the
// one whose last step is latest, then whose first is latest.
func (r *Progression) chain(steps []step, dir float64) []int {
	n := len(steps)
	length, prev := make([]int, n), make([]int, n)
	for i := range steps {
		length[i], prev[i] = 1, -1
		for j := range i {
			if !r.follows(steps[j], steps[i], dir) {
				continue
			}
			if l := length[j] + 1; l > length[i] || l == length[i] && steps[j].at.After(steps[prev[i]].at) {
				length[i], prev[i] = l, j
			}
		}
	}
	best := -1
	for i := range steps {
		if best < 0 || length[i] >= length[best] {
			best = i // steps are in time order: the later of equals wins
		}
	}
	var out []int
	for i := best; i >= 0; i = prev[i] {
		out = append(out, i)
	}
	slices.Reverse(out)
	return out
}

// follows reports whether b can be the step after a: later, at least MinGap on
// in direction dir, at a speed within the range.
func (r *Progression) follows(a, b step, dir float64) bool {
	dt := b.at.Sub(a.at).Seconds()
	gap := dir * (b.along - a.along)
	if dt <= 0 || gap < r.p.MinGapMeters {
		return false
	}
	v := gap / dt
	return v >= r.p.MinSpeed && v <= r.p.MaxSpeed
}

// better reports whether chain a is better than chain b: longer, or as long
// and ending later.
func better(steps []step, a, b []int) bool {
	if len(a) != len(b) {
		return len(a) > len(b)
	}
	if len(a) == 0 {
		return false
	}
	return steps[a[len(a)-1]].at.After(steps[b[len(b)-1]].at)
}

// finding reports the chain: every report of its steps, centred on the last
// step (where the activity is now), with the progression.
func (r *Progression) finding(c geo.Corridor, steps []step, chain []int, dir float64) monitor.Finding {
	var all []*monitor.Observation
	pr := &monitor.Progression{Direction: DirectionForward}
	if dir < 0 {
		pr.Direction = DirectionBackward
	}
	for _, i := range chain {
		s := steps[i]
		all = append(all, s.obs...)
		centre := centroid(s.obs, weightOf(s.obs))
		ps := monitor.ProgressionStep{AlongKm: s.along / 1000, At: s.at, Count: len(s.obs),
			Lat: centre.Lat(), Lon: centre.Lon(), Place: r.nameNear(centre)}
		for _, o := range s.obs {
			ps.FIDs = append(ps.FIDs, o.FID)
		}
		slices.Sort(ps.FIDs)
		pr.Steps = append(pr.Steps, ps)
	}
	slices.SortFunc(all, compareObs)
	f := finding(all)
	last := pr.Steps[len(pr.Steps)-1]
	f.Center = orb.Point{last.Lon, last.Lat}
	speed := fitSpeed(steps, chain) // m/s, signed
	if dir*speed <= 0 {
		// Every consecutive pair advances, so the fit does too; guard anyway.
		speed = dir * r.p.MinSpeed
	}
	pr.SpeedKmh = math.Abs(speed) * 3.6
	lastAlong := steps[chain[len(chain)-1]].along
	end := 0.0
	if dir > 0 {
		end = c.LengthMeters()
	}
	if math.Abs(end-lastAlong) > r.p.StepMeters {
		pr.Next = r.next(c, steps, chain, dir, speed)
		pt := c.PointAt(end)
		pr.End = &monitor.ProgressionStep{AlongKm: end / 1000, At: last.At.Add(seconds(math.Abs(end-lastAlong) / math.Abs(speed))),
			Lat: pt.Lat(), Lon: pt.Lon(), Place: r.nameNear(pt)}
	}
	f.Progression = pr
	f.Stats = map[string]float64{
		"steps":     float64(len(chain)),
		"speed_kmh": pr.SpeedKmh,
		"along_km":  last.AlongKm,
	}
	if pr.Next != nil {
		f.Stats["next_along_km"] = pr.Next.AlongKm
		f.Stats["next_eta_unix"] = float64(pr.Next.At.Unix())
	}
	return f
}

// next predicts the next step: at the first place along the corridor at least
// MinGapMeters beyond the last step (where the next step could be), or, with
// none, one mean step spacing on (not beyond the corridor's end), reached at
// speed.
func (r *Progression) next(c geo.Corridor, steps []step, chain []int, dir, speed float64) *monitor.ProgressionStep {
	last := steps[chain[len(chain)-1]]
	first := steps[chain[0]]
	target, name := math.NaN(), ""
	for _, pl := range r.p.Places {
		along, off := c.Project(pl.Point)
		if off > c.WidthMeters() {
			continue
		}
		ahead := dir * (along - last.along)
		if ahead >= r.p.MinGapMeters && (math.IsNaN(target) || ahead < dir*(target-last.along)) {
			target, name = along, pl.Name
		}
	}
	if math.IsNaN(target) {
		spacing := math.Abs(last.along-first.along) / float64(len(chain)-1)
		target = math.Max(0, math.Min(c.LengthMeters(), last.along+dir*spacing))
	}
	pt := c.PointAt(target)
	if name == "" {
		name = r.nameNear(pt)
	}
	return &monitor.ProgressionStep{AlongKm: target / 1000, At: last.at.Add(seconds(math.Abs(target-last.along) / math.Abs(speed))),
		Lat: pt.Lat(), Lon: pt.Lon(), Place: name}
}

// nameNear returns the nearest place within PlaceNearMeters of p, or "".
func (r *Progression) nameNear(p orb.Point) string {
	name, best := "", float64(PlaceNearMeters)
	for _, pl := range r.p.Places {
		if d := geo.Distance(p, pl.Point); d <= best {
			name, best = pl.Name, d
		}
	}
	return name
}

// fitSpeed is the least-squares slope of position on time over the chain's
// steps, in metres per second.
func fitSpeed(steps []step, chain []int) float64 {
	t0 := steps[chain[0]].at
	var st, sa, stt, sta float64
	n := float64(len(chain))
	for _, i := range chain {
		t := steps[i].at.Sub(t0).Seconds()
		a := steps[i].along
		st, sa, stt, sta = st+t, sa+a, stt+t*t, sta+t*a
	}
	den := n*stt - st*st
	if den == 0 {
		return 0
	}
	return (n*sta - st*sa) / den
}

func weightOf(obs []*monitor.Observation) float64 {
	var w float64
	for _, o := range obs {
		w += o.Weight
	}
	return w
}

func seconds(s float64) time.Duration {
	return time.Duration(math.Round(s)) * time.Second
}

// compareObs orders observations by (Time, FID, ID), as the engine does.
func compareObs(a, b *monitor.Observation) int {
	return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.FID, b.FID), cmp.Compare(a.ID, b.ID))
}
