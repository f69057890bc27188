package mysqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// inTx runs fn in a transaction, retrying a few times on deadlock.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.retry(ctx, func() error { return s.tryTx(ctx, fn) })
}

// retry is the package's retry, counted (Retries) and with an error of an
// outage marked domain.ErrUnavailable.
func (s *Store) retry(ctx context.Context, fn func() error) error {
	return s.outage(retry(ctx, func() error {
		err := fn()
		if isRetryable(err) {
			s.retries.Add(1)
		}
		return err
	}))
}

// retry runs fn again, a few times, while it fails on a deadlock or a lock
// wait timeout (fn must be atomic: a transaction or one statement).
func retry(ctx context.Context, fn func() error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = fn()
		if err == nil || !isRetryable(err) || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
	return err
}

func (s *Store) tryTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// statement is one SQL statement with its arguments.
type statement struct {
	query string
	args  []driver.NamedValue
}

// add appends arguments, converted as database/sql would (int to int64,
// named string types to string): they reach the driver directly.
func (st *statement) add(args ...any) {
	for _, a := range args {
		if v, err := driver.DefaultParameterConverter.ConvertValue(a); err == nil {
			a = v
		}
		st.args = append(st.args, driver.NamedValue{Ordinal: len(st.args) + 1, Value: a})
	}
}

// commitBatch runs stmts in one transaction on a connection of the batch
// pool and commits it, in one round trip when oneTrip is set (else one
// round trip per statement), and returns each statement's row count. A
// transaction that failed is rolled back before the connection returns to
// the pool.
func (s *Store) commitBatch(ctx context.Context, stmts []statement, oneTrip bool) ([]int64, error) {
	conn, err := s.batch.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var counts []int64
	if oneTrip {
		counts, err = execOneTrip(ctx, conn, stmts, true)
	} else {
		counts, err = execEach(ctx, conn, stmts)
	}
	if err != nil {
		rollback(conn)
		return nil, err
	}
	return counts, nil
}

// execEach runs stmts in one transaction on conn, one round trip each, and
// commits it. After an error the transaction may still be open.
func execEach(ctx context.Context, conn *sql.Conn, stmts []statement) (counts []int64, err error) {
	err = conn.Raw(func(dc any) error {
		ex, ok := dc.(driver.ExecerContext)
		if !ok {
			return errors.New("mysql driver cannot execute directly")
		}
		if _, err := ex.ExecContext(ctx, "START TRANSACTION", nil); err != nil {
			return err
		}
		for _, st := range stmts {
			res, err := ex.ExecContext(ctx, st.query, st.args)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			counts = append(counts, n)
		}
		_, err := ex.ExecContext(ctx, "COMMIT", nil)
		return err
	})
	return counts, err
}

// execOneTrip sends "START TRANSACTION; s1; …; sn; COMMIT" on conn in one
// round trip and returns each statement's row count; without commit the
// transaction is left open for the caller to end. After an error the
// transaction may still be open.
func execOneTrip(ctx context.Context, conn *sql.Conn, stmts []statement, commit bool) (counts []int64, err error) {
	err = conn.Raw(func(dc any) error {
		ex, ok := dc.(driver.ExecerContext)
		if !ok {
			return errors.New("mysql driver cannot execute directly")
		}
		var q strings.Builder
		q.WriteString("START TRANSACTION")
		var args []driver.NamedValue
		for _, st := range stmts {
			q.WriteString(";\n")
			q.WriteString(st.query)
			for _, a := range st.args {
				a.Ordinal = len(args) + 1
				args = append(args, a)
			}
		}
		extra := 1
		if commit {
			q.WriteString(";\nCOMMIT")
			extra = 2
		}
		res, err := ex.ExecContext(ctx, q.String(), args)
		if err != nil {
			return err
		}
		all, ok := res.(mysql.Result)
		if !ok {
			return fmt.Errorf("mysql driver result %T has no per-statement counts", res)
		}
		got := all.AllRowsAffected()
		if len(got) != len(stmts)+extra {
			return fmt.Errorf("%d statements answered %d counts", len(stmts)+extra, len(got))
		}
		counts = got[1 : len(stmts)+1]
		return nil
	})
	return counts, err
}

// rollback ends conn's transaction; a connection that cannot is closed.
func rollback(conn *sql.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		discard(conn)
	}
}

// discard closes conn instead of returning it to the pool.
func discard(conn *sql.Conn) {
	conn.Raw(func(any) error { return driver.ErrBadConn })
}
