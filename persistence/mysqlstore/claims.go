package mysqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"shelflife/actors/lot"
	"shelflife/domain"
)

// ClaimLot loads a lot with its product's price and the part of its ledger
// idempotency needs at once: the live holds and the rows changed at or
// within window before MySQL's clock (index lot_ledger_recent), so a lot
// with a long ledger loads in one short range read. It moves the lot's
// version on: the new version is the caller's epoch, and any older
// activation's writes are refused from now on. The window starts at
// MySQL's time, which dates the rows: a caller whose clock is set
// elsewhere (a simulation, a test) still gets every row written within it.
// A lot created since the window's start has no older rows: its State's
// LedgerFrom is zero, the ledger complete.
//
// The claim is one transaction sent in one round trip (claimQuery), and
// ClaimLot returns before its COMMIT ends: the lot is unavailable from the
// moment its activation starts until this returns, and on a busy machine
// every round trip, the commit's flush to disk most of all, has a tail of
// milliseconds. Fencing does not need the claim durable when the grain
// starts answering, only before its first write:
//   - until the COMMIT ends the lot row stays locked by the claim, so an
//     older activation's write waits for it and is then refused;
//   - CommitLot of the new epoch waits here for the claim's COMMIT, and is
//     refused (lot.ErrStaleOwner) if it failed: the version did not move,
//     and a later claim may be given the same epoch, so the failed one is
//     remembered and its epoch never written with from this store;
//   - what the claim read was committed before it, whether or not the
//     claim commits.
//
// ClaimCommitFailures counts the failed COMMITs; Close waits for the
// claims still committing.
func (s *Store) ClaimLot(ctx context.Context, id int64, window time.Duration) (lot.State, []lot.LedgerEntry, error) {
	var st lot.State
	var ledger []lot.LedgerEntry
	err := s.retry(ctx, func() error {
		var err error
		st, ledger, err = s.tryClaim(ctx, id, window)
		return err
	})
	return st, ledger, err
}

// claimQuery is ClaimLot's transaction up to its COMMIT: the version moves
// on first, which locks the lot row until the COMMIT, so no older
// activation's commit can land between it and the reads; the reads then
// see the lot as it is. The window's start is taken once (@claim_since),
// so the lot's age and the ledger rows are judged against the same moment.
// Every kind but HELD is named so the index's second column is an equality
// and its third a range.
const claimQuery = `START TRANSACTION;
SET @claim_since = NOW(6) - INTERVAL ? MICROSECOND;
UPDATE lots SET version = version + 1 WHERE id = ?;
SELECT l.id, l.product_id, l.warehouse_id, l.expires_at, l.received, l.on_hand, l.held,
	l.deducted, l.restored, l.written_off, l.state, l.seq, l.version, p.price, p.min_shelf_life_hours,
	CAST(@claim_since AS DATETIME(6)), l.created_at >= @claim_since,
	l.sell_rate_per_hour, l.sell_rate_at, l.markdown_percent, l.markdown_due_at
FROM lots l JOIN products p ON p.id = l.product_id WHERE l.id = ?;
SELECT ` + ledgerColumns + ` FROM lot_ledger
WHERE lot_id = ? AND (kind = 'HELD' OR (kind IN ('DEDUCTED', 'RESTORED', 'TOMBSTONE', 'RELEASED', 'LAPSED') AND updated_at >= @claim_since))`

// tryClaim runs claimQuery once on a connection of the batch pool and
// leaves its COMMIT to a goroutine; a transaction left open by an error is
// rolled back.
func (s *Store) tryClaim(ctx context.Context, id int64, window time.Duration) (lot.State, []lot.LedgerEntry, error) {
	conn, err := s.batch.Conn(ctx)
	if err != nil {
		return lot.State{}, nil, err
	}
	st, ledger, err := readClaim(ctx, conn, id, window)
	for err == nil && s.claimFailed(id, st.Version) {
		// An earlier claim here was given this epoch and failed to
		// commit; its activation may live on. Skip the epoch.
		if _, err = conn.ExecContext(ctx, "UPDATE lots SET version = version + 1 WHERE id = ?", id); err == nil {
			st.Version++
		}
	}
	if err != nil {
		rollback(conn)
		conn.Close()
		return lot.State{}, nil, err
	}
	w := s.claimStarted(id, st.Version)
	s.claims.Add(1)
	go func() {
		defer s.claims.Done()
		s.commitClaim(conn, id, st.Version, w)
	}()
	return st, ledger, nil
}

func readClaim(ctx context.Context, conn *sql.Conn, id int64, window time.Duration) (lot.State, []lot.LedgerEntry, error) {
	var st lot.State
	rows, err := conn.QueryContext(ctx, claimQuery, window.Microseconds(), id, id, id)
	if err != nil {
		return st, nil, err
	}
	defer rows.Close()
	// The first result with columns is the lot row's.
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return st, nil, err
		}
		return st, nil, fmt.Errorf("lot %d: %w", id, lot.ErrNotFound)
	}
	var hours int64
	var state string
	var since time.Time
	var complete bool
	var rateAt, dueAt sql.NullTime
	if err := rows.Scan(&st.ID, &st.ProductID, &st.WarehouseID, &st.ExpiresAt, &st.Received, &st.OnHand, &st.Held,
		&st.Deducted, &st.Restored, &st.WrittenOff, &state, &st.Seq, &st.Version, &st.Price, &hours, &since, &complete,
		&st.SellRate.PerHour, &rateAt, &st.MarkdownPercent, &dueAt); err != nil {
		return st, nil, err
	}
	st.State = domain.LotState(state)
	st.MinShelfLife = time.Duration(hours) * time.Hour
	if !complete {
		st.LedgerFrom = since.UTC()
	}
	st.SellRate.At, st.MarkdownDueAt = nullTime(rateAt), nullTime(dueAt)
	if rows.Next() || !rows.NextResultSet() {
		if err := rows.Err(); err != nil {
			return st, nil, err
		}
		return st, nil, fmt.Errorf("lot %d: the claim's reads answered out of shape", id)
	}
	var ledger []lot.LedgerEntry
	for rows.Next() {
		e, err := scanLedger(rows)
		if err != nil {
			return st, nil, err
		}
		ledger = append(ledger, e)
	}
	if err := rows.Err(); err != nil {
		return st, nil, err
	}
	return st, ledger, rows.Close()
}

// claimCommitTimeout bounds a claim's COMMIT; the lot row stays locked
// until it ends.
const claimCommitTimeout = 10 * time.Second

// commitClaim commits a claim's transaction on conn, returns conn to its
// pool and tells the claim's waiters; a connection whose COMMIT failed is
// closed, which ends the transaction on the server.
func (s *Store) commitClaim(conn *sql.Conn, id, epoch int64, w *claimWait) {
	ctx, cancel := context.WithTimeout(context.Background(), claimCommitTimeout)
	commit := "COMMIT"
	if s.failClaimCommits.Load() {
		commit = "COMMIT AND NO SUCH THING" // a syntax error: the tests' failed commit
	}
	_, err := conn.ExecContext(ctx, commit)
	cancel()
	if err != nil {
		s.claimFailures.Add(1)
		discard(conn)
	}
	conn.Close()
	s.claimEnded(id, epoch, w, err == nil)
}

// ClaimCommitFailures is how many claims failed to commit after ClaimLot
// returned (their activations' writes are refused).
func (s *Store) ClaimCommitFailures() int64 { return s.claimFailures.Load() }

// claimRegistry holds this store's claims until their COMMIT ends, and for
// good those whose COMMIT failed (rare: MySQL went away), so that no write
// is made with their epochs.
type claimRegistry struct {
	mu sync.Mutex
	m  map[claimKey]*claimWait
}

type claimKey struct{ lot, epoch int64 }

// claimWait is one claim's COMMIT: done closes when it ends; failed is
// set before that.
type claimWait struct {
	done   chan struct{}
	failed bool
}

func (s *Store) claimStarted(id, epoch int64) *claimWait {
	w := &claimWait{done: make(chan struct{})}
	s.claimReg.mu.Lock()
	if s.claimReg.m == nil {
		s.claimReg.m = map[claimKey]*claimWait{}
	}
	s.claimReg.m[claimKey{id, epoch}] = w
	s.claimReg.mu.Unlock()
	return w
}

func (s *Store) claimEnded(id, epoch int64, w *claimWait, ok bool) {
	s.claimReg.mu.Lock()
	if ok {
		delete(s.claimReg.m, claimKey{id, epoch})
	} else {
		w.failed = true
	}
	s.claimReg.mu.Unlock()
	close(w.done)
}

// claimFailed tells whether a claim here was given epoch for lot id and
// failed to commit.
func (s *Store) claimFailed(id, epoch int64) bool {
	s.claimReg.mu.Lock()
	defer s.claimReg.mu.Unlock()
	w := s.claimReg.m[claimKey{id, epoch}]
	return w != nil && w.failed
}

// claimCommitted waits for the COMMIT of this store's claim of lot id at
// epoch, if one is under way, and refuses an epoch whose claim failed.
func (s *Store) claimCommitted(ctx context.Context, id, epoch int64) error {
	s.claimReg.mu.Lock()
	w := s.claimReg.m[claimKey{id, epoch}]
	s.claimReg.mu.Unlock()
	if w == nil {
		return nil
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if w.failed {
		return fmt.Errorf("epoch %d: its claim did not commit: %w", epoch, lot.ErrStaleOwner)
	}
	return nil
}
