"""Tables of the API's domains."""

from cloud_api.models.enrollment_token import EnrollmentToken

__all__ = ["EnrollmentToken"]
