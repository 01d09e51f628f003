"""A protocol block parsed into its model that is written back as the file wrote it.

``endpoint_rules`` and ``schedule`` are typed (parsed once, when the protocol file is loaded),
yet ``oligotrial protocols show --json`` and ``protocols diff`` show the block the file holds: its
keys in the file's order, no default filled in. A :class:`WrittenBlock` keeps the mapping it was
validated from and dumps it (a copy); a copy with fields updated (``model_copy(update=...)``)
dumps its fields.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic_core.core_schema import ValidatorFunctionWrapHandler


class WrittenBlock(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    _written: dict[str, Any] | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_written(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        model = handler(data)
        if isinstance(data, dict) and isinstance(model, cls):
            model._written = copy.deepcopy(data)
        return model

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        out = super().model_copy(update=update, deep=deep)
        if update:
            out._written = None
        return out

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> Any:
        if self._written is not None:
            return copy.deepcopy(self._written)
        return handler(self)
