"""How a picture was painted, in words (web/painted.py): what the result panel and the gallery say
about a stored record."""

from __future__ import annotations

from web import painted


def test_a_record_is_told_by_its_blend_options_off_their_defaults_and_steers():
    record = {"style_blend": [0.25, 0.75],
              "params": {"preserve_colors": "histogram", "style_scale": 0.5, "style_weight": 1e4},
              "steers": [{"step": 41, "changes": {"style_weight": 3e5, "tv_weight": 30.0}},
                         {"step": 90, "changes": {"style_blend": [0.5, 0.5]}}]}
    assert painted.painting_text(record) == (
        "blend 25 % / 75 % · keep the photo's colours: histogram · brush scale 0.5")
    assert painted.steer_texts(record) == [
        "steered at step 41: style weight 3e5, total variation weight 30",
        "steered at step 90: blend 50 % / 50 %"]
    assert painted.short_text(record).endswith(" · brush scale 0.5 · steered 2×")


def test_one_painting_at_the_defaults_and_an_older_record_say_nothing_extra():
    defaults = {"style_blend": [1.0], "steers": [],
                "params": {"preserve_colors": "none", "style_scale": 1.0}}
    assert painted.painting_text(defaults) == "" and painted.short_text(defaults) == ""
    assert painted.described({"params": {}}) == []  # written before blends and steers


def test_numbers_keep_three_digits_and_write_large_weights_as_powers_of_ten():
    assert [painted.number(value) for value in (0, 0.035, 2.0, 3000, 1e4, 12345, 1e12)] == [
        "0", "0.035", "2", "3000", "1e4", "1.23e4", "1e12"]
