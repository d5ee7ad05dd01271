import time


class Progress:
    """A one-line progress bar for management commands, redrawn at most a few times a second."""

    def __init__(self, stdout, total: int, label: str, width: int = 30):
        self.stdout, self.total, self.label, self.width = stdout, max(total, 1), label, width
        self.done = 0
        self._last_draw = 0.0
        self._started = time.monotonic()

    def advance(self, n: int = 1) -> None:
        self.done = min(self.done + n, self.total)
        now = time.monotonic()
        if now - self._last_draw >= 0.2 or self.done == self.total:
            self._last_draw = now
            self._draw()

    def _draw(self) -> None:
        filled = int(self.width * self.done / self.total)
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = time.monotonic() - self._started
        self.stdout.write(f"\r{self.label:<18} [{bar}] {self.done}/{self.total} ({elapsed:.1f}s)", ending="")
        if self.done == self.total:
            self.stdout.write("")
        self.stdout.flush()
