package ingest

import (
	"context"
	"io"
)

// readText reads the text formats (XML, CSV, JSON/NDJSON) and zip archives.
func readText(ctx context.Context, format string, r io.ReaderAt, size int64, opts Options, res *Result, emit EmitFunc) error {
	return &FormatError{Format: format, Msg: "format not supported yet"}
}
