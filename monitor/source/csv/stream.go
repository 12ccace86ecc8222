package csv

import (
	"context"
	"fmt"
	"io"

	"github.com/geowatch/geowatch/monitor"
)

// Stream reads a delimited file from r, as Parse does, and emits its rows in
// batches of at most chunkRows (DefaultChunkRows if chunkRows <= 0) as it reads
// them, so that a file larger than memory can be imported. A file that fits one
// batch is emitted with origin as Origin, a longer one in batches whose Origin
// adds the lines they hold, "<origin> (lines 2-50001)". It stops at the first
// batch emit refuses; the batches emitted before stay emitted.
func Stream(ctx context.Context, r io.Reader, origin string, opt Options, chunkRows int, emit monitor.EmitFunc) error {
	rd, err := newReader(r, opt)
	if err != nil {
		return fmt.Errorf("%w (from %s)", err, origin)
	}
	defer rd.close()
	if chunkRows <= 0 {
		chunkRows = DefaultChunkRows
	}
	return emitRows(ctx, rd, origin, chunkRows, emit)
}

// Options returns the options s reads its file with, as configured (before
// its preset is applied), so that a one-off import can read a file as s does.
func (s *Source) Options() Options { return s.opt }

// emitRows emits rd's rows in batches of at most chunkRows.
func emitRows(ctx context.Context, rd *reader, origin string, chunkRows int, emit monitor.EmitFunc) error {
	var (
		b       monitor.Batch
		first   int // the line of the batch's first row
		emitted bool
	)
	flush := func(last bool) error {
		b.Origin = origin
		if emitted || !last {
			b.Origin = fmt.Sprintf("%s (lines %d-%d)", origin, first, rd.line)
		}
		if err := emit(ctx, b); err != nil {
			return fmt.Errorf("csv: emit %s: %w", b.Origin, err)
		}
		// The next batch is sized like this one: growing a slice of 50,000
		// observations by doubling allocated twice its size again, the
		// largest part of a CSV import's garbage.
		b, emitted = monitor.Batch{Observations: make([]monitor.Observation, 0, len(b.Observations))}, true
		return nil
	}
	for {
		more, err := rd.next(&b)
		if err != nil {
			return fmt.Errorf("%w (from %s)", err, origin)
		}
		n := len(b.Observations) + len(b.Rejects)
		if !more {
			if n > 0 || !emitted {
				return flush(true)
			}
			return nil
		}
		if n == 1 {
			first = rd.line
		}
		if n >= chunkRows {
			if err := flush(false); err != nil {
				return err
			}
		}
	}
}
