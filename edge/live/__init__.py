"""Live: frames from a camera, stream, video or folder in; what the screen should show out.

capture (one interface for every source) -> pipeline (capture and inference threads, a one-frame
slot: the newest frame is inferred, older ones dropped) -> recognizer (items found, tracked,
matched once steady, the look completed for the main one: a FrameResult; follow runs one model a
frame once people are found, tracking keeps each item's track) -> screen (a Panel of product
cards for the chosen mode). watch runs the same path with no window; engagement counts what the
screen showed and was tapped (aggregates only). No Qt here: the kiosk window only draws the Panel.
"""
