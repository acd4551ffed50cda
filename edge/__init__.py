"""Edge core: capture, models, catalogue store, index, recommendation. No Qt, no MQTT here."""
import sys

# OpenVINO's model-conversion code imports openvino_telemetry, which writes a client id under
# ~/intel and would send usage events to an analytics service. Nothing may leave a store's PC:
# make the import fail, so OpenVINO falls back to its own no-op stub (it handles ImportError).
if "openvino_telemetry" not in sys.modules:
    sys.modules["openvino_telemetry"] = None
