package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"github.com/paulmach/orb"
)

// selectionSpec is a selection of observations as text: the flags of query and
// export, or the parameters of GET /v1/observations. Both resolve it here, so
// they accept the same values and refuse the same mistakes.
type selectionSpec struct {
	Near, Radius, Within, Since, Until string
	Filters, Kinds, Sources            []string
	Limit                              int
}

// selectionEnv is what resolving a selection needs from its caller.
type selectionEnv struct {
	prefix string              // starts every message: "query: ", or "" over HTTP
	param  func(string) string // a parameter's name as the caller spells it: "--near", "near"
	// place looks a --near name up in the gazetteer; err is for a gazetteer
	// that cannot be loaded.
	place     func(name string) (orb.Point, bool, error)
	placeHint string // what to do about an unknown place
	// within returns the area a --within value names, with the --filter pairs.
	within func(v string, filters map[string]string) (monitor.Shape, error)
}

// resolve checks the selection and builds its store filter; now anchors
// durations in since and until. Its own refusals are usageErrors naming the
// parameter; an error of env's place is returned as it is.
func (sp selectionSpec) resolve(now time.Time, env selectionEnv) (f store.QueryFilter, err error) {
	p, pre := env.param, env.prefix
	bad := func(format string, args ...any) error { return usageError{pre + fmt.Sprintf(format, args...)} }
	switch {
	case sp.Near != "" && sp.Within != "":
		return f, bad("%s and %s exclude each other", p("near"), p("within"))
	case sp.Near != "" && sp.Radius == "":
		return f, bad("%s needs %s", p("near"), p("radius"))
	case sp.Near == "" && sp.Radius != "":
		return f, bad("%s needs %s", p("radius"), p("near"))
	case len(sp.Filters) > 0 && sp.Within == "":
		return f, bad("%s selects a %s feature", p("filter"), p("within"))
	case sp.Limit < 0:
		return f, bad("%s %d: must not be negative", p("limit"), sp.Limit)
	}
	if sp.Near != "" {
		m, err := geo.ParseDistance(sp.Radius)
		if err != nil {
			return f, bad("%s: %v", p("radius"), err)
		}
		if m <= 0 {
			return f, bad("%s %s: must be positive", p("radius"), sp.Radius)
		}
		pt, ok, err := parseLatLon(sp.Near)
		if err != nil {
			return f, bad("%s %q: %v", p("near"), sp.Near, err)
		}
		if !ok {
			var found bool
			if pt, found, err = env.place(sp.Near); err != nil {
				return f, err
			}
			if !found {
				return f, bad("%s %q: no such place in the gazetteer (%s)", p("near"), sp.Near, env.placeHint)
			}
		}
		f.Area = geo.Circle{Center: pt, RadiusMeters: m}
	}
	if sp.Within != "" {
		kv := map[string]string{}
		for _, e := range sp.Filters {
			k, v, ok := strings.Cut(e, "=")
			if !ok || k == "" {
				return f, bad("%s %q: want KEY=VALUE", p("filter"), e)
			}
			kv[k] = v
		}
		area, err := env.within(sp.Within, kv)
		if err != nil {
			var ue usageError
			if errors.As(err, &ue) {
				return f, bad("%s: %s", p("within"), ue.msg)
			}
			return f, fmt.Errorf("%s%s %s: %w", pre, p("within"), sp.Within, err)
		}
		f.Area = area
	}
	if f.Since, err = parseWhen(sp.Since, now); err != nil {
		return f, bad("%s: %v", p("since"), err)
	}
	if f.Until, err = parseWhen(sp.Until, now); err != nil {
		return f, bad("%s: %v", p("until"), err)
	}
	f.Kinds, f.Sources, f.Limit = sp.Kinds, sp.Sources, sp.Limit
	return f, nil
}
