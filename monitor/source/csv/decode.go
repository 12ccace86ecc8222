package csv

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"

	"github.com/geowatch/geowatch/monitor/source/httpfeed"
)

// Magic bytes that open the containers exports come in: GDELT publishes
// zips holding one file ("20191024143000.export.CSV.zip"), mirrors often gzip.
var (
	gzipMagic = []byte{0x1f, 0x8b}
	zipMagic  = []byte("PK\x03\x04")
)

// decode returns r's content, unpacked if it is gzip or a zip holding one
// file, reading at most maxBytes of it: past that, reads fail with
// httpfeed.ErrTooLarge. The type is told by magic bytes, not by name, since a
// URL need not end in .zip.
func decode(r io.Reader, maxBytes int64) (io.ReadCloser, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(len(zipMagic)) // a short input is read as plain text
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %w", ErrNotCSV, err)
		}
		return capped(zr, maxBytes, zr), nil
	case bytes.HasPrefix(head, zipMagic):
		return unzip(br, maxBytes)
	}
	return capped(br, maxBytes, nil), nil
}

// unzip opens the one file of a zip archive. A zip is read from its end, so the
// archive itself is read into memory first, under the same cap.
func unzip(r io.Reader, maxBytes int64) (io.ReadCloser, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > maxBytes {
		return nil, fmt.Errorf("zip: %w: more than %d bytes", httpfeed.ErrTooLarge, maxBytes)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%w: zip: %w", ErrNotCSV, err)
	}
	var files []*zip.File
	for _, f := range zr.File {
		if !f.FileInfo().IsDir() {
			files = append(files, f)
		}
	}
	if len(files) != 1 {
		return nil, fmt.Errorf("%w: zip holds %d files, want 1", ErrNotCSV, len(files))
	}
	f := files[0]
	// The header's size can lie, so the cap applies to the bytes read too.
	if f.UncompressedSize64 > uint64(maxBytes) {
		return nil, fmt.Errorf("zip %s: %w: %d bytes > %d", f.Name, httpfeed.ErrTooLarge, f.UncompressedSize64, maxBytes)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: zip %s: %w", ErrNotCSV, f.Name, err)
	}
	return capped(rc, maxBytes, rc), nil
}

// capReader fails with httpfeed.ErrTooLarge once more than max bytes are read.
type capReader struct {
	r    io.Reader
	left int64 // bytes still allowed, plus one to tell "exactly max" from "more"
	max  int64
	c    io.Closer
}

func capped(r io.Reader, max int64, c io.Closer) *capReader {
	return &capReader{r: r, left: max + 1, max: max, c: c}
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, fmt.Errorf("%w: more than %d bytes decompressed", httpfeed.ErrTooLarge, c.max)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left <= 0 {
		return n - 1, fmt.Errorf("%w: more than %d bytes decompressed", httpfeed.ErrTooLarge, c.max)
	}
	return n, err
}

func (c *capReader) Close() error {
	if c.c == nil {
		return nil
	}
	return c.c.Close()
}
