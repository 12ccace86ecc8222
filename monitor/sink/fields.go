package sink

import (
	"fmt"
	"strings"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"go.uber.org/zap"
)

// Messages of alert events, by the state entered.
const (
	MsgFiring   = "alert firing"
	MsgResolved = "alert resolved"
)

// Keys of the fields every sink writes; the package doc lists their types.
const (
	KeyAlertID      = "alert_id"
	KeyWatch        = "watch"
	KeyRule         = "rule"
	KeyRuleType     = "rule_type"
	KeySeverity     = "severity"
	KeyState        = "state"
	KeyCount        = "count"
	KeyWeight       = "weight"
	KeyRadius       = "radius_m"
	KeyWindow       = "window"
	KeyLat          = "lat"
	KeyLon          = "lon"
	KeyFirstSeen    = "first_seen"
	KeyLastSeen     = "last_seen"
	KeyStartsAt     = "starts_at"
	KeyEndsAt       = "ends_at"
	KeyTransitionID = "transition_id"
	KeySummary      = "summary" // the rule's summary template, rendered; only when it has one
	KeyLabels       = "labels"  // the rule's labels as an object; only when it has some
	KeyStats        = "stats"   // the rule's statistics (surge: observed, expected, ratio, p); only when it has some
	// KeyProgression is a progression rule's steps, speed and predicted next
	// step (monitor.Progression as JSON); only for that rule.
	KeyProgression = "progression"
	// KeyText is the log sink's one-line reading of the event, its first field:
	// "vladivostok/gathering: 5 reports within 2km in 12h".
	KeyText = "text"
	// Keys only the alerts file has, beside msg and ts.
	KeyHull = "hull"
	KeyFIDs = "fids"
)

// Message returns the message for an event: MsgFiring or MsgResolved, from the
// state its transition enters.
func Message(ev monitor.Event) (string, error) {
	switch ev.Transition.To {
	case monitor.StateFiring:
		return MsgFiring, nil
	case monitor.StateResolved:
		return MsgResolved, nil
	}
	return "", fmt.Errorf("transition %d of alert %d: no message for %v", ev.Transition.ID, ev.Alert.ID, ev.Transition.To)
}

// Fields returns the fields of an event in the order the package doc lists them,
// for any zap logger that announces alerts.
func Fields(ev monitor.Event) []zap.Field {
	a, f := ev.Alert, ev.Alert.Finding
	fs := make([]zap.Field, 0, 17)
	fs = append(fs,
		zap.Int64(KeyAlertID, a.ID),
		zap.String(KeyWatch, a.Watch),
		zap.String(KeyRule, a.Rule),
		zap.String(KeyRuleType, a.RuleType),
		zap.String(KeySeverity, a.Severity.String()),
		zap.String(KeyState, ev.Transition.To.String()),
		zap.Int(KeyCount, f.Count),
		zap.Float64(KeyWeight, f.Weight),
		zap.Float64(KeyRadius, a.RadiusMeters),
		zap.String(KeyWindow, a.Window.String()),
		zap.Float64(KeyLat, f.Center.Lat()),
		zap.Float64(KeyLon, f.Center.Lon()),
		zap.String(KeyFirstSeen, timestamp(f.FirstSeen)),
		zap.String(KeyLastSeen, timestamp(f.LastSeen)),
		zap.String(KeyStartsAt, timestamp(a.StartsAt)),
	)
	if ev.Transition.To == monitor.StateResolved {
		fs = append(fs, zap.String(KeyEndsAt, timestamp(a.EndsAt)))
	}
	if a.Summary != "" {
		fs = append(fs, zap.String(KeySummary, a.Summary))
	}
	if len(a.Labels) > 0 {
		fs = append(fs, zap.Any(KeyLabels, a.Labels))
	}
	if len(f.Stats) > 0 {
		fs = append(fs, zap.Any(KeyStats, f.Stats))
	}
	if f.Progression != nil {
		fs = append(fs, zap.Reflect(KeyProgression, f.Progression))
	}
	return append(fs, zap.Int64(KeyTransitionID, ev.Transition.ID))
}

// Text returns a short human reading of an event, for the log line:
// "vladivostok/gathering: 5 reports within 2km in 12h" (a polygon watch has no
// radius: "5 reports in 12h"), ending "(resolved)" for a resolved alert.
func Text(ev monitor.Event) string {
	a := ev.Alert
	reports := "reports"
	if a.Finding.Count == 1 {
		reports = "report"
	}
	s := fmt.Sprintf("%s/%s: %d %s", a.Watch, a.Rule, a.Finding.Count, reports)
	if a.RadiusMeters > 0 {
		s += " within " + geo.FormatDistance(a.RadiusMeters)
	}
	if a.Window > 0 {
		s += " in " + shortDuration(a.Window)
	}
	if p := a.Finding.Progression; p != nil {
		s += fmt.Sprintf(", %d steps along the route at %.0f km/h", len(p.Steps), p.SpeedKmh)
		if n := p.Next; n != nil {
			where := n.Place
			if where == "" {
				where = fmt.Sprintf("km %.0f", n.AlongKm)
			}
			s += fmt.Sprintf(", next %s ~%s", where, n.At.UTC().Format("15:04Z"))
		}
	}
	if ev.Transition.To == monitor.StateResolved {
		s += " (resolved)"
	}
	return s
}

// shortDuration writes 12h for 12h0m0s and 90m as 1h30m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// timestamp formats t as RFC 3339 in UTC, to the second like the feeds' times, so
// that the strings sort as the times do. The zero time, which no stored alert
// has, is "" rather than year 1.
func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
