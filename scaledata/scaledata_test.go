package scaledata_test

import (
	"context"
	"testing"
	"time"

	"shelflife/domain"
	"shelflife/persistence/mysqlstore/mysqltest"
	"shelflife/scaledata"
)

// A small set: the counts asked for, every lot's counters conserve its
// units, states follow expiry at Now, hot lots' ledgers match their
// deducted counters.
func TestLoadSmallSet(t *testing.T) {
	t.Parallel()
	s := mysqltest.New(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	res, err := scaledata.Load(ctx, s.DB(), scaledata.Options{Warehouses: 6, Products: 300, Lots: 3000, HotLots: 3,
		LedgerRows: 2500, Now: now, ExpiredShare: 0.1, ClosingSoonShare: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warehouses) != 6 || len(res.Products) != 300 || res.LastLot-res.FirstLot+1 != 3000 || len(res.HotLots) != 3 || res.LedgerRows != 7500 {
		t.Fatalf("result %+v", res)
	}
	db := s.DB()
	var lots, bad, wrongState int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*),
			SUM(received <> on_hand + held + deducted - restored + written_off),
			SUM(state <> CASE WHEN expires_at <= ? THEN 'EXPIRED' WHEN expires_at <= ? THEN 'CLOSING_SOON' ELSE 'REGULAR' END)
		FROM lots`, now, now.Add(domain.ClosingWindow)).Scan(&lots, &bad, &wrongState); err != nil {
		t.Fatal(err)
	}
	if lots != 3000 || bad != 0 || wrongState != 0 {
		t.Errorf("lots %d, not conserving %d, state not as expiry says %d", lots, bad, wrongState)
	}
	for _, st := range []domain.LotState{domain.Regular, domain.ClosingSoon, domain.Expired} {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM lots WHERE state = ?", string(st)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != res.States[st] || n == 0 {
			t.Errorf("%s: %d lots in the table, result says %d", st, n, res.States[st])
		}
	}
	var wasted, expiredUnits int64
	db.QueryRowContext(ctx, "SELECT COALESCE(SUM(quantity), 0) FROM waste WHERE kind = 'EXPIRY' AND value = quantity * unit_cost AND unit_cost > 0").Scan(&wasted)
	db.QueryRowContext(ctx, "SELECT SUM(written_off) FROM lots WHERE state = 'EXPIRED'").Scan(&expiredUnits)
	if wasted == 0 || wasted != expiredUnits {
		t.Errorf("waste rows count %d units, expired lots wrote off %d", wasted, expiredUnits)
	}
	for _, id := range res.HotLots {
		var deducted, ledger, keys int64
		db.QueryRowContext(ctx, "SELECT deducted FROM lots WHERE id = ?", id).Scan(&deducted)
		db.QueryRowContext(ctx, "SELECT SUM(quantity), COUNT(DISTINCT order_key) FROM lot_ledger WHERE lot_id = ? AND kind = 'DEDUCTED'", id).Scan(&ledger, &keys)
		if deducted != 2500 || ledger != 2500 || keys != 2500 {
			t.Errorf("hot lot %d: deducted %d, ledger sums %d over %d keys", id, deducted, ledger, keys)
		}
	}
	// A second load into the same database is refused.
	if _, err := scaledata.Load(ctx, db, scaledata.Options{Lots: 10}); err == nil {
		t.Error("second Load into a loaded database succeeded")
	}
}

// Expiry places every lot: a storm's lots all expire in the same minute.
func TestLoadExpiryFunction(t *testing.T) {
	t.Parallel()
	s := mysqltest.New(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	at := now.Add(3 * time.Minute)
	res, err := scaledata.Load(ctx, s.DB(), scaledata.Options{Warehouses: 2, Products: 10, Lots: 500, HotLots: -1,
		Now: now, Expiry: func(i int) time.Time { return at.Add(time.Duration(i%60) * time.Second) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.HotLots) != 0 || res.LedgerRows != 0 || res.States[domain.ClosingSoon] != 500 {
		t.Fatalf("result %+v", res)
	}
	var lo, hi time.Time
	if err := s.DB().QueryRowContext(ctx, "SELECT MIN(expires_at), MAX(expires_at) FROM lots").Scan(&lo, &hi); err != nil {
		t.Fatal(err)
	}
	if !lo.Equal(at) || !hi.Equal(at.Add(59*time.Second)) {
		t.Errorf("expiries from %s to %s, want %s to %s", lo, hi, at, at.Add(59*time.Second))
	}
}
