package rowcodec

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/geowatch/geowatch/monitor"
)

// ObservationReject describes an observation that failed validation, naming it by
// its id or, without one, by its index in the batch.
func ObservationReject(i int, o *monitor.Observation, err error) monitor.Reject {
	r := monitor.Reject{Record: "index " + strconv.Itoa(i), Err: err}
	if o.ID != "" {
		r.Record = fmt.Sprintf("id %q", monitor.EchoID(o.ID))
	}
	if fe, ok := errors.AsType[*monitor.FieldError](err); ok {
		r.Field, r.Err = fe.Field, fe.Err
	}
	r.Raw = fmt.Sprintf("id=%q time=%s lon=%v lat=%v kind=%q weight=%v title=%q properties=%s",
		o.ID, o.Time.Format(time.RFC3339Nano), o.Point.Lon(), o.Point.Lat(), o.Kind, o.Weight, o.Title, o.Properties)
	return r
}

// RejectReason is the reason column of r's rejects row: its error, or
// "rejected" when it has none.
func RejectReason(r monitor.Reject) string {
	if r.Err != nil {
		return r.Err.Error()
	}
	return "rejected"
}
