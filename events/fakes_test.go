package events_test

import (
	"context"

	pb "shelflife/actors/inventorypb"
)

type countingStock struct{ restores int }

func (s *countingStock) Allocate(context.Context, int64, string, int64, int64) (pb.Reason, error) {
	return pb.Reason_OK, nil
}
func (s *countingStock) Release(context.Context, int64, string, int64) error { return nil }
func (s *countingStock) DeductDeal(context.Context, int64, string, int64) (pb.Reason, error) {
	return pb.Reason_OK, nil
}
func (s *countingStock) RestoreDeal(context.Context, int64, string) error {
	s.restores++
	return nil
}
