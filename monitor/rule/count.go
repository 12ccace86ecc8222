package rule

import (
	"slices"
	"time"

	"github.com/geowatch/geowatch/monitor"
)

// CountParams configures a Count rule. Configuration names are in brackets.
type CountParams struct {
	// Min is the threshold [min]: the rule holds when the summed Weight of the
	// matching observations is at least Min. With every weight 1 it is a count.
	// Required, no default; must be positive.
	Min float64
	// Window is how far back from now observations count [window]: an observation
	// counts when its time is in [now-Window, now). Required, no default; must be
	// positive.
	Window time.Duration
	// Kinds restricts the rule to observations of these kinds [kinds], matched
	// exactly. Default (empty): every kind.
	Kinds []string
}

// Count holds when enough weighted activity falls within a watch's radius during
// the window. It reads nothing beyond the radius.
type Count struct {
	p CountParams
}

var _ monitor.Rule = (*Count)(nil)

// NewCount validates p and returns the rule. A bad parameter is reported as a
// *ParamError naming it.
func NewCount(p CountParams) (*Count, error) {
	if !positive(p.Min) {
		return nil, &ParamError{"min", p.Min, ErrNotPositive}
	}
	if err := checkCommon(p.Window, p.Kinds); err != nil {
		return nil, err
	}
	p.Kinds = slices.Clone(p.Kinds) // the caller's slice may change after a reload
	return &Count{p: p}, nil
}

// Params returns the rule's parameters, so that a reload can tell whether a rule
// changed.
func (c *Count) Params() CountParams {
	p := c.p
	p.Kinds = slices.Clone(p.Kinds)
	return p
}

// Window returns the rule's window.
func (c *Count) Window() time.Duration { return c.p.Window }

// ReachMeters returns 0: Count reads only inside the watch's radius.
func (c *Count) ReachMeters() float64 { return 0 }

// Kinds returns the kinds the rule reads; empty means all.
func (c *Count) Kinds() []string { return slices.Clone(c.p.Kinds) }

// Evaluate returns one finding describing the matching observations when their
// summed weight reaches Min, and none otherwise. The finding's Center is their
// weighted centroid and its Hull their convex hull.
func (c *Count) Evaluate(input monitor.Input) []monitor.Finding {
	in := input.Obs
	var weight float64
	for _, o := range in {
		weight += o.Weight
	}
	if len(in) == 0 || weight < c.p.Min {
		return nil
	}
	return []monitor.Finding{finding(in)}
}
