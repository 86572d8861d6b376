"""Salesforce's error shapes.

REST errors are a JSON **list** ``[{"message", "errorCode", "fields"?}]`` (facts §4; simple-salesforce
re-logins by reading ``body[0]["errorCode"]``, so a non-list 401 crashes it, facts §1). Inside
sObject Collections results the per-record key is ``statusCode`` instead (facts §4).
[DOC: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm]
"""

from __future__ import annotations


class ApiError(Exception):
    """A whole request refused: rendered as ``status`` with a one-element error list."""

    def __init__(self, status: int, error_code: str, message: str, fields: list[str] | None = None):
        super().__init__(f"{status} {error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict]:
        item: dict = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            item["fields"] = self.fields
        return [item]


class RecordError(Exception):
    """One record refused (a bad value, a duplicate, an inactive owner ...)."""

    def __init__(self, status_code: str, message: str, fields: list[str] | None = None):
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message
        self.fields = list(fields or [])

    def as_result_error(self) -> dict:
        return {"statusCode": self.status_code, "message": self.message, "fields": self.fields}

    def as_api_error(self) -> ApiError:
        return ApiError(400, self.status_code, self.message, self.fields)


def invalid_session() -> ApiError:
    return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def not_found(message: str = "The requested resource does not exist") -> ApiError:
    return ApiError(404, "NOT_FOUND", message)


def request_limit_exceeded(message: str = "TotalRequests Limit exceeded.") -> ApiError:
    # The org's daily cap is a 403, not a 429 (facts §4).
    return ApiError(403, "REQUEST_LIMIT_EXCEEDED", message)


def json_parser_error(message: str) -> ApiError:
    return ApiError(400, "JSON_PARSER_ERROR", message)


ROLLED_BACK = RecordError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
)
