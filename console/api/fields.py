"""Serializer fields of the API: money and other exact decimals come and go as JSON strings; an upload is a file
part of a multipart body (`UploadField`).

A JSON number is a binary float to most clients (0.1 + 0.2 is 0.30000000000000004 in JavaScript), so an amount
sent as one may already have lost digits before the console reads it: `ExactDecimalField` refuses it (400 naming
the field) and takes the string as written: no rounding to its decimal places (more places than the field holds
is a 400, not a silent rounding), an exponent written out ("1E-2" is 0.01), negative zero read as zero, NaN and
Infinity refused.
"""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class ExactDecimalField(serializers.DecimalField):
    """DecimalField for money and tolerances: a JSON string in, the exact value out (see the module)."""

    default_error_messages = {
        "not_a_string": 'send the amount as a JSON string (e.g. "0.01"), not a JSON number: a number may have '
                        "lost digits on its way",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("coerce_to_string", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        value = super().to_internal_value(data)  # a finite decimal within max_digits and decimal_places
        return abs(value) if value.is_zero() else value

    def quantize(self, value):
        return value  # exact as written: validate_precision refused more places than the field holds


@extend_schema_field(OpenApiTypes.BINARY)
class UploadField(serializers.FileField):
    """A file sent in a multipart body: `type: string, format: binary` in the schema. drf-spectacular types a
    FileField `format: uri` (what it is in a response) unless every request component is split from its response
    one (COMPONENT_SPLIT_REQUEST), which would rename each request body's component."""
