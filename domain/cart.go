package domain

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrCartUnavailable means the carts' store (Redis) cannot be reached;
// ordering listed items does not need it and goes on.
var ErrCartUnavailable = errors.New("carts are unavailable for now; order the items directly or try again shortly")

// CartItem is one line of a shopper's cart: a product (regular stock) or a
// lot (a closing-soon deal), named by its key.
type CartItem struct {
	Key       string
	ProductID int64
	LotID     int64
	Quantity  int64
}

// CartItemKey names a cart item: "l<lot id>" for a deal, "p<product id>"
// for regular stock.
func CartItemKey(productID, lotID int64) string {
	if lotID > 0 {
		return "l" + strconv.FormatInt(lotID, 10)
	}
	return "p" + strconv.FormatInt(productID, 10)
}

// ParseCartItemKey reads a key made by CartItemKey.
func ParseCartItemKey(k string) (productID, lotID int64, err error) {
	bad := fmt.Errorf("cart item %q: want p<id> or l<id>", k)
	if len(k) < 2 {
		return 0, 0, bad
	}
	id, err := strconv.ParseInt(k[1:], 10, 64)
	if err != nil || id <= 0 {
		return 0, 0, bad
	}
	switch k[0] {
	case 'p':
		return id, 0, nil
	case 'l':
		return 0, id, nil
	}
	return 0, 0, bad
}
