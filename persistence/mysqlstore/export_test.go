package mysqlstore

import "context"

// ExecStep runs one statement through the shared step commits.
func (s *Store) ExecStep(ctx context.Context, q string, args ...any) (int64, error) {
	st := statement{query: q}
	st.add(args...)
	return s.steps.exec(ctx, st, nil)
}

// SharedStepCommits counts the step batches committed together.
func (s *Store) SharedStepCommits() int64 { return s.steps.shared.Load() }

// SetStepStatements counts the set-based statements that wrote the steps
// of several orders at once.
func (s *Store) SetStepStatements() int64 { return s.steps.setStatements.Load() }

// SharedOrders counts the new orders stored in multi-row INSERTs with
// others.
func (s *Store) SharedOrders() int64 { return s.steps.sharedOrders.Load() }

// FailClaimCommits makes the COMMIT of every later claim fail, or work
// again.
func (s *Store) FailClaimCommits(fail bool) { s.failClaimCommits.Store(fail) }

// WaitClaims waits for the claims still committing.
func (s *Store) WaitClaims() { s.claims.Wait() }
