"""Values as nested arrow columns (structs and lists), for the parquet and ``datasets`` exports.

Parquet cannot hold a struct without fields, so an empty object is written as null; a column
whose values mix types (a hand-edited record) falls back to JSON text. Read back, a struct holds
the union of every sample's fields, the ones a sample lacks as null: :func:`drop_nulls` takes
them out again.
"""

from __future__ import annotations

import json
from typing import Any


def _no_empty(value: Any) -> Any:
    """``{}`` as null, all the way down: parquet cannot hold a struct without fields."""
    if isinstance(value, dict):
        return {k: _no_empty(v) for k, v in value.items()} if value else None
    if isinstance(value, list):
        return [_no_empty(v) for v in value]
    return value


def _has_empty_struct(typ) -> bool:
    import pyarrow as pa

    if pa.types.is_struct(typ):
        return typ.num_fields == 0 or any(_has_empty_struct(typ.field(i).type) for i in range(typ.num_fields))
    if pa.types.is_list(typ) or pa.types.is_large_list(typ):
        return _has_empty_struct(typ.value_type)
    return False


def nested_array(values: list[Any]):
    """Values as nested arrow data (structs, lists), or as JSON text when they mix types; and
    whether they became JSON text."""
    import pyarrow as pa

    try:
        array = pa.array([_no_empty(v) for v in values])
        if pa.types.is_null(array.type):
            return pa.nulls(len(values), pa.string()), False
        if not _has_empty_struct(array.type):
            return array, False
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        pass
    return pa.array([None if v is None else json.dumps(v, ensure_ascii=False) for v in values], type=pa.string()), True


def drop_nulls(value: Any) -> Any:
    """A value read back from a struct column without the fields that were null."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value
