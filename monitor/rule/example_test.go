package rule_test

import (
	"fmt"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/rule"
	"github.com/paulmach/orb"
)

func ExampleCount() {
	// Three or more fires within 25 km of Vladivostok in the last six hours.
	c, err := rule.NewCount(rule.CountParams{Min: 3, Window: 6 * time.Hour, Kinds: []string{"fire"}})
	if err != nil {
		panic(err)
	}
	w := &monitor.Watch{Name: "vladivostok", Center: orb.Point{131.8855, 43.1155}, RadiusMeters: 25e3}
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	obs := []monitor.Observation{
		{FID: 1, Kind: "fire", Time: now.Add(-5 * time.Hour), Point: orb.Point{131.90, 43.12}, Weight: 1},
		{FID: 2, Kind: "fire", Time: now.Add(-2 * time.Hour), Point: orb.Point{131.87, 43.10}, Weight: 1},
		{FID: 3, Kind: "flood", Time: now.Add(-time.Hour), Point: orb.Point{131.88, 43.11}, Weight: 1},
		{FID: 4, Kind: "fire", Time: now.Add(-7 * time.Hour), Point: orb.Point{131.88, 43.11}, Weight: 1},
		{FID: 5, Kind: "fire", Time: now.Add(-time.Hour), Point: orb.Point{131.89, 43.13}, Weight: 1},
	}
	for _, f := range c.Evaluate(monitor.NewInput(now, w, monitor.NamedRule{Rule: c}, obs)) {
		fmt.Printf("%d fires %v, from %s to %s\n", f.Count, f.FIDs, f.FirstSeen.Format(time.Kitchen), f.LastSeen.Format(time.Kitchen))
	}
	// Output:
	// 3 fires [1 2 5], from 7:00PM to 11:00PM
}

func ExampleCluster() {
	// Five or more reports within 2 km of each other, centred within 50 km of the
	// watch, in the last day.
	c, err := rule.NewCluster(rule.ClusterParams{EpsMeters: 2e3, MinPoints: 5, Window: 24 * time.Hour})
	if err != nil {
		panic(err)
	}
	w := &monitor.Watch{Name: "vladivostok", Center: orb.Point{131.8855, 43.1155}, RadiusMeters: 50e3}
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	var obs []monitor.Observation
	add := func(lon, lat float64) {
		obs = append(obs, monitor.Observation{FID: int64(len(obs) + 1), Time: now.Add(-time.Hour), Point: orb.Point{lon, lat}, Weight: 1})
	}
	for i := range 6 { // a tight group in the harbour, 0.8 km apart
		add(131.88+0.01*float64(i), 43.10)
	}
	for i := range 3 { // too few to the north
		add(131.90, 43.30+0.01*float64(i))
	}
	add(132.20, 43.00) // alone
	for _, f := range c.Evaluate(monitor.NewInput(now, w, monitor.NamedRule{Rule: c}, obs)) {
		fmt.Printf("cluster of %d at %.3f, %.3f: %v\n", f.Count, f.Center.Lat(), f.Center.Lon(), f.FIDs)
	}
	// Output:
	// cluster of 6 at 43.100, 131.905: [1 2 3 4 5 6]
}
