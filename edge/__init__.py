"""Edge core: capture, models, catalogue store, index, recommendation. No Qt, no MQTT here."""
