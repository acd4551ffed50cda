"""Vision: a BGR frame in; the people and items in it, and each item's vector and colours, out.

models (the shipped OpenVINO IR, hash-checked) -> detector (person, footwear boxes) -> pose
(landmarks, person mask) -> items (upper, lower, footwear per person, or the main garment) ->
embed (CNN + colour vector, colour names). `stages.Vision` builds them from the config.
Nothing here knows the catalogue.
"""
