package geo_test

import (
	"fmt"

	"github.com/geowatch/geowatch/geo"
	"github.com/paulmach/orb"
)

func ExampleDistance() {
	vladivostok := orb.Point{131.8855, 43.1155} // lon, lat
	khasan := orb.Point{130.6400, 42.4300}
	fmt.Printf("%.0f km\n", geo.Distance(vladivostok, khasan)/1000)
	// Output: 127 km
}

func ExampleCircle_Bounds() {
	// A watch east of the antimeridian is covered by two plain boxes.
	c := geo.Circle{Center: orb.Point{179.9, 65}, RadiusMeters: 30000}
	for _, b := range c.Bounds() {
		fmt.Printf("lon %.2f..%.2f\n", b.Min.Lon(), b.Max.Lon())
	}
	// Output:
	// lon 179.26..180.00
	// lon -180.00..-179.46
}

func ExampleParseDistance() {
	m, err := geo.ParseDistance("50km")
	fmt.Println(m, err)
	// Output: 50000 <nil>
}
