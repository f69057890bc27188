// Package chaos is the dependency-fault suite (make chaos): a node runs a
// flash sale while one of its dependencies fails — its own mariadbd killed
// and restarted, made read-only, slowed or cut through a TCP fault proxy;
// its own redis-server killed; the Kafka broker refusing every request;
// Kakao Pay slow, declining or losing answers — and the load tester's
// invariants are checked afterwards. Everything it starts listens on
// 127.0.0.1 ports 18800-18899 and lives under a temporary directory; the
// shared MariaDB and Redis are never touched. The code is in the tests;
// `go test -short` runs a short version of each fault.
package chaos
