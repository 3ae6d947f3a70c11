"""The error a validator raises for a value that does not match its schema."""

from __future__ import annotations

__all__ = ["ValidationError"]


class ValidationError(ValueError):
    """A value does not match the schema.

    Attributes:
        path: where the value is, as property names joined by ``.`` with
            ``[i]`` for array elements (``"address.city"``, ``"tags[2]"``);
            ``""`` for the record itself. Map values appear as ``map.key`` when
            the key is a valid property name, else as ``map.*``.
        rule: the rule the value broke: ``"type"``, ``"format"``, ``"required"``,
            ``"nullable"``, ``"unknown_property"``, ``"max_length"``,
            ``"max_bytes"``, ``"enum"``, ``"pattern"``, ``"range"``, ``"real"``,
            ``"precision"``, ``"min_elements"``, ``"max_elements"``, ``"unique"``,
            ``"depth"``.
        value_type: the Python type name of the offending value (``"str"``,
            ``"int"``, ...), or ``"missing"`` for an absent property.
        message: what is wrong, without the value itself.

    ``str(error)`` is ``property "<path>": <message> (got <value_type>)``. No
    part of the error ever contains the value, because values may be personal
    data; the message is fixed per schema rule, so errors aggregate well.
    """

    def __init__(self, path: str, rule: str, value_type: str, message: str) -> None:
        super().__init__(path, rule, value_type, message)
        self.path = path
        self.rule = rule
        self.value_type = value_type
        self.message = message

    def __str__(self) -> str:
        where = f'property "{self.path}"' if self.path else "record"
        return f"{where}: {self.message} (got {self.value_type})"
