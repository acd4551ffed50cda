"""Styling: item vectors in; what the shop proposes out.

similar (find similar: nearest products, the item's category by its neighbours' vote) ->
looks (complete the look: one product per other outfit slot, with why; learned compatibility
from compat, curated looks, merchandising) -> shop (shop the look: every item of every person).
tagging names a product photo's category, colours and description.
"""
