"""The one exception a transcode raises, carrying the API-facing reason code."""

from __future__ import annotations

CODES = ("image_too_small", "image_too_large", "image_corrupt", "unsupported_format")


class TranscodeError(Exception):
    """A picture that can never be transcoded; `final` tells the pipeline not to retry it.

    Kept picklable (args round-trip) because it crosses the process-pool boundary.
    """

    def __init__(self, code: str, message: str, final: bool = True) -> None:
        super().__init__(code, message, final)
        self.code = code
        self.message = message
        self.final = final

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
