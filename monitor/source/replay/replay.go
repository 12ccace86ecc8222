// Package replay plays a recorded GeoJSON document as if it were happening now:
// for demos and drills, such as the bundled Vladivostok scenario. Event times
// are re-based so that the latest event falls Lead after the first pull, and
// each pull emits the events whose re-based time has come.
//
// The offset is fixed by the first Pull of a Source value and kept for its life.
// A restarted daemon (or a config reload that builds a new Source) resumes the
// timeline of the run that stored the recording (Resume, from the stored time of
// its earliest event), so the stored rows stay as they are; with nothing
// stored, it re-bases afresh.
//
// It imports monitor, monitor/source/geojson and the standard library.
package replay

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/source/geojson"
)

// Options configure a replay.
type Options struct {
	// Lead (lead) is how long after the first pull the latest event falls. Zero
	// delivers everything on the first pull; 5m plays the last five minutes of
	// the recording out in real time.
	Lead time.Duration
	// GeoJSON maps the document's properties (the same keys as a geojson source).
	GeoJSON geojson.Options
}

// Source replays one parsed document. Its Pull may be called concurrently;
// calls run one at a time.
type Source struct {
	origin  string
	obs     []monitor.Observation // by time
	rejects []monitor.Reject
	lead    time.Duration

	mu          sync.Mutex
	started     bool
	offset      time.Duration
	next        int  // index in obs of the first event not yet delivered
	rejectsSent bool // the document's rejects go out with the first batch
}

// New parses data (named origin in batches and errors) for replay. The error is
// for a document that is not GeoJSON at all; bad features become rejects in the
// first batch.
func New(data []byte, origin string, opt Options) (*Source, error) {
	b, err := geojson.Parse(data, opt.GeoJSON)
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", origin, err)
	}
	slices.SortStableFunc(b.Observations, func(x, y monitor.Observation) int {
		return x.Time.Compare(y.Time)
	})
	return &Source{origin: origin, obs: b.Observations, rejects: b.Rejects, lead: opt.Lead}, nil
}

// Open reads the file at path and parses it as New does.
func Open(path string, opt Options) (*Source, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	return New(data, path, opt)
}

// Pull emits, as one batch, the events whose re-based time is at or before now
// and that no earlier batch delivered. The first call fixes the offset so that
// the latest event falls at now+Lead. A batch emit refuses is offered again.
func (s *Source) Pull(ctx context.Context, now time.Time, emit monitor.EmitFunc) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		if len(s.obs) > 0 {
			latest := s.obs[len(s.obs)-1].Time
			offset := now.Add(s.lead).Sub(latest)
			// Sub saturates beyond ±292 years, where re-basing would be wrong.
			if offset == math.MaxInt64 || offset == math.MinInt64 {
				return fmt.Errorf("replay %s: latest event %v too far from %v to re-base", s.origin, latest, now)
			}
			s.offset = offset
		}
		s.started = true
	}
	end := s.next
	for end < len(s.obs) && !s.obs[end].Time.Add(s.offset).After(now) {
		end++
	}
	if end == s.next && (s.rejectsSent || len(s.rejects) == 0) {
		return nil
	}
	b := monitor.Batch{Origin: s.origin, Observations: make([]monitor.Observation, 0, end-s.next)}
	for _, o := range s.obs[s.next:end] {
		o.Time = o.Time.Add(s.offset)
		b.Observations = append(b.Observations, o)
	}
	if !s.rejectsSent {
		b.Rejects = s.rejects
	}
	if err := emit(ctx, b); err != nil {
		return fmt.Errorf("replay: emit %s: %w", s.origin, err)
	}
	s.next, s.rejectsSent = end, true
	return nil
}

// Offset returns what Pull adds to the recorded times, and false before the
// first Pull has fixed it.
func (s *Source) Offset() (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offset, s.started
}

// First returns the id and recorded time of the recording's earliest event,
// the first one a run stores; false for an empty recording.
func (s *Source) First() (id string, recorded time.Time, ok bool) {
	if len(s.obs) == 0 {
		return "", time.Time{}, false
	}
	return s.obs[0].ID, s.obs[0].Time, true
}

// Resume fixes the offset to one an earlier run used, before the first Pull
// would choose one, so that a restart replays the same timeline and what that
// run stored comes again unchanged. It does nothing once Pull has run.
func (s *Source) Resume(offset time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.offset, s.started = offset, true
	}
}
