package api

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"shelflife/domain"
)

// A sold-out placement is 409 sold_out with how many were left, whether
// the refusal came from the read model or from a grain, however wrapped.
func TestSoldOutCarriesTheAvailableUnits(t *testing.T) {
	tests := []struct {
		name string
		err  error
		lot  int64
		left int64
	}{
		{"a deal lot", &domain.SoldOutError{LotID: 7, ProductID: 3, Available: 2}, 7, 2},
		{"a product, wrapped", fmt.Errorf("place: %w", &domain.SoldOutError{ProductID: 3}), 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ae := toError(tc.err)
			d := detailOf(ae, tc.err)
			if ae.Status != http.StatusConflict || d.Code != "sold_out" || d.Available == nil || *d.Available != tc.left || d.LotID != tc.lot {
				t.Errorf("got %d %+v, want 409 sold_out with %d available (lot %d)", ae.Status, d, tc.left, tc.lot)
			}
		})
	}
	err := errors.Join(domain.ErrInsufficientStock)
	if d := detailOf(toError(err), err); d.Code != "insufficient_stock" || d.Available != nil {
		t.Errorf("insufficient_stock got %+v, want no available count", d)
	}
}
