"""One progress reporter for every long loop: downloads, training steps, theory sweeps.

On a terminal it is a tqdm bar; in a log file (not a terminal) it is quiet except for one plain
line every ``1/lines`` of the work (and the last one), so job logs stay short and greppable::

    pretrain: 120/469 steps (26%), 3.1 s elapsed, 9.0 s left

:meth:`Progress.log` prints a message without breaking the bar. Use it as a context manager
so the bar is closed (and its last line printed) even when the loop raises.
"""

from __future__ import annotations

import math
import sys
import time

from tqdm.auto import tqdm


class Progress:
    """Progress of ``total`` units (``None``: unknown) starting at ``start``, labelled ``label``.

    ``unit`` names what is counted ("step", "B" for bytes: then sizes are shown in kB/MB);
    ``lines``: how many plain lines a non-terminal stream gets over the whole run.
    """

    def __init__(self, label: str, total: int | None, *, start: int = 0, unit: str = "step",
                 stream=None, lines: int = 10):
        self.label, self.total, self.unit = label, total, unit
        self.done = start
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._t0 = time.perf_counter()
        self._start = start
        span = (total - start) if total is not None else None
        self._every = max(1, math.ceil(span / max(1, lines))) if span else None
        self._next = start + self._every if self._every else None
        self._printed = start
        self._bar = None
        if self.tty:
            self._bar = tqdm(total=total, initial=start, desc=label, unit=unit, file=self.stream, leave=False,
                             dynamic_ncols=True, unit_scale=unit == "B", unit_divisor=1000)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        """``n`` more units done."""
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._next is not None and self.done >= self._next:
            self._line()
            while self._next <= self.done:
                self._next += self._every

    def log(self, message: str) -> None:
        """Print ``label: message`` on its own line (above the bar on a terminal)."""
        line = f"{self.label}: {message}"
        if self._bar is not None:
            self._bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        """End the bar; a log gets the final count when it was not just printed."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.done != self._printed:
            self._line()

    def _amount(self, n: float) -> str:
        if self.unit == "B":
            return f"{n / 1e6:.1f} MB"
        return f"{n:g}"

    def _line(self) -> None:
        elapsed = time.perf_counter() - self._t0
        if self.total:
            pct = 100 * self.done / self.total
            rate = (self.done - self._start) / elapsed if elapsed > 0 else 0.0
            left = (self.total - self.done) / rate if rate > 0 else float("nan")
            unit = "" if self.unit == "B" else f" {self.unit}s"
            text = (f"{self._amount(self.done)}/{self._amount(self.total)}{unit} ({pct:.0f}%), "
                    f"{elapsed:.1f} s elapsed, {left:.1f} s left")
        else:
            text = f"{self._amount(self.done)}, {elapsed:.1f} s elapsed"
        print(f"{self.label}: {text}", file=self.stream, flush=True)
        self._printed = self.done
