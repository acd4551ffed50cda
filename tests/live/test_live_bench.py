"""bench/live.py's report says what its own figures say (no fixed sentences)."""
from bench.docs import LIVE_TARGETS as TARGETS, live_markdown as markdown


def result(p95_one: float, p95_three: float, ratio: float, cold: float) -> dict:
    def e2e(p95):
        return {"camera30_result_ms": {"p95": p95}, "ratio_inferred_vs_naive": ratio, "naive_ms": {"p50": 2 * p95}}
    return {"machine": "test CPU", "ran_in": {"detector": "f32 avx2"}, "stages_p50_ms": {"detector": 9.5},
            "one person": e2e(p95_one), "three people": e2e(p95_three), "cold_start_s": cold,
            "first_start_s": cold + 1.5}


def test_verdicts_follow_the_figures_of_each_isa():
    res = {"native": result(30.0, 55.0, 3.0, 1.0), "avx2": result(121.0, 362.0, 1.8, 2.5)}
    text = "\n".join(markdown(res))
    row = next(line for line in text.splitlines() if line.startswith("| one person: frame -> result"))
    assert "30.0 (met)" in row and "121.0 (**missed**)" in row and f"<= {TARGETS['one_person_p95_ms']:g}" in row
    row = next(line for line in text.splitlines() if line.startswith("| cold start"))
    assert "1.0 (met)" in row and "2.5 (**missed**)" in row
    row = next(line for line in text.splitlines() if line.startswith("| first start with nothing compiled"))
    assert "| 2.5 | 4.0 |" in row
    assert "this CPU 3.0x (met), AVX2 only (emulated) 1.8x (**missed**)" in text
    assert "detector f32 avx2" in text
    assert markdown(None)[-2] == "not run"


def test_the_following_report_reads_its_differences_off_its_figures():
    from bench.docs import street_followed_markdown
    fig = {"people_found": 0.9, "false_people_per_photo": 0.1, "upper_recall": 0.8, "lower_recall": 0.7,
           "dress_recall": 0.4, "footwear_recall": 0.85}
    res = {"split": "report", "px_a_frame": 4, "frames_a_photo": 15, "frames_since_posed_mean": 0.6,
           "followed": {**fig, "photos": 28, "footwear_recall": 0.83}, "whole": {**fig, "photos": 28}}
    text = "\n".join(street_followed_markdown(res))
    assert "| footwear (a shoe or the pair), IoU >= 0.5 | 0.83 | 0.85 | -0.020 |  |" in text
    assert "| upper region, IoU >= 0.5 | 0.8 | 0.8 | +0.000 |  |" in text
    res["paired"] = {"footwear": {"difference": -0.0213, "half_width_95": 0.0101, "photos": 28, "photos_differing": 9}}
    text = "\n".join(street_followed_markdown(res))
    assert "| -0.020 | -0.0213 ± 0.0101 (9 of 28 photos differ) |" in text
    assert "| other people kept per frame | 0.1 | 0.1 | +0.000 |  |" in text
    assert street_followed_markdown(None)[-2] == "not run"
