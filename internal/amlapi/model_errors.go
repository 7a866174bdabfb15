package amlapi

// The error body of the AML API and its codes (model; see model.go).

// ErrorBody is the JSON body of every error answer of the AML API (model).
type ErrorBody struct {
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
	TraceID      string `json:"traceId"`
}

// Error codes in ErrorBody.ErrorCode (model). The client classifies by HTTP
// status, not by these, so unknown codes are harmless.
const (
	CodeInvalidIdentifier = "INVALID_IDENTIFIER"  // 400
	CodeInvalidExpand     = "INVALID_EXPAND"      // 400
	CodeInvalidRequest    = "INVALID_REQUEST"     // 400
	CodeUnauthorized      = "UNAUTHORIZED"        // 401
	CodeForbidden         = "MISSING_SCOPE"       // 403
	CodeNotFound          = "SESSION_NOT_FOUND"   // 404
	CodeNotReady          = "RESULT_NOT_READY"    // 409: content requested before READY
	CodeGone              = "RESULT_EXPIRED"      // 410
	CodeRateLimited       = "RATE_LIMITED"        // 429, with Retry-After
	CodeInternal          = "INTERNAL_ERROR"      // 500
	CodeUnavailable       = "SERVICE_UNAVAILABLE" // 503
)
