"""OpenAPI: describe Theo's JWT authentication like simplejwt's own (Bearer token)."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class ApprovedJWTScheme(SimpleJWTScheme):
    target_class = "apps.users.authentication.ApprovedJWTAuthentication"
    name = "jwtAuth"
