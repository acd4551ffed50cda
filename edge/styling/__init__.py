"""Styling: item vectors in; what the shop proposes out.

similar (find similar: nearest products, the item's category by its neighbours' vote and the
store's own category classifier) -> looks (complete the look: one product per other outfit slot,
with why; learned compatibility from compat (PMI words) and pairs (sentence vectors of names from
text), curated looks, merchandising) -> shop (shop the look: every item of every person).
tagging names a product photo's category, colours and description; outfits reads outfit files
(scoring input, training). The back office: backoffice tags a batch of new arrivals in the
catalogue's own taxonomy, as learned (ridge classifiers with calibrated confidence) from its
tagged products, namewords adds to each description what the catalogue's names say of similar
products, and review_sheet writes the page a merchandiser checks them on.
"""
