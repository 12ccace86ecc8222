package rule

import (
	"math"
	"slices"
	"time"

	"github.com/geowatch/geowatch/monitor"
)

// SurgeParams configures a Surge rule. Configuration names are in brackets.
type SurgeParams struct {
	// Window is the current window [window]: activity in [now-Window, now) is
	// compared with the baseline. Required, no default; must be positive.
	Window time.Duration
	// Baseline is the period before the window that sets the expected rate
	// [baseline]: [now-Window-Baseline, now-Window). Required, no default; must be
	// positive. Longer baselines give steadier rates; 14d with a 6h window is a
	// fortnight of the same place's ordinary activity.
	Baseline time.Duration
	// Alpha is the significance level [alpha]: the rule holds when the Poisson
	// tail probability of the observed activity is below Alpha. Required, no
	// default; must be in (0, 1).
	Alpha float64
	// Min is the least observed (weighted) activity that can fire [min], so that
	// a single report at a quiet place, improbable as it is, does not. Required,
	// no default; must be positive.
	Min float64
	// Kinds restricts the rule to observations of these kinds [kinds], matched
	// exactly. Default (empty): every kind.
	Kinds []string
}

// Surge holds when activity within a watch's shape during the window is
// improbably high given the same place's rate during the baseline before it: a
// one-sided Poisson test of the window's count against the baseline's rate.
type Surge struct {
	p SurgeParams
}

var _ monitor.Rule = (*Surge)(nil)

// NewSurge validates p and returns the rule. A bad parameter is reported as a
// *ParamError naming it.
func NewSurge(p SurgeParams) (*Surge, error) {
	if p.Baseline <= 0 {
		return nil, &ParamError{"baseline", p.Baseline, ErrNotPositive}
	}
	if !(p.Alpha > 0 && p.Alpha < 1) {
		return nil, &ParamError{"alpha", p.Alpha, ErrOutOfRange}
	}
	if !positive(p.Min) {
		return nil, &ParamError{"min", p.Min, ErrNotPositive}
	}
	if err := checkCommon(p.Window, p.Kinds); err != nil {
		return nil, err
	}
	p.Kinds = slices.Clone(p.Kinds)
	return &Surge{p: p}, nil
}

// Params returns the rule's parameters, so that a reload can tell whether a rule
// changed.
func (s *Surge) Params() SurgeParams {
	p := s.p
	p.Kinds = slices.Clone(p.Kinds)
	return p
}

// Window returns Window+Baseline: the rule reads the baseline too.
func (s *Surge) Window() time.Duration { return s.p.Window + s.p.Baseline }

// ReachMeters returns 0: Surge reads only inside the watch's shape.
func (s *Surge) ReachMeters() float64 { return 0 }

// Kinds returns the kinds the rule reads; empty means all.
func (s *Surge) Kinds() []string { return slices.Clone(s.p.Kinds) }

// Evaluate compares the weighted activity within the watch's shape in the window
// (observed) with the baseline's, scaled by Window/Baseline (expected), and
// returns one finding when p = P(X ≥ observed | X ~ Poisson(expected)) is below
// Alpha and observed is at least Min. The finding describes the window's
// observations, and its Stats hold observed, expected, ratio (observed/expected)
// and p.
//
// A place with no baseline activity would have expected 0 and p 0 for any
// activity at all, so expected is floored at half an observation per baseline,
// scaled like the rest: 0.5·Window/Baseline. That is the rate estimate of a place
// where the next observation was as likely as not to fall in the baseline, the
// usual continuity correction for a zero count. With 6h in 14d (56 windows) it is
// 1/112: a first-ever single report has p ≈ 0.009, which Min, not Alpha, keeps
// from firing. Stats report the floored expected, the one p was computed with.
func (s *Surge) Evaluate(input monitor.Input) []monitor.Finding {
	in := input.Obs
	start := input.Now.Add(-s.p.Window)
	// in is sorted by time: the window's observations are its tail.
	i, _ := slices.BinarySearchFunc(in, start, func(o *monitor.Observation, t time.Time) int { return o.Time.Compare(t) })
	cur := in[i:]
	var baseline, observed float64
	for _, o := range in[:i] {
		baseline += o.Weight
	}
	for _, o := range cur {
		observed += o.Weight
	}
	if len(cur) == 0 || observed < s.p.Min {
		return nil
	}
	scale := float64(s.p.Window) / float64(s.p.Baseline)
	expected := math.Max(baseline, 0.5) * scale
	p := PoissonTail(observed, expected)
	if !(p < s.p.Alpha) {
		return nil
	}
	f := finding(cur)
	f.Stats = map[string]float64{
		"observed": observed,
		"expected": expected,
		"ratio":    observed / expected,
		"p":        p,
	}
	return []monitor.Finding{f}
}

// PoissonTail returns P(X ≥ k) for X ~ Poisson(lambda): the regularised lower
// incomplete gamma function P(k, lambda), which for whole k equals
// 1 − Σ_{j<k} e^{−λ} λ^j / j! and for fractional k (weighted counts)
// interpolates it smoothly. k ≤ 0 gives 1; lambda ≤ 0 gives 0 for k > 0.
func PoissonTail(k, lambda float64) float64 {
	switch {
	case math.IsNaN(k) || math.IsNaN(lambda):
		return math.NaN()
	case k <= 0:
		return 1
	case lambda <= 0:
		return 0
	}
	return gammaP(k, lambda)
}

// gammaP is the regularised lower incomplete gamma function P(a, x) for a, x > 0,
// as in Numerical Recipes (Press et al., 3rd ed., §6.2): the series where it
// converges fast (x < a+1), where P is the small side and the series gives it to
// full relative precision; otherwise 1 − Q with Q from Lentz's continued
// fraction, where P is at least about one half and the subtraction loses nothing
// that matters.
func gammaP(a, x float64) float64 {
	lg, _ := math.Lgamma(a)
	// e^{-x} x^a / Γ(a), in logs so that large a and x neither overflow nor underflow.
	front := a*math.Log(x) - x - lg
	if x < a+1 {
		// Σ_{n≥0} x^n / (a(a+1)…(a+n)), times e^{-x} x^a / Γ(a).
		ap, del := a, 1/a
		sum := del
		for range 10000 {
			ap++
			del *= x / ap
			sum += del
			if math.Abs(del) < math.Abs(sum)*1e-16 {
				break
			}
		}
		return math.Exp(front) * sum
	}
	// Q(a, x) = e^{-x} x^a / Γ(a) · 1/(x+1−a− 1·(1−a)/(x+3−a− 2·(2−a)/(x+5−a− …))).
	const tiny = 1e-300
	b := x + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i < 10000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-16 {
			break
		}
	}
	return 1 - math.Exp(front)*h
}
