"""Edge core: everything that runs on the store PC except the window and the broker client.
No Qt, no MQTT here.

Rooms, in the data's way:
    vision/   frame -> people and items -> vectors and colour names
    catalog/  product rows, images, vectors -> SQLite + FAISS -> nearest products
    styling/  vectors -> matches (find similar) -> looks (complete the look, shop the look); tagging
    live/     camera/video/folder -> tracked results -> what the screen shows (cards)
and, shared by all: types (the typed values between stages), taxonomy (kinds, slots, categories),
ids (sku and id patterns), config (the one YAML file), errors, files (atomic writes), and
runtime (the one place that assembles them).
"""
import sys

# OpenVINO's model-conversion code imports openvino_telemetry, which writes a client id under
# ~/intel and would send usage events to an analytics service. Nothing may leave a store's PC:
# make the import fail, so OpenVINO falls back to its own no-op stub (it handles ImportError).
if "openvino_telemetry" not in sys.modules:
    sys.modules["openvino_telemetry"] = None
