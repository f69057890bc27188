// Package demo loads ShelfLife's demo data: warehouses around Seoul in two
// regions, a fresh-food catalog in Korean and English, lots with spread
// expiries, and three accounts. Loading is idempotent.
package demo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"shelflife/domain"
)

// Password is every demo account's password.
const Password = "shelflife-demo"

// Demo account emails.
const (
	AdminEmail    = "admin@shelflife.test"
	Shopper1Email = "shopper1@shelflife.test"
	Shopper2Email = "shopper2@shelflife.test"
)

// Store is what seeding needs.
type Store interface {
	CreateWarehouse(ctx context.Context, w domain.Warehouse) (domain.Warehouse, error)
	Warehouses(ctx context.Context) ([]domain.Warehouse, error)
	CreateProduct(ctx context.Context, p domain.Product) (domain.Product, error)
	Products(ctx context.Context) ([]domain.Product, error)
	EnsureUser(ctx context.Context, u domain.User) (domain.User, error)
	CountLiveLots(ctx context.Context, productID, warehouseID int64, now time.Time) (int, error)
	CreateLot(ctx context.Context, l domain.Lot, now time.Time) (domain.Lot, error)
}

// Neighbourhood is a named address shoppers can pick.
type Neighbourhood struct {
	Key     string
	Label   string
	Address domain.Point
}

// Neighbourhoods are demo addresses served by two, one and no warehouses.
var Neighbourhoods = []Neighbourhood{
	{"yeonhui", "연희동 Yeonhui-dong (Mapo + Eunpyeong)", domain.Point{Lat: 37.5667, Lng: 126.9300}},
	{"samseong", "삼성동 Samseong-dong (Gangnam + Songpa)", domain.Point{Lat: 37.5088, Lng: 127.0631}},
	{"jamsil", "잠실동 Jamsil-dong (Songpa)", domain.Point{Lat: 37.5133, Lng: 127.1001}},
	{"suwon", "수원 Suwon (outside every service area)", domain.Point{Lat: 37.2636, Lng: 127.0286}},
}

// Warehouses around Seoul, in two regions.
var Warehouses = []domain.Warehouse{
	{Name: "마포 센터 Mapo", Region: "서울 서북 Seoul Northwest", Lat: 37.5663, Lng: 126.9016, RadiusKm: 6},
	{Name: "은평 센터 Eunpyeong", Region: "서울 서북 Seoul Northwest", Lat: 37.6027, Lng: 126.9291, RadiusKm: 5},
	{Name: "강남 센터 Gangnam", Region: "서울 동남 Seoul Southeast", Lat: 37.4979, Lng: 127.0276, RadiusKm: 6},
	{Name: "송파 센터 Songpa", Region: "서울 동남 Seoul Southeast", Lat: 37.5145, Lng: 127.1059, RadiusKm: 5},
}

// Products is the demo catalog.
var Products = []domain.Product{
	{SKU: "VEG-SPINACH", Name: "시금치 300g", NameEn: "Spinach 300g", Category: "Vegetables", Price: 2980},
	{SKU: "VEG-LETTUCE", Name: "상추 200g", NameEn: "Lettuce 200g", Category: "Vegetables", Price: 2480},
	{SKU: "VEG-CABBAGE", Name: "배추 1포기", NameEn: "Napa cabbage", Category: "Vegetables", Price: 4500},
	{SKU: "VEG-BEANSPROUT", Name: "콩나물 300g", NameEn: "Bean sprouts 300g", Category: "Vegetables", Price: 1290},
	{SKU: "VEG-TOFU", Name: "두부 300g", NameEn: "Tofu 300g", Category: "Vegetables", Price: 1980},
	{SKU: "VEG-MUSHROOM", Name: "느타리버섯 200g", NameEn: "Oyster mushrooms 200g", Category: "Vegetables", Price: 2290},
	{SKU: "FRU-STRAWBERRY", Name: "딸기 500g", NameEn: "Strawberries 500g", Category: "Fruit", Price: 12900},
	{SKU: "FRU-BANANA", Name: "바나나 1송이", NameEn: "Bananas, one bunch", Category: "Fruit", Price: 3990},
	{SKU: "FRU-APPLE", Name: "사과 4입", NameEn: "Apples x4", Category: "Fruit", Price: 9900},
	{SKU: "FRU-TANGERINE", Name: "감귤 1kg", NameEn: "Tangerines 1kg", Category: "Fruit", Price: 7900},
	{SKU: "FRU-BLUEBERRY", Name: "블루베리 125g", NameEn: "Blueberries 125g", Category: "Fruit", Price: 5980},
	{SKU: "MEA-PORKBELLY", Name: "삼겹살 500g", NameEn: "Pork belly 500g", Category: "Meat", Price: 15900, MinShelfLife: 24 * time.Hour},
	{SKU: "MEA-BEEFBULGOGI", Name: "불고기용 소고기 300g", NameEn: "Beef for bulgogi 300g", Category: "Meat", Price: 18900, MinShelfLife: 24 * time.Hour},
	{SKU: "MEA-CHICKEN", Name: "닭볶음탕용 닭 1kg", NameEn: "Chicken for braising 1kg", Category: "Meat", Price: 8990, MinShelfLife: 24 * time.Hour},
	{SKU: "MEA-DUCK", Name: "훈제오리 400g", NameEn: "Smoked duck 400g", Category: "Meat", Price: 11900},
	{SKU: "MEA-EGGS", Name: "무항생제 계란 15구", NameEn: "Antibiotic-free eggs x15", Category: "Meat", Price: 7490},
	{SKU: "SEA-MACKEREL", Name: "고등어 2손", NameEn: "Mackerel x2", Category: "Seafood", Price: 9900, MinShelfLife: 12 * time.Hour},
	{SKU: "SEA-SALMON", Name: "생연어 300g", NameEn: "Fresh salmon 300g", Category: "Seafood", Price: 16900, MinShelfLife: 12 * time.Hour},
	{SKU: "SEA-SHRIMP", Name: "새우 400g", NameEn: "Shrimp 400g", Category: "Seafood", Price: 13900},
	{SKU: "SEA-SQUID", Name: "오징어 2마리", NameEn: "Squid x2", Category: "Seafood", Price: 8900},
	{SKU: "SEA-OYSTER", Name: "굴 250g", NameEn: "Oysters 250g", Category: "Seafood", Price: 7900, MinShelfLife: 12 * time.Hour},
	{SKU: "DAI-MILK", Name: "우유 1L", NameEn: "Milk 1L", Category: "Dairy", Price: 2900},
	{SKU: "DAI-YOGURT", Name: "플레인 요거트 450g", NameEn: "Plain yogurt 450g", Category: "Dairy", Price: 3980},
	{SKU: "DAI-CHEESE", Name: "모짜렐라 치즈 200g", NameEn: "Mozzarella 200g", Category: "Dairy", Price: 5490},
	{SKU: "DAI-BUTTER", Name: "버터 200g", NameEn: "Butter 200g", Category: "Dairy", Price: 6900},
	{SKU: "DAI-SOYMILK", Name: "두유 950ml", NameEn: "Soy milk 950ml", Category: "Dairy", Price: 2690},
	{SKU: "BAK-BREAD", Name: "우유식빵", NameEn: "Milk bread loaf", Category: "Bakery", Price: 4200},
	{SKU: "BAK-BAGEL", Name: "베이글 4입", NameEn: "Bagels x4", Category: "Bakery", Price: 5900},
	{SKU: "BAK-CROISSANT", Name: "크루아상 3입", NameEn: "Croissants x3", Category: "Bakery", Price: 6500},
	{SKU: "DEL-KIMCHI", Name: "포기김치 1kg", NameEn: "Cabbage kimchi 1kg", Category: "Deli", Price: 9800},
	{SKU: "DEL-KIMBAP", Name: "참치김밥", NameEn: "Tuna kimbap", Category: "Deli", Price: 3500},
	{SKU: "DEL-JAPCHAE", Name: "잡채 300g", NameEn: "Japchae 300g", Category: "Deli", Price: 6900},
	{SKU: "DEL-SALAD", Name: "닭가슴살 샐러드", NameEn: "Chicken breast salad", Category: "Deli", Price: 5900},
}

// Accounts lists the demo users; shoppers have addresses served by two and
// by one warehouse.
func accounts(hash string) []domain.User {
	yeonhui, jamsil := Neighbourhoods[0], Neighbourhoods[2]
	return []domain.User{
		{Email: AdminEmail, Name: "관리자 Admin", Role: domain.RoleAdmin, PasswordHash: hash},
		{Email: Shopper1Email, Name: "김신선 Kim", Role: domain.RoleShopper, PasswordHash: hash,
			Address: &domain.Address{Label: yeonhui.Label, Point: yeonhui.Address}},
		{Email: Shopper2Email, Name: "이알뜰 Lee", Role: domain.RoleShopper, PasswordHash: hash,
			Address: &domain.Address{Label: jamsil.Label, Point: jamsil.Address}},
	}
}

// lotPlan gives the k-th demo lot of a warehouse its expiry and quantity: a
// few within 6 h, some within 48 h, most days or weeks away.
func lotPlan(k int, now time.Time) (time.Time, int64) {
	spreads := []time.Duration{
		4 * time.Hour, 20 * time.Hour, 40 * time.Hour, 5 * 24 * time.Hour,
		9 * 24 * time.Hour, 14 * 24 * time.Hour, 21 * 24 * time.Hour, 30 * 24 * time.Hour,
	}
	exp := now.Add(spreads[k%len(spreads)]).Truncate(time.Minute)
	qty := int64(10 + (k*7)%40)
	return exp, qty
}

// Result counts what Seed created.
type Result struct {
	Warehouses, Products, Users, Lots int
}

// Seed loads the demo data that is missing. hash is the bcrypt hash of
// Password. Running it again creates nothing new.
func Seed(ctx context.Context, s Store, hash string, now time.Time) (Result, error) {
	var r Result
	whs, err := ensureWarehouses(ctx, s, &r)
	if err != nil {
		return r, err
	}
	prods, err := ensureProducts(ctx, s, &r)
	if err != nil {
		return r, err
	}
	for _, u := range accounts(hash) {
		if _, err := s.EnsureUser(ctx, u); err != nil {
			return r, fmt.Errorf("demo user %s: %w", u.Email, err)
		}
		r.Users++
	}
	k := 0
	for wi, w := range whs {
		for pi, p := range prods {
			// Every warehouse stocks most products, not all, so availability
			// differs by address.
			if (pi+wi)%5 == 4 {
				continue
			}
			k++
			// A pair whose lots all expired (an old demo database) is
			// restocked, so the demo always has something to show.
			n, err := s.CountLiveLots(ctx, p.ID, w.ID, now)
			if err != nil {
				return r, err
			}
			if n > 0 {
				continue
			}
			exp, qty := lotPlan(k, now)
			if _, err := s.CreateLot(ctx, domain.Lot{ProductID: p.ID, WarehouseID: w.ID, ExpiresAt: exp, Received: qty}, now); err != nil {
				return r, fmt.Errorf("demo lot: %w", err)
			}
			r.Lots++
			// A second, later lot for some products, so FEFO has a choice.
			if k%3 == 0 {
				exp2, qty2 := lotPlan(k+3, now)
				if _, err := s.CreateLot(ctx, domain.Lot{ProductID: p.ID, WarehouseID: w.ID, ExpiresAt: exp2.Add(24 * time.Hour), Received: qty2}, now); err != nil {
					return r, fmt.Errorf("demo lot: %w", err)
				}
				r.Lots++
			}
		}
	}
	return r, nil
}

func ensureWarehouses(ctx context.Context, s Store, r *Result) ([]domain.Warehouse, error) {
	existing, err := s.Warehouses(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]domain.Warehouse{}
	for _, w := range existing {
		byName[w.Name] = w
	}
	out := make([]domain.Warehouse, 0, len(Warehouses))
	for _, w := range Warehouses {
		if got, ok := byName[w.Name]; ok {
			out = append(out, got)
			continue
		}
		created, err := s.CreateWarehouse(ctx, w)
		if err != nil {
			return nil, fmt.Errorf("demo warehouse: %w", err)
		}
		r.Warehouses++
		out = append(out, created)
	}
	return out, nil
}

func ensureProducts(ctx context.Context, s Store, r *Result) ([]domain.Product, error) {
	existing, err := s.Products(ctx)
	if err != nil {
		return nil, err
	}
	bySKU := map[string]domain.Product{}
	for _, p := range existing {
		bySKU[p.SKU] = p
	}
	out := make([]domain.Product, 0, len(Products))
	for _, p := range Products {
		if got, ok := bySKU[p.SKU]; ok {
			out = append(out, got)
			continue
		}
		created, err := s.CreateProduct(ctx, p)
		if errors.Is(err, domain.ErrDuplicateSKU) {
			return nil, fmt.Errorf("demo product %s appeared while seeding: %w", p.SKU, err)
		}
		if err != nil {
			return nil, err
		}
		r.Products++
		out = append(out, created)
	}
	return out, nil
}
