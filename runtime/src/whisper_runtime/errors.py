"""Errors the runtime reports to its callers, each with an HTTP status and OpenAI error type."""

from __future__ import annotations


class RuntimeAPIError(Exception):
    status_code = 500
    error_type = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class InvalidRequestError(RuntimeAPIError):
    status_code = 400
    error_type = "invalid_request_error"


class InvalidAudioError(InvalidRequestError):
    code = "invalid_audio"


class AuthenticationError(RuntimeAPIError):
    status_code = 401
    error_type = "invalid_request_error"
    code = "invalid_api_key"


class NotFoundError(RuntimeAPIError):
    status_code = 404
    error_type = "invalid_request_error"
    code = "not_found"


class PayloadTooLargeError(RuntimeAPIError):
    status_code = 413
    error_type = "invalid_request_error"
    code = "file_too_large"


class OverloadedError(RuntimeAPIError):
    """The admission queue is full: the caller should retry after `retry_after` seconds."""

    status_code = 429
    error_type = "rate_limit_error"
    code = "queue_full"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotReadyError(RuntimeAPIError):
    status_code = 503
    error_type = "server_error"
    code = "model_not_ready"


def envelope(error: RuntimeAPIError) -> dict[str, dict[str, str | None]]:
    """OpenAI's error body."""
    return {
        "error": {
            "message": error.message,
            "type": error.error_type,
            "param": error.param,
            "code": error.code,
        }
    }


class FetchError(Exception):
    """The audio could not be read from its source (HTTP, file or S3)."""
