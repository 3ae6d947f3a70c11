"""The two errors of the expression language: one for authors, one for runs.

:class:`ExpressionError` is raised (or returned by the static checks) while a
filter or mapping is *compiled or checked*, before any data moves. It points at
the column of the offending text. :class:`MappingError` is raised while a
compiled mapping *evaluates one record*; it names the output property and the
function, never the value, because values are personal data.
"""

from __future__ import annotations

__all__ = ["ExpressionError", "MappingError"]


class ExpressionError(ValueError):
    """A filter or mapping expression that cannot be compiled or does not fit a schema.

    Attributes:
        expression: the expression text the error refers to (for the structured
            filter form, the text of the offending property or operator).
        column: 1-based column of the first offending character in *expression*
            (counted in characters; for a multi-line expression, within its line).
        message: what is wrong, without position or context, e.g.
            ``"unknown function 'lowr'"``.
        subject: where the expression lives, e.g. ``'mapping for "email"'`` or
            ``"filter"``; empty when unknown.
        length: how many characters the caret line underlines (at least 1).
        hint: an optional last line such as ``"did you mean 'lower'?"``.
        line: 1-based line of the offending character; 1 for one-line expressions.

    ``str(error)`` renders the full report::

        mapping for "email": unknown function 'lowr' at column 1
          lowr(traits.email)
          ^^^^
        did you mean 'lower'?
    """

    expression: str
    column: int
    message: str
    subject: str
    length: int
    hint: str
    line: int

    def __init__(
        self,
        message: str,
        expression: str,
        offset: int,
        *,
        length: int = 1,
        subject: str = "",
        hint: str = "",
    ) -> None:
        # *offset* is the 0-based index into the whole expression text; the
        # public attributes are the human line/column derived from it.
        offset = max(0, min(offset, len(expression)))
        line_start = expression.rfind("\n", 0, offset) + 1
        self.expression = expression
        self.message = message
        self.subject = subject
        self.hint = hint
        self.line = expression.count("\n", 0, offset) + 1
        self.column = offset - line_start + 1
        self.length = max(1, length)
        super().__init__(self._render(line_start))

    def _render(self, line_start: int) -> str:
        line_end = self.expression.find("\n", line_start)
        text = self.expression[line_start : line_end if line_end >= 0 else None]
        where = f"at column {self.column}"
        if "\n" in self.expression:
            where = f"at line {self.line}, column {self.column}"
        head = f"{self.subject}: " if self.subject else ""
        # Never underline past the end of the shown line (plus one position
        # for "end of input" errors).
        length = max(1, min(self.length, len(text) - self.column + 1))
        lines = [
            f"{head}{self.message} {where}",
            f"  {text}",
            "  " + " " * (self.column - 1) + "^" * length,
        ]
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)

    def with_subject(self, subject: str) -> ExpressionError:
        """The same error attributed to *subject* (e.g. which mapping it came from)."""
        offset = (
            sum(len(line) + 1 for line in self.expression.split("\n")[: self.line - 1])
            + self.column
            - 1
        )
        return ExpressionError(
            self.message,
            self.expression,
            offset,
            length=self.length,
            subject=subject,
            hint=self.hint,
        )


class MappingError(ValueError):
    """A mapping failed to compute one output property for one record.

    The engine turns it into a per-record error; the run goes on. The message is
    a fixed text that never contains the record's values, so messages aggregate
    into metrics and never leak personal data.

    Attributes:
        output: the output property path whose expression failed, e.g. ``"age"``.
        function: the function or operator that failed, e.g. ``"to_int"`` or
            ``"/"``.
        message: the fixed reason, e.g. ``"the value is not an integer"``.
    """

    output: str
    function: str
    message: str

    def __init__(self, output: str, function: str, message: str) -> None:
        self.output = output
        self.function = function
        self.message = message
        super().__init__(f'mapping for "{output}": {function}: {message}')
