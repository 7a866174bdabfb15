package kybflow

// Reading events: plain encoding/json decodes an Event as DecodeEvent does,
// and typed accessors give its data without a type switch.

// UnmarshalJSON decodes e as DecodeEvent does, so that json.Unmarshal into
// an Event (or a struct or slice holding events) yields typed data
// (CompletedData, ...), never a map, and refuses what DecodeEvent refuses.
func (e *Event) UnmarshalJSON(b []byte) error {
	ev, err := DecodeEvent(b)
	if err != nil {
		return err
	}
	*e = ev
	return nil
}

// Accepted is e's data when e is an accepted event.
func (e Event) Accepted() (AcceptedData, bool) { return dataAs[AcceptedData](e) }

// SessionOpened is e's data when e is a session_opened event.
func (e Event) SessionOpened() (SessionOpenedData, bool) { return dataAs[SessionOpenedData](e) }

// Completed is e's data when e is a completed event.
func (e Event) Completed() (CompletedData, bool) { return dataAs[CompletedData](e) }

// Failed is e's data when e is a failed event.
func (e Event) Failed() (FailedData, bool) { return dataAs[FailedData](e) }

// Erased is e's data when e is an erased event.
func (e Event) Erased() (ErasedData, bool) { return dataAs[ErasedData](e) }

// dataAs is e.Data as T, also when it holds a *T.
func dataAs[T any](e Event) (T, bool) {
	switch d := e.Data.(type) {
	case T:
		return d, true
	case *T:
		if d != nil {
			return *d, true
		}
	}
	var zero T
	return zero, false
}
