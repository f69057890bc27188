package mysqlstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"shelflife/actors/lot"
	"shelflife/persistence/mysqlstore"
	"shelflife/persistence/mysqlstore/mysqltest"
)

// A claim returns before its COMMIT ends. The fence holds all the same:
// a write of the older epoch made right after is refused, one of the new
// epoch lands, and every claim sees what the one before it wrote.
func TestClaimLotFencesWhileItCommits(t *testing.T) {
	t.Parallel()
	s := mysqltest.New(t)
	ctx := context.Background()
	old, id := newStoreLot(t, s, 10_000)
	prev := lot.Commit{Seq: old.Seq, OnHand: old.OnHand}
	for i := 0; i < 20; i++ {
		cur, _, err := s.ClaimLot(ctx, id, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if cur.Version != old.Version+1 || cur.Seq != prev.Seq || cur.OnHand != prev.OnHand || cur.Deducted != int64(i) {
			t.Fatalf("claim %d: version %d seq %d on hand %d deducted %d; want %d, %d, %d, %d",
				i, cur.Version, cur.Seq, cur.OnHand, cur.Deducted, old.Version+1, prev.Seq, prev.OnHand, i)
		}
		if err := s.CommitLot(ctx, deductions(old, prev, 1)); !errors.Is(err, lot.ErrStaleOwner) {
			t.Fatalf("claim %d: the older epoch's write: %v, want ErrStaleOwner", i, err)
		}
		next := deductions(cur, prev, 1)
		next.Deducted = int64(i + 1)
		if err := s.CommitLot(ctx, next); err != nil {
			t.Fatalf("claim %d: the new epoch's write: %v", i, err)
		}
		prev, old = next, cur
	}
	if got := readLot(t, s, id); got.deducted != 20 || got.ledgerRows != 20 || got.onHand != 10_000-20 {
		t.Errorf("after 20 claims and writes: %+v", got)
	}
	if n := s.ClaimCommitFailures(); n != 0 {
		t.Errorf("ClaimCommitFailures = %d", n)
	}
}

// Claims of one lot racing from many callers each get an epoch of their
// own, and the last epoch is the one the lot keeps.
func TestClaimLotRacingClaimsGetEpochsOfTheirOwn(t *testing.T) {
	t.Parallel()
	s := mysqltest.New(t)
	ctx := context.Background()
	first, id := newStoreLot(t, s, 100)
	const callers, each = 8, 10
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				st, _, err := s.ClaimLot(ctx, id, time.Hour)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen[st.Version] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != callers*each {
		t.Fatalf("%d claims got %d epochs", callers*each, len(seen))
	}
	last := first.Version + callers*each
	if !seen[last] {
		t.Fatalf("no claim got epoch %d", last)
	}
	st := deductions(first, lot.Commit{Seq: first.Seq, OnHand: first.OnHand}, 1)
	st.Epoch = last
	if err := s.CommitLot(ctx, st); err != nil {
		t.Errorf("the last epoch's write: %v", err)
	}
}

// A claim whose COMMIT fails leaves the version where it was: its epoch's
// writes are refused, even after another node's claim is given the same
// number; a later claim on the same store skips that number, and writes
// of the claims after it land.
func TestClaimLotWhoseCommitFailsIsFenced(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDSN(t)
	s := mysqltest.Open(t, dsn)
	otherNode := mysqltest.Open(t, dsn)
	ctx := context.Background()
	st, id := newStoreLot(t, s, 100)
	prev := lot.Commit{Seq: st.Seq, OnHand: st.OnHand}
	s.WaitClaims() // newStoreLot's claim commits as usual
	s.FailClaimCommits(true)
	failed, _, err := s.ClaimLot(ctx, id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CommitLot(ctx, deductions(failed, prev, 1)); !errors.Is(err, lot.ErrStaleOwner) {
		t.Fatalf("a write of the failed claim's epoch: %v, want ErrStaleOwner", err)
	}
	s.FailClaimCommits(false)
	if n := s.ClaimCommitFailures(); n != 1 {
		t.Errorf("ClaimCommitFailures = %d, want 1", n)
	}
	var version int64
	if err := s.DB().QueryRow("SELECT version FROM lots WHERE id = ?", id).Scan(&version); err != nil || version != st.Version {
		t.Fatalf("version after the failed claim: %d, %v; want %d", version, err, st.Version)
	}
	// Another node's claim is given the failed claim's number.
	reused, _, err := otherNode.ClaimLot(ctx, id, time.Hour)
	if err != nil || reused.Version != failed.Version {
		t.Fatalf("the other node's claim: epoch %d, %v; want %d", reused.Version, err, failed.Version)
	}
	if err := s.CommitLot(ctx, deductions(failed, prev, 1)); !errors.Is(err, lot.ErrStaleOwner) {
		t.Fatalf("a write of the failed claim's epoch, now another node's: %v, want ErrStaleOwner", err)
	}
	// The version is the failed claim's number again.
	otherNode.WaitClaims()
	if _, err := s.DB().Exec("UPDATE lots SET version = ? WHERE id = ?", st.Version, id); err != nil {
		t.Fatal(err)
	}
	next, _, err := s.ClaimLot(ctx, id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if next.Version <= failed.Version {
		t.Fatalf("the claim after the failed one got epoch %d; want past %d", next.Version, failed.Version)
	}
	if err := s.CommitLot(ctx, deductions(failed, prev, 1)); !errors.Is(err, lot.ErrStaleOwner) {
		t.Errorf("a write of the failed claim's epoch after another claim: %v, want ErrStaleOwner", err)
	}
	if err := s.CommitLot(ctx, deductions(next, prev, 1)); err != nil {
		t.Errorf("a write of the next claim's epoch: %v", err)
	}
	if got := readLot(t, s, id); got.deducted != 1 || got.ledgerRows != 1 {
		t.Errorf("after the writes: %+v", got)
	}
}

// A claim of a lot that does not exist says so and leaves no transaction
// open on the pool's connections; Close waits for the claims still
// committing.
func TestClaimLotMissingLotAndClose(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDSN(t)
	s := mysqltest.Open(t, dsn)
	ctx := context.Background()
	for range 20 {
		if _, _, err := s.ClaimLot(ctx, 987654321, time.Hour); !errors.Is(err, lot.ErrNotFound) {
			t.Fatalf("claim of a missing lot: %v, want ErrNotFound", err)
		}
	}
	st, id := newStoreLot(t, s, 100)
	prev := lot.Commit{Seq: st.Seq, OnHand: st.OnHand}
	for i := range 20 {
		next := deductions(st, prev, 1)
		if err := s.CommitLot(ctx, next); err != nil {
			t.Fatalf("write %d after the missing lots' claims: %v", i, err)
		}
		prev = next
	}
	claimed, _, err := s.ClaimLot(ctx, id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	other, err := mysqlstore.Open(ctx, mysqlstore.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var version int64
	// A plain read: it would not wait for a claim left uncommitted.
	if err := other.DB().QueryRow("SELECT version FROM lots WHERE id = ?", id).Scan(&version); err != nil || version != claimed.Version {
		t.Errorf("version after Close: %d, %v; want the claim's %d", version, err, claimed.Version)
	}
}
