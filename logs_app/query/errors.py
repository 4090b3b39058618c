"""The one error the search language raises: a message and the 0-based character position it concerns."""

from __future__ import annotations


class QueryError(ValueError):
    def __init__(self, message: str, position: int, query: str = "") -> None:
        super().__init__(f"{message} (at position {position})")
        self.message = message
        self.position = position
        self.query = query

    def details(self) -> dict[str, object]:
        """The error's details for the API: the position and a caret line a UI can show under the input."""
        return {"position": self.position, "query": self.query,
                "caret": " " * self.position + "^" if self.query else ""}
