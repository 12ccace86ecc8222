package rowcodec

import (
	"encoding/json"
	"fmt"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

// CircleVertices is how many vertices a watch's circle gets as an alert geometry.
const CircleVertices = 64

// Alert geometry kinds, in the alerts.shape column.
const (
	ShapeHull   = "hull"   // the finding's convex hull
	ShapeCircle = "circle" // the watch's radius around the finding's centre
	ShapePoint  = "point"  // the finding's centre
)

// AlertGeometry returns what an alert shows on a map: the cluster's hull when the
// finding has one, else the watch's circle, else the centre.
func AlertGeometry(a *monitor.Alert) (orb.Geometry, string) {
	f := &a.Finding
	switch {
	case len(f.Hull) > 0 && len(f.Hull[0]) >= 4:
		return f.Hull, ShapeHull
	case a.RadiusMeters > 0:
		return geo.Circle{Center: f.Center, RadiusMeters: a.RadiusMeters}.Polygon(CircleVertices), ShapeCircle
	}
	return f.Center, ShapePoint
}

// AlertJSON is the JSON columns of an alert's row, as parameters: fids is
// never NULL (an alert without observations has []); stats, labels and
// progression are nil (NULL) when the alert has none, else JSON text.
type AlertJSON struct {
	FIDs                       string
	Stats, Labels, Progression any
}

// EncodeAlertJSON returns the JSON columns of a's row.
func EncodeAlertJSON(a *monitor.Alert) (AlertJSON, error) {
	var j AlertJSON
	f := &a.Finding
	fids := f.FIDs
	if fids == nil {
		fids = []int64{}
	}
	fj, err := json.Marshal(fids)
	if err != nil {
		return j, err
	}
	j.FIDs = string(fj)
	if j.Stats, err = MarshalStats(f.Stats); err != nil {
		return j, fmt.Errorf("encode stats: %w", err)
	}
	if f.Progression != nil {
		pj, err := json.Marshal(f.Progression)
		if err != nil {
			return j, fmt.Errorf("encode progression: %w", err)
		}
		j.Progression = string(pj)
	}
	if len(a.Labels) > 0 {
		lj, err := json.Marshal(a.Labels)
		if err != nil {
			return j, err
		}
		j.Labels = string(lj)
	}
	return j, nil
}

// DecodeAlertJSON sets a's labels, FIDs, stats and progression from its row's
// JSON columns; nil is NULL. Errors name the alert (a.ID) and the column.
func DecodeAlertJSON(a *monitor.Alert, fids string, stats, labels, progression *string) error {
	if labels != nil {
		if err := json.Unmarshal([]byte(*labels), &a.Labels); err != nil {
			return fmt.Errorf("alert %d: labels: %w", a.ID, err)
		}
	}
	if err := json.Unmarshal([]byte(fids), &a.Finding.FIDs); err != nil {
		return fmt.Errorf("alert %d: fids: %w", a.ID, err)
	}
	if stats != nil {
		var err error
		if a.Finding.Stats, err = UnmarshalStats(*stats); err != nil {
			return fmt.Errorf("alert %d: stats: %w", a.ID, err)
		}
	}
	if progression != nil {
		a.Finding.Progression = new(monitor.Progression)
		if err := json.Unmarshal([]byte(*progression), a.Finding.Progression); err != nil {
			return fmt.Errorf("alert %d: progression: %w", a.ID, err)
		}
	}
	return nil
}

var (
	severities = map[string]monitor.Severity{}
	states     = map[string]monitor.AlertState{}
)

func init() {
	for s := monitor.SeverityInfo; s <= monitor.SeverityCritical; s++ {
		severities[s.String()] = s
	}
	for _, s := range []monitor.AlertState{monitor.StatePending, monitor.StateFiring, monitor.StateResolved} {
		states[s.String()] = s
	}
}

// Severity is the severity a severity column names, and whether it names one.
func Severity(s string) (monitor.Severity, bool) {
	v, ok := severities[s]
	return v, ok
}

// State is the alert state a state column names, and whether it names one.
func State(s string) (monitor.AlertState, bool) {
	v, ok := states[s]
	return v, ok
}
