"""The pieces of bench/scale.py that decide its figures: the exact top 10 (the truth recall is
measured against) and the distractor mixture (it must look like the vectors it was fitted to)."""
import numpy as np

from bench.scale import Mixture, exact_top


def _unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_the_exact_top_10_across_chunks_equals_a_full_sort():
    rng = np.random.default_rng(0)
    db, q = _unit(rng.standard_normal((5000, 48))), _unit(rng.standard_normal((30, 48)))
    want = np.argsort(-(q @ db.T), axis=1)[:, :10]
    assert np.array_equal(exact_top(db, q, chunk=700), want)


def test_distractors_fall_where_the_real_vectors_are():
    """Fitted to vectors in 5 tight groups, draws are unit length, land in the same groups in the
    same proportions, and are no nearer to each other's group than the real ones are."""
    rng = np.random.default_rng(1)
    centres = _unit(rng.standard_normal((5, 64)))
    sizes = np.array([400, 300, 150, 100, 50])
    real = _unit(np.concatenate([c + 0.05 * rng.standard_normal((n, 64)) for c, n in zip(centres, sizes)]))
    mix = Mixture(real, clusters=5, axes=16)
    drawn = mix.draw(4000, chunk=1000)
    assert np.allclose(np.linalg.norm(drawn, axis=1), 1.0, atol=1e-5)
    group = np.argmax(drawn @ centres.T, axis=1)
    share = np.bincount(group, minlength=5) / len(drawn)
    assert np.allclose(share, sizes / sizes.sum(), atol=0.04), share
    real_sim = np.max(real @ centres.T, axis=1).mean()
    drawn_sim = np.max(drawn @ centres.T, axis=1).mean()
    assert abs(real_sim - drawn_sim) < 0.05, (real_sim, drawn_sim)
