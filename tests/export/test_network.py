"""``tddfa export``: ONNX Runtime and torch agree on real face crops (300W), batch 1 and 8, for every network."""
from __future__ import annotations

import json

import numpy as np
import pytest

ARCHS = ["mb1", "mb05", "mobilenet_v3", "resnet22"]


@pytest.fixture(scope="module")
def real_crops(shared_data):
    """Eight normalised 120x120 crops ``(8, 3, 120, 120)`` of 300W test faces, cut with the given landmarks."""
    import cv2

    from tddfa.geometry import crop_faces, normalize, roi_from_landmarks

    pack = shared_data / "300w"
    if not (pack / "annotations.npz").exists():
        pytest.skip("300W pack not found")
    ann = np.load(pack / "annotations.npz")
    idx = np.flatnonzero(ann["split"] == "test")[::50][:8]
    crops = []
    for i in idx:
        img = cv2.imread(str(pack / "images" / f"{ann['names'][i]}.jpg"))
        crops.append(crop_faces(img, roi_from_landmarks(ann["pts68"][i][None]))[0])
    return normalize(np.stack(crops))


def _calibrated(torch, arch: str, x: np.ndarray):
    """A random-init network made realistic: BN statistics estimated on real crops, head scaled to O(1) outputs
    (an untrained head outputs ~1e-9, which would make any agreement test vacuous)."""
    from tddfa.nets import create_model

    torch.manual_seed(0)
    m = create_model(arch)
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.reset_running_stats()
            mod.momentum = None  # cumulative average over the calibration pass
    t = torch.from_numpy(x)
    with torch.no_grad():
        m.train()(t)
        m.eval()
        y = m(t)
        head = m.conv_param if hasattr(m, "conv_param") else m.fc_param
        head.weight.mul_(1.0 / float(y.std()))
        if head.bias is not None:
            head.bias.mul_(1.0 / float(y.std()))
    return m.eval()


def _export_and_compare(tmp_path, arch, model, x):
    from tddfa.export.network import export_network, torch_outputs
    from tddfa.runtime.onnx import OnnxRegressor

    path, _ = export_network(arch, tmp_path / f"{arch}.onnx", model=model)
    reg = OnnxRegressor(path, threads=1)
    for batch in (1, 8):
        xb = x[:batch]
        want = torch_outputs(arch, model, xb)[0]
        got = reg(xb)
        assert got.shape == (batch, 62)
        assert np.abs(want).std() > 0.1  # outputs are not trivially near zero
        assert float(np.abs(got - want).max()) < 1e-4, (arch, batch)


def test_reference_mb05_onnx_matches_torch(torch_mod, reference_dir, real_crops, tmp_path):
    from tddfa.export.network import load_network

    model, _ = load_network("mb05", reference_dir / "mb05_120x120.pth")
    _export_and_compare(tmp_path, "mb05", model, real_crops)


@pytest.mark.parametrize("arch", ARCHS)
def test_random_init_onnx_matches_torch(torch_mod, real_crops, tmp_path, arch):
    _export_and_compare(tmp_path, arch, _calibrated(torch_mod, arch, real_crops), real_crops)


def test_cli_reference_export_loads_as_a_model(torch_mod, reference_dir, real_crops, tmp_path, capsys):
    """The sidecar JSON makes the exported file a model the registry and FaceAligner accept."""
    from tddfa.cli import main
    from tddfa.runtime.registry import resolve_regressor

    out = tmp_path / "mb05.onnx"
    assert main(["export", "--arch", "mb05", "--reference", str(reference_dir), "-o", str(out), "--check"]) == 0
    assert "max abs diff" in capsys.readouterr().out
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["arch"] == "mb05" and len(side["param_mean"]) == len(side["param_std"]) == 62
    spec = resolve_regressor(out)
    assert spec.onnx == out and spec.face_model.startswith("reference:")


def test_cli_errors_are_one_line(torch_mod, reference_dir, tmp_path, capsys):
    from tddfa.cli import main
    from tddfa.errors import InputError, ModelNotAvailableError

    out = str(tmp_path / "x.onnx")
    bad = InputError.exit_code
    assert main(["export", "--arch", "mb05", "-o", out]) == bad  # no weights given
    assert main(["export", "--arch", "mb1", "--weights", str(tmp_path / "none.pth"), "-o", out]) == bad
    assert main(["export", "--arch", "mb1", "--weights", str(reference_dir / "mb05_120x120.pth"), "-o", out]) == bad
    assert main(["export", "--arch", "mb1", "--reference", str(reference_dir), "-o", out]) \
        == ModelNotAvailableError.exit_code  # no mb1 there
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("tddfa: ") for line in err)
    assert "size mismatch" in err[2]


def test_our_checkpoint_config_becomes_the_sidecar(torch_mod, tmp_path):
    from tddfa.cli import main
    from tddfa.errors import InputError
    from tddfa.nets import create_model

    torch = torch_mod
    cfg = {"arch": "mobilenet_v3", "input_size": 120, "param_mean": list(np.arange(62.0)),
           "param_std": list(np.ones(62)), "face_model": "bfm"}
    torch.save({"config": cfg, "model": create_model("mobilenet_v3").state_dict()}, tmp_path / "ours.pth")
    out = tmp_path / "ours.onnx"
    assert main(["export", "--arch", "mobilenet_v3", "--weights", str(tmp_path / "ours.pth"), "-o", str(out)]) == 0
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["param_mean"] == cfg["param_mean"] and side["face_model"] == "bfm"
    assert main(["export", "--arch", "mb1", "--weights", str(tmp_path / "ours.pth"), "-o", str(out)]) \
        == InputError.exit_code


def test_faceboxes_export_any_size(torch_mod, reference_dir, shared_data, tmp_path):
    pytest.importorskip("tddfa.nets.faceboxes")
    import cv2

    from tddfa.export.network import export_network, load_network, torch_outputs
    from tddfa.runtime.onnx import make_session

    model, _ = load_network("faceboxes", reference_dir / "FaceBoxesProd.pth")
    path, _ = export_network("faceboxes", tmp_path / "fb.onnx", model=model)
    sess = make_session(path, threads=1)
    img = cv2.imread(str(next((shared_data / "300w" / "images").glob("*.jpg"))))
    for h, w in ((256, 256), (192, 320)):
        x = (cv2.resize(img, (w, h)) - np.float32([104, 117, 123])).astype(np.float32).transpose(2, 0, 1)[None]
        want = torch_outputs("faceboxes", model, np.ascontiguousarray(x))
        got = sess.run(None, {sess.get_inputs()[0].name: x})
        assert all(float(np.abs(a - b).max()) < 1e-4 for a, b in zip(want, got))
