package app

// The histogram's buckets follow the clock of the time zone the frontend
// names; Windows has no zoneinfo of its own for time.LoadLocation to read.
import _ "time/tzdata"
