package mysqlstore

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/go-sql-driver/mysql"

	"shelflife/domain"
)

// MySQL error numbers this package translates.
const (
	errDuplicate      = 1062
	errDeadlock       = 1213
	errLockWaitTimout = 1205
	errNoReferenced   = 1452
	errBadNull        = 1048
	// A server started --read-only or switched with SET GLOBAL read_only
	// (a failover's old primary, a full disk's operator): every write is
	// refused.
	errReadOnly     = 1290
	errReadOnlyMode = 1836
)

// outage marks an error that says MySQL is down, unreachable, cut off or
// refusing writes as domain.ErrUnavailable, so that a request answers
// 503 unavailable at once (and is counted) instead of 500.
func (s *Store) outage(err error) error {
	if err == nil || errors.Is(err, domain.ErrUnavailable) || !isOutage(err) {
		return err
	}
	s.fastFailures.Add(1)
	return fmt.Errorf("%w: %w", err, domain.ErrUnavailable)
}

func isOutage(err error) bool {
	var ne net.Error
	return errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) ||
		isMySQLError(err, errReadOnly) || isMySQLError(err, errReadOnlyMode)
}

func isMySQLError(err error, number uint16) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == number
}

// isRetryable reports a transaction that lost a deadlock or a lock wait and
// may simply be run again.
func isRetryable(err error) bool {
	return isMySQLError(err, errDeadlock) || isMySQLError(err, errLockWaitTimout)
}
