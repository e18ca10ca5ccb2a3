package pg

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// SetClientMark raises client's write mark (see store.ClientMarks).
func (db *DB) SetClientMark(ctx context.Context, client string, seq, upload int64) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO client_marks (client, seq, upload) VALUES ($1, $2, $3)
		ON CONFLICT (client) DO UPDATE SET seq = greatest(client_marks.seq, excluded.seq),
			upload = greatest(client_marks.upload, excluded.upload)`, client, seq, upload)
	if err != nil {
		return fmt.Errorf("set client mark: %w", classify(err))
	}
	return nil
}

// ClientMark returns client's write mark, zeros if none.
func (db *DB) ClientMark(ctx context.Context, client string) (seq, upload int64, err error) {
	err = db.pool.QueryRow(ctx, `SELECT seq, upload FROM client_marks WHERE client = $1`, client).Scan(&seq, &upload)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("client mark: %w", classify(err))
	}
	return seq, upload, nil
}
