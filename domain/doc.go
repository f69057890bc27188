// Package domain holds ShelfLife's pure rules: money, distances and service
// areas, lot states by expiry, the markdown ladder and FEFO allocation. It
// does no I/O, so every other package can use it and tests need nothing.
package domain
