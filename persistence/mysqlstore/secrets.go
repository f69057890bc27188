package mysqlstore

import (
	"context"
	"crypto/rand"
	"fmt"
)

// Secret returns the shop's secret called name, making a random one of
// size bytes the first time any node asks. Nodes starting together agree:
// the first insert wins and everyone reads it back.
func (s *Store) Secret(ctx context.Context, name string, size int) ([]byte, error) {
	fresh := make([]byte, size)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	if _, err := s.db.ExecContext(ctx, "INSERT IGNORE INTO secrets (name, value) VALUES (?, ?)", name, fresh); err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	var v []byte
	if err := s.db.QueryRowContext(ctx, "SELECT value FROM secrets WHERE name = ?", name).Scan(&v); err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return v, nil
}
