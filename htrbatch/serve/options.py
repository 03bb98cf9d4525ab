"""Options of ``htrbatch serve`` (no web imports here: the CLI reads its defaults from them)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from htrbatch.errors import OptionsError

TOKEN_ENV = "HTRBATCH_TOKEN"


@dataclass(frozen=True)
class ServeOptions:
    """How the server listens and what it accepts (``htrbatch serve`` options)."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_mb: float = 20.0  # the whole request body
    token: str | None = None  # required from clients when set; required to listen beyond loopback
    max_queue: int = 32  # requests in flight (uploading, waiting, being read); more get 503
    batch_window_ms: float = 20.0  # how long the recogniser waits for other requests' lines
    client_timeout_s: float = 30.0  # a client that sends nothing for this long gets 408
    max_files: int = 20  # files in one request
    max_pixels: int = 100_000_000  # all pages of one file together (decompression bombs)
    max_pages: int = 50  # pages in one file

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    def validate(self) -> None:
        if not is_loopback(self.host) and not self.token:
            raise OptionsError(
                f"--host {self.host}: listening beyond this machine needs a token "
                f"(--token or the {TOKEN_ENV} environment variable)"
            )
        if self.token is not None and len(self.token) < 8:
            raise OptionsError("--token: use at least 8 characters")
        if not 0 < self.port < 65536:
            raise OptionsError(f"--port {self.port}: expected 1-65535")
        for name in ("max_upload_mb", "max_queue", "client_timeout_s", "max_files", "max_pixels"):
            if not getattr(self, name) > 0:
                raise OptionsError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be > 0")
        if self.max_pages < 1:
            raise OptionsError(f"--max-pages {self.max_pages}: must be at least 1")
        if self.batch_window_ms < 0:
            raise OptionsError(f"--batch-window-ms {self.batch_window_ms}: must be 0 or more")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
