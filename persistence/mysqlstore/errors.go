package mysqlstore

import (
	"errors"

	"github.com/go-sql-driver/mysql"
)

// MySQL error numbers this package translates.
const (
	errDuplicate      = 1062
	errDeadlock       = 1213
	errLockWaitTimout = 1205
	errNoReferenced   = 1452
	errBadNull        = 1048
)

func isMySQLError(err error, number uint16) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == number
}

// isRetryable reports a transaction that lost a deadlock or a lock wait and
// may simply be run again.
func isRetryable(err error) bool {
	return isMySQLError(err, errDeadlock) || isMySQLError(err, errLockWaitTimout)
}
