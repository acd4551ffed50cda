"""Topic names (docs/sync.md). Every delta and image is published retained, so a store that is new
or was away longer than its session catches up from the broker alone."""

# The stream every store follows (products, images, looks, brand rules), beside each store's own,
# has its deltas at signage/{catalog}/shared/delta/{seq}: edge/ids.SHARED_STREAM stands where a
# store id would (and so is no store id).


def delta(catalog: str, store: str, seq: int) -> str:
    return f"signage/{catalog}/{store}/delta/{seq:010d}"


def deltas(catalog: str, store: str) -> str:
    return f"signage/{catalog}/{store}/delta/#"


def image(catalog: str, sha256: str) -> str:
    return f"signage/{catalog}/image/{sha256}"


def images(catalog: str) -> str:
    return f"signage/{catalog}/image/#"


def status(catalog: str, store: str, screen: str | None = None) -> str:
    """A store's status, or one screen's when a store runs several (each applies for itself)."""
    if screen:
        return f"signage/{catalog}/{store}/screen/{screen}/status"
    return f"signage/{catalog}/{store}/status"


def statuses(catalog: str) -> str:
    return f"signage/{catalog}/+/status"


def screen_statuses(catalog: str) -> str:
    return f"signage/{catalog}/+/screen/+/status"


def seq_of(topic: str) -> int | None:
    tail = topic.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def screen_stats(catalog: str, store: str, screen: str) -> str:
    """One screen's aggregate counts for a window (QoS 1, not retained)."""
    return f"signage/{catalog}/{store}/screen/{screen}/stats"


def all_screen_stats(catalog: str) -> str:
    return f"signage/{catalog}/+/screen/+/stats"
