package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ClientMarks is implemented by stores that record, per client, the
// change mark (seq, upload) of its newest write, so that a read on any
// node of a shared database can wait for an analysis holding the client's
// own writes made through another node (both backends do).
type ClientMarks interface {
	// SetClientMark raises client's mark to (seq, upload); it never lowers it.
	SetClientMark(ctx context.Context, client string, seq, upload int64) error
	// ClientMark returns client's mark, zeros if it never wrote.
	ClientMark(ctx context.Context, client string) (seq, upload int64, err error)
}

// SetClientMark raises client's write mark (see ClientMarks).
func (db *DB) SetClientMark(ctx context.Context, client string, seq, upload int64) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO client_marks (client, seq, upload) VALUES (?, ?, ?)
			ON CONFLICT (client) DO UPDATE SET seq = max(client_marks.seq, excluded.seq),
				upload = max(client_marks.upload, excluded.upload)`, client, seq, upload)
		if err != nil {
			return fmt.Errorf("set client mark: %w", err)
		}
		return nil
	})
}

// ClientMark returns client's write mark, zeros if none.
func (db *DB) ClientMark(ctx context.Context, client string) (seq, upload int64, err error) {
	err = db.sql.QueryRowContext(ctx, `SELECT seq, upload FROM client_marks WHERE client = ?`, client).Scan(&seq, &upload)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("client mark: %w", err)
	}
	return seq, upload, nil
}
