package csv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/source/httpfeed"
)

// DefaultChunkRows is how many rows a Source emits per batch at most, so that
// a huge export (a GDELT 1.0 daily file holds ~200,000) is stored in steps
// instead of as one batch held whole in memory.
const DefaultChunkRows = 50_000

// Source pulls a delimited file from a URL or a path and emits it in batches
// of at most DefaultChunkRows rows. Between pulls it remembers the file's
// validators, so that an unchanged file costs a 304 and emits nothing.
type Source struct {
	target    string
	fetch     *httpfeed.Fetcher
	opt       Options
	chunkRows int
}

// New returns a Source reading target, an http(s) URL, a file:// URL or a path,
// through fetch, which may be shared with other sources.
func New(target string, fetch *httpfeed.Fetcher, opt Options) *Source {
	return &Source{target: target, fetch: fetch, opt: opt, chunkRows: DefaultChunkRows}
}

// Pull fetches the file and emits its rows. A file that fits one batch is
// emitted with the target as Origin; a longer one in batches whose Origin adds
// the lines they hold, "<target> (lines 2-50001)". It emits nothing when the
// file has not changed since the last pull whose batches emit all accepted.
// After a batch emit refused, or a read error past the first batch, the whole
// file is fetched and emitted again next time; the store counts the rows it
// already holds as unchanged.
func (s *Source) Pull(ctx context.Context, _ time.Time, emit monitor.EmitFunc) error {
	resp, err := s.fetch.Fetch(ctx, s.target)
	if errors.Is(err, httpfeed.ErrNotModified) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	rd, err := newReader(bytes.NewReader(resp.Body), s.opt)
	if err != nil {
		return fmt.Errorf("%w (from %s)", err, s.target)
	}
	defer rd.close()
	if err := emitRows(ctx, rd, s.target, s.chunkRows, emit); err != nil {
		return err
	}
	s.fetch.Remember(resp)
	return nil
}
