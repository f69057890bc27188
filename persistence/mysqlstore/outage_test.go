package mysqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"testing"

	"github.com/go-sql-driver/mysql"

	"shelflife/domain"
)

// Errors of a server that is down, cut off or read-only become
// domain.ErrUnavailable (503 at once); others keep their meaning.
func TestOutageErrorsAreUnavailable(t *testing.T) {
	s := &Store{}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"invalid connection", fmt.Errorf("create order: %w", mysql.ErrInvalidConn), true},
		{"bad connection", driver.ErrBadConn, true},
		{"read-only", &mysql.MySQLError{Number: errReadOnly, Message: "--read-only"}, true},
		{"read-only mode", &mysql.MySQLError{Number: errReadOnlyMode}, true},
		{"duplicate", &mysql.MySQLError{Number: errDuplicate}, false},
		{"not found", domain.ErrNotFound, false},
		{"context", context.Canceled, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := s.outage(tc.err)
			if errors.Is(got, domain.ErrUnavailable) != tc.want {
				t.Errorf("outage(%v) = %v, unavailable: %v, want %v", tc.err, got, !tc.want, tc.want)
			}
			if !errors.Is(got, tc.err) {
				t.Errorf("outage(%v) lost the cause: %v", tc.err, got)
			}
		})
	}
	if got := s.FastFailures(); got != 4 {
		t.Errorf("%d fast failures counted, want 4", got)
	}
}

// A deadlock is run again and counted; the answer is the last attempt's.
func TestRetryCountsDeadlocks(t *testing.T) {
	s := &Store{}
	calls := 0
	err := s.retry(context.Background(), func() error {
		calls++
		if calls < 3 {
			return &mysql.MySQLError{Number: errDeadlock}
		}
		return nil
	})
	if err != nil || calls != 3 || s.Retries() != 2 {
		t.Errorf("retry: %v after %d calls, %d counted; want nil after 3, 2 counted", err, calls, s.Retries())
	}
}
