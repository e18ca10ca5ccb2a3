package pg

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// ElectEvery is how often a standby tries for the leader lock, and how
// often the leader checks that its session is alive. A standby takes over
// within about this long after the leader's session ends.
const ElectEvery = time.Second

// Elect campaigns for leadership among the nodes on this database until
// ctx ends (store.Elector). The leader is the node whose session holds the
// session advisory lock (lockClass, lockLeader), on a connection of its
// own outside the pool: when the leader's process dies, PostgreSQL ends
// its session and frees the lock at once, and a standby takes it at its
// next try. TCP keepalives on that session bound how long a vanished host
// (no FIN) keeps the lock: about 10 s.
func (db *DB) Elect(ctx context.Context, changed func(leader bool)) {
	cfg := db.cfg.ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = "idletrace leader " + db.node
	cfg.RuntimeParams["tcp_keepalives_idle"] = "4"
	cfg.RuntimeParams["tcp_keepalives_interval"] = "2"
	cfg.RuntimeParams["tcp_keepalives_count"] = "3"
	leading := false
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background()) // ends the session: frees the lock
		}
		if leading {
			changed(false)
		}
	}()
	tick := time.NewTicker(ElectEvery)
	defer tick.Stop()
	for {
		if conn == nil {
			cctx, cancel := context.WithTimeout(ctx, 5*ElectEvery)
			conn, _ = pgx.ConnectConfig(cctx, cfg) // retried at the next tick
			cancel()
		}
		if conn != nil {
			qctx, cancel := context.WithTimeout(ctx, 3*ElectEvery)
			var err error
			if leading {
				err = conn.Ping(qctx)
			} else {
				var got bool
				err = conn.QueryRow(qctx, `SELECT pg_try_advisory_lock($1, $2)`, lockClass, lockLeader).Scan(&got)
				if err == nil && got {
					leading = true
					changed(true)
				}
			}
			cancel()
			if err != nil {
				conn.Close(context.Background())
				conn = nil
				if leading {
					leading = false
					changed(false)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
