"""Catalogue: product rows, images and vectors in; products and nearest products out.

products (the Product row and the SQLite schema) -> store (Catalog: one transaction per change,
reads, the FAISS index rebuilt from SQLite when stale) -> index (VectorIndex, its file format)
-> images (content-addressed files). importer turns a CSV into products (validated, row by row);
looks_csv reads curated looks; merch holds what a pin, ban or boost rule may be. Head-office deltas are applied by sync.ops through the same
Writer: the catalogue knows nothing of messages.
"""
