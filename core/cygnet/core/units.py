"""Sizes as people read them; used by the server's pages and the kernels' displays alike
(standard library only: kernel side too)."""


def human_size(count: float) -> str:
    """1536 -> '1.5 KiB'; bytes as a whole number, larger units with one decimal, up to GiB."""
    for unit in ("B", "KiB", "MiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"
