package domain

import (
	"errors"
	"math"
)

// Point is a position in decimal degrees (WGS 84).
type Point struct {
	Lat float64 `json:"lat"`
	Lng float64 `json:"lng"`
}

var (
	// ErrLatitude reports a latitude outside [-90, 90].
	ErrLatitude = errors.New("lat must be between -90 and 90")
	// ErrLongitude reports a longitude outside [-180, 180].
	ErrLongitude = errors.New("lng must be between -180 and 180")
	// ErrRadius reports a service radius that is not positive or larger
	// than any fresh-food delivery area.
	ErrRadius = errors.New("radius_km must be greater than 0 and at most 100")
)

// Validate checks that p is a position on Earth.
func (p Point) Validate() error {
	if math.IsNaN(p.Lat) || p.Lat < -90 || p.Lat > 90 {
		return ErrLatitude
	}
	if math.IsNaN(p.Lng) || p.Lng < -180 || p.Lng > 180 {
		return ErrLongitude
	}
	return nil
}

const earthRadiusKm = 6371.0088

// DistanceKm is the great-circle (haversine) distance between a and b.
func DistanceKm(a, b Point) float64 {
	rad := math.Pi / 180
	dLat := (b.Lat - a.Lat) * rad
	dLng := (b.Lng - a.Lng) * rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) +
		math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLng/2)*math.Sin(dLng/2)
	return 2 * earthRadiusKm * math.Asin(math.Min(1, math.Sqrt(h)))
}

// MaxRadiusKm is the largest service radius: fresh food travels no farther.
const MaxRadiusKm = 100

// ServiceArea is the disc a warehouse delivers to.
type ServiceArea struct {
	Center   Point
	RadiusKm float64
}

// Validate checks the centre and the radius.
func (s ServiceArea) Validate() error {
	if err := s.Center.Validate(); err != nil {
		return err
	}
	if !(s.RadiusKm > 0) || !(s.RadiusKm <= MaxRadiusKm) {
		return ErrRadius
	}
	return nil
}

// Serves reports whether an address lies within the area.
func (s ServiceArea) Serves(addr Point) bool {
	return DistanceKm(s.Center, addr) <= s.RadiusKm
}
