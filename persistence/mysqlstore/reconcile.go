package mysqlstore

import (
	"context"

	"shelflife/domain"
)

// Reconcile sums paid orders against approved payments and lists the
// orders where they disagree.
func (s *Store) Reconcile(ctx context.Context) (domain.Reconciliation, error) {
	r := domain.Reconciliation{ApprovedNotPaid: []string{}, FailedWithApproval: []string{}}
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(SUM(total), 0) FROM orders WHERE status = 'PAID'").Scan(&r.PaidOrders, &r.PaidTotal)
	if err != nil {
		return r, err
	}
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM payments WHERE status = 'APPROVED'").Scan(&r.ApprovedPayments, &r.ApprovedTotal); err != nil {
		return r, err
	}
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(SUM(refunded), 0) FROM payments WHERE status = 'REFUNDED'").Scan(&r.RefundedPayments, &r.RefundedTotal); err != nil {
		return r, err
	}
	for _, q := range []struct {
		sql string
		dst *[]string
	}{
		{"SELECT o.id FROM orders o JOIN payments p ON p.order_id = o.id WHERE p.status = 'APPROVED' AND o.status <> 'PAID' LIMIT 100", &r.ApprovedNotPaid},
		{"SELECT o.id FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.status = 'FAILED' AND p.status = 'APPROVED' LIMIT 100", &r.FailedWithApproval},
	} {
		rows, err := s.db.QueryContext(ctx, q.sql)
		if err != nil {
			return r, err
		}
		for rows.Next() {
			var id string
			rows.Scan(&id)
			*q.dst = append(*q.dst, id)
		}
		rows.Close()
	}
	return r, nil
}
