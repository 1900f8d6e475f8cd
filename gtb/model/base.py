"""The base of every site-file model, and what an id may be."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)


class Model(BaseModel):
    """Base of every site-file model: unknown keys are errors, values are frozen, and a
    number must be finite: ``.nan`` and ``.inf`` are valid YAML floats, but a NaN passes
    every comparison as false (a bound, a clamp) and an infinity is no setting."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              allow_inf_nan=False)


Identifier = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        max_length=40,
        description="lower-case letters, digits, '-' and '_'; used in point keys and tags",
    ),
]
