// Package mysqlstore is ShelfLife's system of record in MySQL (MariaDB in
// tests and on one machine). Each file serves one aggregate or port:
//
//   - store.go: opening the two pools (one of them for multi-statement
//     batches) and closing them; migrate.go applies the embedded migrations.
//   - batch.go: the batch core every write path shares: statements with
//     their arguments, a transaction sent in one round trip, rollback, and
//     the retry of a transaction that lost a deadlock.
//   - errors.go: driver errors classified by MySQL error number (never by
//     message text), translated here into the sentinel errors of package
//     domain and of the ports, so no caller sees a *mysql.MySQLError.
//   - catalog.go, users.go: warehouses, products, shoppers and admins.
//   - lots.go: receiving and listing lots, the read model's rows, due lots,
//     waste; lotstore.go: the lot grain's claim and fenced group commit.
//   - allocations.go: the warehouse grain's saved FEFO plans.
//   - orders.go: creating (with the per-shopper deal limit) and reading
//     orders; ordersteps.go: the saga's conditional step writes, which
//     steps.go commits together across orders.
//   - outbox.go: the outbox and the consumers' processed-event marks.
//   - reconcile.go: payments against orders, for admins; dashboard.go: the
//     admin dashboard's figures.
//   - secrets.go: keys the shop keeps in MySQL (the callback key).
//   - ports.go: the compile-time list of every port the Store serves.
package mysqlstore
