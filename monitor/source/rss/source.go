package rss

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/geowatch/geowatch/geo/gazetteer"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/source/httpfeed"
)

// Source pulls a feed from a URL or a file and emits it as one batch. Between
// pulls it remembers the feed's validators, so that an unchanged feed costs a
// 304 and emits nothing; items seen before come again in a changed feed, and
// the store counts them unchanged.
type Source struct {
	target string
	fetch  *httpfeed.Fetcher
	gz     *gazetteer.Gazetteer
	opt    Options
}

// New returns a Source reading target, an http(s) URL, a file:// URL or a path,
// through fetch, which may be shared with other sources, and geotagging items
// without coordinates with gz (usually gazetteer.Default with the config's
// places added). A nil gz geotags nothing: only items with coordinates count.
func New(target string, fetch *httpfeed.Fetcher, gz *gazetteer.Gazetteer, opt Options) *Source {
	return &Source{target: target, fetch: fetch, gz: gz, opt: opt}
}

// Pull fetches the feed and emits its items as one batch with the target as
// Origin; undated items take now as their time. It emits nothing when the feed
// has not changed since the last batch emit accepted; a batch emit refused is
// fetched in full next time.
func (s *Source) Pull(ctx context.Context, now time.Time, emit monitor.EmitFunc) error {
	r, err := s.fetch.Fetch(ctx, s.target)
	if errors.Is(err, httpfeed.ErrNotModified) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("rss: %w", err)
	}
	opt := s.opt
	opt.Now = now
	b, err := Parse(r.Body, s.gz, opt)
	if err != nil {
		return fmt.Errorf("%w (from %s)", err, s.target)
	}
	b.Origin = s.target
	if err := emit(ctx, b); err != nil {
		return fmt.Errorf("rss: emit %s: %w", s.target, err)
	}
	s.fetch.Remember(r)
	return nil
}
