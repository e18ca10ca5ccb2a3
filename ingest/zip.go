package ingest

import (
	"context"
	"io"
)

func readZip(ctx context.Context, r io.ReaderAt, size int64, opts Options, res *Result, emit EmitFunc, depth int) error {
	return &FormatError{Format: FormatZip, Msg: "not yet"}
}
