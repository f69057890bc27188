package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"shelflife/domain"
	"shelflife/loadtest"
	"shelflife/persistence/mysqlstore"
)

// sagaSteps measures what many concurrent checkouts write of their orders
// (the order stored, then READY, APPROVING with the pg_token, PAID: the way
// of an order whose lines were held) two
// ways against the same server, in one run: every order and step its own
// statements in the shared commits, and the orders of one commit in
// multi-row INSERTs and the same step of its orders as one set-based
// statement. It prints the
// wall time and, when the server's process is on this machine, its CPU
// per order.
func sagaSteps(ctx context.Context, out io.Writer, dsn string, orders, callers int, mysqlPIDs []int) error {
	type run struct {
		name    string
		elapsed time.Duration
		cpu     time.Duration
		cpuOK   bool
	}
	var runs []run
	for _, perOrder := range []bool{true, false, true, false} {
		store, err := mysqlstore.Open(ctx, mysqlstore.Config{DSN: dsn, MaxOpenConns: 128, StepPerOrder: perOrder})
		if err != nil {
			return err
		}
		todo, err := stepOrders(ctx, store, orders)
		if err != nil {
			store.Close()
			return err
		}
		before, okBefore := serverCPU(mysqlPIDs)
		t0 := time.Now()
		err = stepAll(ctx, store, todo, callers)
		elapsed := time.Since(t0)
		after, okAfter := serverCPU(mysqlPIDs)
		store.Close()
		if err != nil {
			return err
		}
		name := "set-based"
		if perOrder {
			name = "statements per order"
		}
		runs = append(runs, run{name: name, elapsed: elapsed, cpu: after - before, cpuOK: okBefore && okAfter})
	}
	fmt.Fprintf(out, "\norders stored, then READY, APPROVING, PAID: %d orders, %d at once\n\n", orders, callers)
	fmt.Fprintf(out, "%-24s %10s %22s\n", "mode", "wall ms", "MariaDB CPU ms/order")
	for _, r := range runs {
		cpu := "-"
		if r.cpuOK {
			cpu = fmt.Sprintf("%.3f", float64(r.cpu.Microseconds())/1000/float64(orders))
		}
		fmt.Fprintf(out, "%-24s %10.0f %22s\n", r.name, float64(r.elapsed.Microseconds())/1000, cpu)
	}
	var per, set time.Duration
	for _, r := range runs {
		if r.name == "set-based" {
			set += r.cpu
		} else {
			per += r.cpu
		}
	}
	if runs[0].cpuOK && set > 0 {
		fmt.Fprintf(out, "\nMariaDB CPU, one statement per order / set-based: %.2f\n", per.Seconds()/set.Seconds())
	}
	return nil
}

var stepRun int

// stepOrders are n new orders of a new shopper, each with one line.
func stepOrders(ctx context.Context, store *mysqlstore.Store, n int) ([]domain.Order, error) {
	stepRun++
	now := time.Now()
	u, err := store.CreateUser(ctx, domain.User{Email: fmt.Sprintf("steps-%d-%d@bench.test", now.UnixNano(), stepRun), Name: "Bench",
		Role: domain.RoleShopper, PasswordHash: "x", CreatedAt: now})
	if err != nil {
		return nil, err
	}
	p, err := store.CreateProduct(ctx, domain.Product{SKU: fmt.Sprintf("STEP-%d-%d", now.UnixNano(), stepRun), Name: "step", Category: "bench", Price: 1000})
	if err != nil {
		return nil, err
	}
	orders := make([]domain.Order, n)
	for i := range orders {
		orders[i] = domain.Order{ID: fmt.Sprintf("s%d-%d-%05d", now.UnixNano(), stepRun, i), UserID: u.ID, Total: 1000, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
			Lines:   []domain.OrderLine{{LineNo: 1, Kind: domain.LineRegular, ProductID: p.ID, Quantity: 1, UnitPrice: 1000}},
			Payment: domain.Payment{Nonce: "n"}}
	}
	return orders, nil
}

// stepAll stores every order and takes it through its steps, callers
// orders at once.
func stepAll(ctx context.Context, store *mysqlstore.Store, orders []domain.Order, callers int) error {
	work := make(chan domain.Order)
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				id, now := o.ID, time.Now()
				for _, step := range []func() error{
					func() error { return store.CreateOrder(ctx, o, domain.OrderBounds{DealUnits: 5}) },
					func() error { return store.SetReady(ctx, id, "T-"+id, "http://kakao/"+id, now) },
					func() error { return store.BeginApprovingHeld(ctx, id, "pg-"+id, now) },
					func() error { return store.MarkPaid(ctx, id, "A-"+id, now) },
				} {
					if err := step(); err != nil {
						errs <- fmt.Errorf("order %s: %w", id, err)
						return
					}
				}
			}
		}()
	}
	for _, o := range orders {
		work <- o
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

// serverCPU is the CPU the MySQL server processes used so far (pids, or
// every mariadbd and mysqld on this machine).
func serverCPU(pids []int) (time.Duration, bool) {
	if len(pids) == 0 {
		pids = loadtest.MySQLPIDs()
	}
	if len(pids) == 0 {
		return 0, false
	}
	var total time.Duration
	for _, pid := range pids {
		v, err := loadtest.ProcessCPU(pid)
		if err != nil {
			return 0, false
		}
		total += v
	}
	return total, true
}
