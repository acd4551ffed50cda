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


def bridges(catalog: str) -> str:
    """Every store bridge's word on a head-office broker: 1 on the one it is on, 0 on one it left
    (Mosquitto's bridge notifications: deploy/mosquitto/store-bridge.conf)."""
    return f"signage/{catalog}/+/bridge"


def seq_of(topic: str) -> int | None:
    tail = topic.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def screen_stats(catalog: str, store: str, screen: str) -> str:
    """One screen's aggregate counts for a window (QoS 1, not retained)."""
    return f"signage/{catalog}/{store}/screen/{screen}/stats"


def screen_counted(catalog: str, store: str, screen: str) -> str:
    """Head office's word to a screen that a window of its counts is stored (QoS 1, not retained):
    until it comes the screen sends the window again now and then."""
    return f"signage/{catalog}/{store}/screen/{screen}/counted"


def all_screen_stats(catalog: str) -> str:
    return f"signage/{catalog}/+/screen/+/stats"


# Head office's own topics (only the hq user may read or write signage/#: deploy/mosquitto/acl).
def held(catalog: str) -> str:
    """What a head-office broker holds of the publish log (retained; sync/hq.py HqBrokers)."""
    return f"signage/{catalog}/hq/held"


def ping(catalog: str) -> str:
    """A message head office sends itself: once it is back, every retained one before it came."""
    return f"signage/{catalog}/hq/ping"
