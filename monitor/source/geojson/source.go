package geojson

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/source/httpfeed"
)

// Source pulls a GeoJSON document from a URL or a file and emits it as one
// batch. Between pulls it remembers the document's validators, so that an
// unchanged feed costs a 304 and emits nothing.
type Source struct {
	target string
	fetch  *httpfeed.Fetcher
	opt    Options
}

// New returns a Source reading target, an http(s) URL, a file:// URL or a path,
// through fetch, or through a Fetcher of its own with the defaults if fetch is
// nil. A Fetcher remembers validators per target: sources of the same target
// must not share one.
func New(target string, fetch *httpfeed.Fetcher, opt Options) *Source {
	if fetch == nil {
		fetch = httpfeed.New(httpfeed.Options{})
	}
	return &Source{target: target, fetch: fetch, opt: opt}
}

// Pull fetches the document and emits its features as one batch with the target
// as Origin. It emits nothing when the document has not changed since the last
// batch emit accepted; a batch emit refused is fetched in full next time.
func (s *Source) Pull(ctx context.Context, _ time.Time, emit monitor.EmitFunc) error {
	r, err := s.fetch.Fetch(ctx, s.target)
	if errors.Is(err, httpfeed.ErrNotModified) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("geojson: %w", err)
	}
	b, err := Parse(r.Body, s.opt)
	if err != nil {
		return fmt.Errorf("%w (from %s)", err, s.target)
	}
	b.Origin = s.target
	if err := emit(ctx, b); err != nil {
		return fmt.Errorf("geojson: emit %s: %w", s.target, err)
	}
	s.fetch.Remember(r)
	return nil
}
