"""Marshmallow schemas of the HTTP API: they validate requests and generate the OpenAPI document."""
