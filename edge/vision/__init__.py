"""Vision: a BGR frame in; the people and items in it, and each item's vector and colours, out.

models (the shipped OpenVINO IR, hash-checked) -> detector (person, footwear boxes) -> pose
(landmarks, person mask) -> items (upper, lower, footwear per person, or the main garment) ->
embed (CNN + colour vector, colour names from colors, the backdrop told apart by saliency).
imageio reads photo files (a bad one named, a decompression bomb refused); cutout cuts a catalogue
photo from its backdrop (ISNet) before its colours are named. `stages.Vision` builds them from
the config. Nothing here knows the catalogue.
"""
