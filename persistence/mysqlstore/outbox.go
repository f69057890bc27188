package mysqlstore

import (
	"context"
	"strings"
	"time"

	"shelflife/domain"
)

// PendingOutbox lists messages not yet published, oldest first.
func (s *Store) PendingOutbox(ctx context.Context, limit int) ([]domain.OutboxMessage, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id, topic, msg_key, payload FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT ?", limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []domain.OutboxMessage
	for rows.Next() {
		var m domain.OutboxMessage
		if err := rows.Scan(&m.ID, &m.Topic, &m.Key, &m.Payload); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// MarkPublished records that the messages reached Kafka.
func (s *Store) MarkPublished(ctx context.Context, ids []int64, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{now.UTC()}
	for _, id := range ids {
		args = append(args, id)
	}
	_, err := s.db.ExecContext(ctx, "UPDATE outbox SET published_at = ? WHERE id IN (?"+strings.Repeat(",?", len(ids)-1)+")", args...)
	return err
}

// Processed reports whether consumer already handled event id.
func (s *Store) Processed(ctx context.Context, consumer, id string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM processed_events WHERE consumer = ? AND event_id = ?", consumer, id).Scan(&n)
	return n > 0, err
}

// MarkProcessed records that consumer handled event id.
func (s *Store) MarkProcessed(ctx context.Context, consumer, id string) error {
	_, err := s.db.ExecContext(ctx, "INSERT IGNORE INTO processed_events (consumer, event_id) VALUES (?, ?)", consumer, id)
	return err
}
