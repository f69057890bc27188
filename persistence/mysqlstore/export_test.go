package mysqlstore

import "context"

// ExecStep runs one statement through the shared step commits.
func (s *Store) ExecStep(ctx context.Context, q string, args ...any) (int64, error) {
	st := statement{query: q}
	st.add(args...)
	return s.steps.exec(ctx, st)
}

// SharedStepCommits counts the step batches committed together.
func (s *Store) SharedStepCommits() int64 { return s.steps.shared.Load() }
