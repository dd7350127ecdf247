"""`tsssl train --modality image --method colorization | splitbrain`: short real runs from the
command line write every output, with the baselines next to the trained figures."""

import json

from tsssl.cli import main


def test_colorization_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "col"
    args = ["train", "--modality", "image", "--method", "colorization", "--max-steps", "6", "--batch-size", "64"]
    assert main([*args, "--out", str(out)]) == 0
    for name in ("checkpoint.pt", "config.toml", "metrics.json", "log.csv"):
        assert (out / name).is_file(), name
    m = json.loads((out / "metrics.json").read_text())
    assert (m["method"], m["steps"]) == ("colorization", 6) and "ab bins" in m["loss"]
    assert m["final_loss"] > 0 and m["first_logged_loss"] > 0  # that training lowers it: tests/methods
    for probe in ("which_photo_probes", "digit_probes"):
        assert set(m[probe]) >= {"trained", "random_encoder", "raw_pixels"}
        assert all(0.0 <= v <= 1.0 for v in m[probe]["trained"].values())
    assert m["which_photo_probes"]["majority"] == 0.5
    assert set(m["colour_cross_entropy"]) == {"trained", "random_init", "training_prior"}
    assert m["headline"]["trained"] == m["which_photo_probes"]["trained"]["linear_probe"]
    assert "which photograph" in capsys.readouterr().out
